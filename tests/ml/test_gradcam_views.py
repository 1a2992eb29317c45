"""Grad-CAM averaged over shifted / mirrored views of the slice (the manifest's ``gradcam_views``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from classifier_fixtures import export_random_classifier, head_like


def test_each_view_is_moved_back_before_averaging() -> None:
    import torch

    from brainlens.ml.classifier_engine import CAM_VIEWS
    from brainlens.ml.gradcam import _undo_views, _views

    heat = np.zeros((64, 64), np.float32)
    heat[10:14, 40:44] = 1.0  # an off-centre blob: any view left shifted or mirrored would move it
    for name, views in CAM_VIEWS.items():
        seen = _views(torch.from_numpy(heat)[None, None], views)[:, 0].numpy()
        assert len(seen) == len(views)
        if name != "single":
            assert not np.array_equal(seen[-1], heat)
        np.testing.assert_allclose(_undo_views(seen, views), heat, atol=1e-6)


@pytest.mark.parametrize("views", ["single", "flip", "shift+flip"])
def test_manifest_views_give_a_map_on_the_image_grid(tmp_path: Path, views: str) -> None:
    from brainlens.ml.classifier_engine import load_classifier
    from brainlens.ml.gradcam import gradcam

    models = export_random_classifier(tmp_path, extra={"gradcam_views": views})
    clf = load_classifier("brainresnet", device="cpu", directory=models)
    image = head_like()
    heat, target = gradcam(image, clf)
    assert heat.shape == image.shape[:2]
    assert 0 <= target < 4
    assert heat.min() >= 0.0 and heat.max() <= 1.0


def test_unknown_views_in_the_manifest_are_refused(tmp_path: Path) -> None:
    from brainlens.core.errors import ModelError
    from brainlens.ml.classifier_engine import load_classifier

    models = export_random_classifier(tmp_path, extra={"gradcam_views": "kaleidoscope"})
    with pytest.raises(ModelError, match="gradcam_views"):
        load_classifier("brainresnet", device="cpu", directory=models)
