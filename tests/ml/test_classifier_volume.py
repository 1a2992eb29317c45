"""Whole-volume mode on the synthetic head phantom (random weights: checks the mechanics, not accuracy)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from classifier_fixtures import export_random_classifier

from brainlens.core.errors import Cancelled, InputError
from brainlens.core.geometry import extract_slice, to_canonical
from brainlens.core.phantom import make_head_phantom
from brainlens.core.volume import Volume
from brainlens.ml.classifier_engine import load_classifier
from brainlens.ml.classify import ClassificationResult
from brainlens.ml.classify_volume import classify_volume, display_slice, signal_mask, summarise, to_canonical_slice
from brainlens.ml.gradcam import gradcam


@pytest.fixture(scope="module")
def clf(tmp_path_factory):
    torch.set_num_threads(1)
    return load_classifier("brainresnet", device="cpu",
                           directory=export_random_classifier(tmp_path_factory.mktemp("models")))


@pytest.fixture(scope="module")
def volume():
    vol = make_head_phantom(shape=(48, 56, 40), spacing_mm=3.5).by_sequence()["t1ce"]
    return Volume(np.pad(vol.data, 3), vol.affine, vol.name, vol.sequence)  # empty slices around the head


@pytest.mark.parametrize("plane", ["axial", "coronal", "sagittal"])
def test_every_plane_classifies_slices_with_signal(clf, volume, plane) -> None:
    seen = []
    out = classify_volume(volume, plane=plane, batch=16, model=clf, mc_samples=0, tta=False,
                          progress=lambda f, m: seen.append(f))
    canonical = to_canonical(volume)[0].data
    axis = {"axial": 2, "coronal": 1, "sagittal": 0}[plane]
    assert len(out.slices) == canonical.shape[axis]
    classified = [s for s in out.slices if s.result is not None]
    assert classified and all(s.has_signal for s in classified)
    assert any(not s.has_signal for s in out.slices)  # the padding slices are skipped
    assert seen and seen[-1] == pytest.approx(1.0)
    assert out.label in ("glioma", "meningioma", "notumor", "pituitary")
    assert set(out.driving_slices) <= {s.index for s in classified}


def test_cancel_raises(clf, volume) -> None:
    with pytest.raises(Cancelled):
        classify_volume(volume, plane="axial", batch=4, cancel=lambda: True, model=clf)
    with pytest.raises(InputError):
        classify_volume(volume, plane="oblique", model=clf)


def test_display_orientation_round_trip_and_gradcam_on_a_slice(clf, volume) -> None:
    canonical = to_canonical(volume)[0].data
    k = canonical.shape[2] // 2
    disp = display_slice(canonical, "axial", k)
    np.testing.assert_array_equal(to_canonical_slice(disp), extract_slice(canonical, "axial", k))
    for plane in ("coronal", "sagittal"):
        sl = display_slice(canonical, plane, canonical.shape[0] // 2)
        heat, _ = gradcam(sl, clf)
        assert heat.shape == sl.shape
    assert signal_mask(np.zeros((4, 4, 4)), "axial").tolist() == [False] * 4


def _res(label: str, p: float, ood: bool = False) -> ClassificationResult:
    rest = (1 - p) / 3
    probs = {k: (p if k == label else rest) for k in ("glioma", "meningioma", "notumor", "pituitary")}
    return ClassificationResult(label, probs, p, 0.5, 0.0, False, ood, 0.0, "test")


def test_summary_rule_needs_several_tumour_slices() -> None:
    labels = ("glioma", "meningioma", "notumor", "pituitary")
    mostly_normal = [_res("notumor", 0.9)] * 20 + [_res("glioma", 0.8)] * 4 + [None] * 3
    label, mean, driving, counts = summarise(mostly_normal, labels)
    assert label == "glioma" and counts["glioma"] == 4
    assert driving[:4] == [20, 21, 22, 23]
    assert summarise([_res("notumor", 0.9)] * 20 + [_res("glioma", 0.8)] * 2, labels)[0] == "notumor"
    assert summarise([_res("glioma", 0.9, ood=True)] * 5, labels)[0] == "unknown"
