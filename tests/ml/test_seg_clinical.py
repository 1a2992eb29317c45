"""Segmenter for clinical studies: partial-label loss, skull stripping, the "no tumour detected" outcome."""

from __future__ import annotations

import numpy as np
import pytest

from brainlens.core.phantom import TISSUES, make_head_phantom, phantom_tissue_classes
from brainlens.core.volume import Volume
from brainlens.ml.seg_detection import DetectionRule, disagreement, keep_components

torch = pytest.importorskip("torch")

_BRAIN = [k for k, v in TISSUES.items() if v in ("grey matter", "white matter", "oedema", "necrosis",
                                                   "enhancing rim")]
_SCALP = [k for k, v in TISSUES.items() if v == "scalp fat"]


def test_partial_label_loss_ignores_unlabelled_regions() -> None:
    from brainlens.training.seg_loss import partial_dice_bce

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 8, 8, 8, generator=g)
    target = (torch.rand(2, 3, 8, 8, 8, generator=g) > 0.7).float()
    known = torch.tensor([[True, True, True], [True, False, False]])
    base = partial_dice_bce(logits, target, known)
    changed = target.clone()
    changed[1, 1:] = 1 - changed[1, 1:]  # flip the clinical sample's TC / ET targets: they are unlabelled
    assert torch.allclose(partial_dice_bce(logits, changed, known), base)
    changed_known = target.clone()
    changed_known[1, 0] = 1 - changed_known[1, 0]  # its whole tumour is labelled: the loss must move
    assert not torch.allclose(partial_dice_bce(logits, changed_known, known), base)
    # Gradients flow only into labelled channels of the clinical sample.
    logits.requires_grad_(True)
    partial_dice_bce(logits, target, known).backward()
    assert logits.grad[1, 1:].abs().sum() == 0 and logits.grad[1, 0].abs().sum() > 0


def test_faint_and_small_components_are_dropped_and_none_left_means_no_tumour() -> None:
    prob = np.zeros((40, 40, 40), np.float32)
    prob[5:20, 5:20, 5:20] = 0.95  # 3.4 ml, confident
    prob[30:34, 30:34, 30:34] = 0.55  # 0.064 ml, faint
    labels = (prob > 0.5).astype(np.uint8) * 2
    rule = DetectionRule(min_component_ml=0.5, min_mean_probability=0.7)
    kept, stats = keep_components(labels, prob, 0.001, rule)
    assert kept[10, 10, 10] == 2 and kept[31, 31, 31] == 0
    assert [s["kept"] for s in sorted(stats, key=lambda s: -s["volume_ml"])] == [True, False]
    healthy = prob.copy()
    healthy[5:20, 5:20, 5:20] = 0.6  # large but faint: what a healthy head's false positive looks like
    kept, stats = keep_components((healthy > 0.5).astype(np.uint8), healthy, 0.001, rule)
    assert not kept.any() and len(stats) == 2


def test_detection_rule_from_the_manifest_is_range_checked() -> None:
    from brainlens.core.errors import ModelError

    rule = DetectionRule.from_extra({"detection": {"min_component_ml": 1.5, "min_mean_probability": 0.7,
                                                   "max_disagreement": 0.4}})
    assert rule == DetectionRule(1.5, 0.7, 0.4)
    assert DetectionRule.from_extra({}) == DetectionRule()
    for bad in ({"min_mean_probability": "high"}, {"min_component_ml": -1}, {"max_disagreement": float("nan")},
                {"min_mean_probability": True}):
        with pytest.raises(ModelError):
            DetectionRule.from_extra({"detection": bad})


def test_without_t1c_enhancing_tumour_is_folded_into_the_core() -> None:
    from brainlens.ml.segment import fold_enhancing_into_core

    labels = np.array([0, 1, 2, 4, 4], np.uint8)
    out = fold_enhancing_into_core(labels)
    assert out.tolist() == [0, 1, 2, 1, 1] and out.dtype == np.uint8
    assert labels.tolist() == [0, 1, 2, 4, 4], "the input is not changed"


def test_sample_disagreement_is_zero_when_samples_agree_and_grows_when_they_do_not() -> None:
    a = np.zeros((10, 10, 10), bool)
    a[2:6, 2:6, 2:6] = True
    b = np.roll(a, 3, axis=0)
    assert disagreement([a, a, a]) == 0.0
    assert 0.5 < disagreement([a, b]) <= 1.0
    assert disagreement([np.zeros_like(a)] * 2) == 0.0


@pytest.fixture(scope="module")
def extractor():
    from brainlens.training.seg_data import extractor_from_manifest

    return extractor_from_manifest()


def _thick(vol: Volume, step: int) -> Volume:
    """Every ``step``-th axial slice (z voxels ``step`` times thicker): a clinical-style acquisition."""
    affine = vol.affine.copy()
    affine[:3, 2] *= step
    return Volume(np.ascontiguousarray(vol.data[:, :, ::step]), affine, vol.name, vol.sequence, dict(vol.metadata))


@pytest.mark.parametrize("orientation,step,max_scalp", [("RAS", 1, 0.02), ("LPS", 3, 0.06)])
def test_brain_extraction_keeps_the_brain_and_drops_the_scalp(extractor, orientation, step, max_scalp) -> None:
    """The phantom with a skull at 2 mm, and the same head with 6 mm slices (whose partial-volume
    slices at the top and bottom of the brain blur into the scalp: a looser bound)."""
    from brainlens.ml.seg_preprocess import network_grid, resample
    from brainlens.ml.skull_strip import already_stripped, find_brain

    shape, spacing = (80, 96, 84), 2.0
    study = make_head_phantom(shape=shape, spacing_mm=spacing, orientation=orientation)
    flair = next(v for v in study.series if v.sequence == "flair")
    tissue = phantom_tissue_classes(shape=shape, spacing_mm=spacing, orientation=orientation)
    flair, tissue = _thick(flair, step), _thick(tissue, step)
    affine, grid = network_grid(flair, 2.0)
    image = resample(flair.data, flair.affine, affine, grid)
    truth = resample(tissue.data, tissue.affine, affine, grid, order=0).astype(np.uint8)
    assert not already_stripped(image, 2.0)
    mask, method = find_brain(image, 2.0, extractor)
    assert method == "deepbet brain extraction"
    brain, scalp = np.isin(truth, _BRAIN), np.isin(truth, _SCALP)
    assert mask[brain].mean() > 0.9, "brain kept"
    assert mask[scalp].mean() < max_scalp, "scalp dropped"


def test_a_stripped_volume_keeps_its_own_foreground(extractor) -> None:
    from brainlens.ml.skull_strip import already_stripped, find_brain

    tissue = phantom_tissue_classes(shape=(64, 72, 64), spacing_mm=2.0).data
    image = np.where(np.isin(tissue, _BRAIN), 100.0 + tissue * 50.0, 0.0).astype(np.float32)
    assert already_stripped(image, 2.0)
    mask, method = find_brain(image, 2.0, extractor)
    assert method.startswith("already skull-stripped")
    assert mask[image > 0].mean() > 0.99 and not mask[tissue == _SCALP[0]].any()


def test_no_component_passing_the_rule_is_reported_as_no_tumour_detected(tmp_path) -> None:
    """The whole "no tumour detected" path of segment() on a tumour-free phantom head with a skull: a network
    written through the real registry with a detection rule in its manifest row that no component passes.
    (Whether the bundled model passes healthy heads is measured by the evaluation script, in the card.)"""
    from brainlens.core.phantom import make_head_phantom_with_labels
    from brainlens.io.writers import measurements_csv
    from brainlens.ml.registry import get_entry, write_weights
    from brainlens.ml.seg_model import CHANNELS, MODEL_NAME, PATCH, REGIONS, build_model
    from brainlens.ml.segment import NO_TUMOUR, segment

    torch.manual_seed(0)
    bundled = get_entry(MODEL_NAME).extra
    write_weights(build_model().state_dict(), MODEL_NAME, "test", "segmenter",
                  {"spacing_mm": [2, 2, 2], "channels": list(CHANNELS), "patch": list(PATCH)}, list(REGIONS),
                  {"init_filters": 8, "dropout": 0.1, "brain_extraction": bundled["brain_extraction"],
                   "detection": {"min_component_ml": 1000.0, "min_mean_probability": 1.0, "max_disagreement": 1.0}},
                  directory=tmp_path)
    study, labels = make_head_phantom_with_labels(shape=(64, 76, 64), spacing_mm=2.5, lesion=False)
    assert not labels.data.any()
    flair = next(v for v in study.series if v.sequence == "flair")
    result = segment({"flair": flair}, samples=2, device="cpu", model_dir=tmp_path)
    assert result.finding == NO_TUMOUR and not result.tumour_detected
    assert not result.mask.data.any() and result.mask.shape == flair.shape
    assert all(not c["kept"] for c in result.components)
    doc = result.to_json()
    assert doc["finding"] == NO_TUMOUR and doc["tumour_detected"] is False
    assert doc["regions"]["whole_tumor"]["volume_ml"] == 0
    assert f"study,finding,{NO_TUMOUR}," in measurements_csv(doc)
    assert result.brain_extraction == "deepbet brain extraction"
