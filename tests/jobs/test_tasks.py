"""Loading/demo job functions (no Qt needed): display preparation, label series become layers."""

from pathlib import Path

import numpy as np
import pytest

from brainlens.core.errors import Cancelled, LoadError
from brainlens.core.volume import Study, Volume
from brainlens.jobs.tasks import DEMO_HEATMAP_LAYER, DEMO_LABEL_LAYER, demo_study, prepare_study


def no_progress(fraction, message):
    assert 0.0 <= fraction <= 1.0


def test_demo_study_has_phantom_and_two_overlays():
    loaded = demo_study(no_progress, lambda: False, shape=(40, 48, 40), spacing_mm=4.0)
    assert len(loaded.displays) == 4
    assert loaded.displays[loaded.initial].source.sequence == "flair"
    names = [spec.name for spec in loaded.layers]
    assert names == [DEMO_LABEL_LAYER, DEMO_HEATMAP_LAYER]
    heat = loaded.layers[1]
    assert heat.display["visible"] is False
    lesion = loaded.layers[0].data > 0
    assert heat.data[lesion].min() == pytest.approx(1.0) and heat.data[~lesion].max() < 1.0


def test_label_series_in_a_study_become_layers():
    aff = np.eye(4)
    img = Volume(np.random.default_rng(0).random((8, 8, 8)), aff, "flair", "flair")
    seg = Volume(np.zeros((8, 8, 8), np.uint8), aff, "seg", None, {"is_label": True})
    other = Volume(np.zeros((4, 4, 4), np.uint8), aff, "seg2", None, {"is_label": True})
    loaded = prepare_study(Study([img, seg, other], source=Path("x")), no_progress, lambda: False)
    assert len(loaded.displays) == 1
    assert [s.name for s in loaded.layers] == ["seg (from file)"]
    assert any("another grid" in w for w in loaded.study.warnings)


def test_only_labels_is_a_load_error_and_cancel_is_honoured():
    seg = Volume(np.zeros((4, 4, 4), np.uint8), np.eye(4), "seg", None, {"is_label": True})
    with pytest.raises(LoadError):
        prepare_study(Study([seg], Path("s")), no_progress, lambda: False)
    img = Volume(np.zeros((4, 4, 4)), np.eye(4), "a", "t1")
    with pytest.raises(Cancelled):
        prepare_study(Study([img], Path("s")), no_progress, lambda: True)


def test_oblique_series_gets_a_display_note():
    theta = np.radians(20)
    rot = np.array([[np.cos(theta), -np.sin(theta), 0, 0], [np.sin(theta), np.cos(theta), 0, 0],
                    [0, 0, 1, 0], [0, 0, 0, 1.0]])
    vol = Volume(np.ones((6, 6, 6)), rot, "tilted", "t1")
    straight = Volume(np.ones((6, 6, 6)), np.eye(4), "straight", "t2")
    prepare_study(Study([vol, straight], Path("s")), no_progress, lambda: False)
    assert any("oblique by 20 deg" in w for w in vol.warnings)
    assert straight.warnings == []
