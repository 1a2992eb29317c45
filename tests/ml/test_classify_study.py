"""Study-level classification: the aggregation rule on synthetic slice results, segmentation-guided slice
choice, the rule fitting, and classify_study end to end on a phantom with a randomly initialised model."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from brainlens.ml.classifier_models import CLASS_NAMES
from brainlens.ml.classify_study import StudyRule, aggregate_segmented, aggregate_slices, tumour_slices

_spec = importlib.util.spec_from_file_location("classifier_fixtures", Path(__file__).parent / "classifier_fixtures.py")
fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixtures)

RULE = StudyRule(top_k=3, threshold=0.6, slope=12.0, entropy_threshold=0.5)
EMPTY = [0.01, 0.01, 0.97, 0.01]  # glioma, meningioma, notumor, pituitary
GLIOMA = [0.90, 0.05, 0.03, 0.02]
MENINGIOMA = [0.10, 0.85, 0.03, 0.02]


def _probs(*groups: tuple[list[float], int]) -> np.ndarray:
    return np.array([row for row, n in groups for _ in range(n)], np.float64)


def test_tumour_on_a_few_slices_wins_over_many_empty_ones() -> None:
    probs = _probs((EMPTY, 60), (GLIOMA, 4), (EMPTY, 60))
    v = aggregate_slices(probs, CLASS_NAMES, RULE)
    assert v.label == "glioma"
    assert v.probabilities["glioma"] > 0.9
    assert sum(v.probabilities.values()) == pytest.approx(1.0)
    assert sorted(v.driving) == [60, 61, 62]  # three of the four tumour slices (top_k = 3)


def test_only_empty_slices_and_empty_study_say_no_tumour() -> None:
    assert aggregate_slices(_probs((EMPTY, 120)), CLASS_NAMES, RULE).label == "notumor"
    empty = aggregate_slices(np.zeros((0, 4)), CLASS_NAMES, RULE)
    assert empty.label == "notumor" and empty.probabilities["notumor"] == 1.0 and empty.driving == []


def test_one_stray_tumour_like_slice_is_not_enough_with_top_k_3() -> None:
    v = aggregate_slices(_probs((EMPTY, 80), (GLIOMA, 1)), CLASS_NAMES, RULE)
    assert v.label == "notumor"


def test_window_rule_wants_adjacent_tumour_slices_not_scattered_strays() -> None:
    window = StudyRule(top_k=1, threshold=0.6, slope=12.0, entropy_threshold=0.5, window=3)
    run = _probs((EMPTY, 50), (GLIOMA, 3), (EMPTY, 50))
    scattered = _probs(*[g for _ in range(3) for g in ((EMPTY, 20), (GLIOMA, 1))], (EMPTY, 40))
    v = aggregate_slices(run, CLASS_NAMES, window)
    assert v.label == "glioma" and sorted(v.driving) == [50, 51, 52]
    assert aggregate_slices(scattered, CLASS_NAMES, window).label == "notumor"
    assert aggregate_slices(scattered, CLASS_NAMES, RULE).label == "glioma"  # top_k cannot tell them apart
    assert aggregate_slices(_probs((GLIOMA, 2)), CLASS_NAMES, window).label == "glioma"  # fewer slices than the window


def test_rule_round_trips_and_older_manifests_mean_top_k() -> None:
    rule = StudyRule(top_k=2, threshold=0.9, slope=20.0, entropy_threshold=0.4, window=3)
    assert StudyRule.from_dict(rule.to_dict()) == rule
    old = {"top_k": 2, "threshold": 0.9, "slope": 20.0, "entropy_threshold": 0.4}
    assert StudyRule.from_dict(old).window == 0


def test_tumour_type_follows_the_tumour_slices() -> None:
    v = aggregate_slices(_probs((EMPTY, 50), (MENINGIOMA, 3), (GLIOMA, 1)), CLASS_NAMES, RULE)
    assert v.label == "meningioma"


def test_segmentation_guided_choice_is_largest_area_first() -> None:
    areas = np.array([0, 10, 250, 0, 90, 400, 5, 0], float)
    assert tumour_slices(areas, n=3) == [5, 2, 4]
    assert tumour_slices(areas, n=10) == [5, 2, 4, 1, 6]  # never a slice without tumour
    assert tumour_slices(np.zeros(5)) == []
    v = aggregate_segmented(_probs((GLIOMA, 2), (MENINGIOMA, 1)), CLASS_NAMES)
    assert v.label == "glioma" and v.driving == [0, 1, 2]


def test_fit_rule_separates_tumour_bags_from_tumour_free_bags() -> None:
    from brainlens.training.classifier_study import Bag, fit_rule

    rng = np.random.default_rng(0)
    bags = []
    for i in range(12):
        noise = np.clip(rng.normal(0, 0.02, (40, 4)), 0, None)
        empty = _probs((EMPTY, 40)) + noise
        empty /= empty.sum(1, keepdims=True)
        bags.append(Bag(f"free {i}", "notumor", empty))
        bags.append(Bag(f"tumour {i}", "glioma", np.concatenate([empty[:30], _probs((GLIOMA, 2 + i % 3))])))
    rule, fit = fit_rule(bags)
    assert fit["balanced_accuracy"] == 1.0 and fit["label_accuracy"] == 1.0
    assert rule.top_k <= 2  # larger k would average in empty slices for the 2-slice tumours
    for b in bags:
        assert aggregate_slices(b.probs, CLASS_NAMES, rule).label == b.truth


def test_fit_rule_chooses_a_window_when_strays_are_scattered_and_tumours_adjacent() -> None:
    from brainlens.training.classifier_study import Bag, fit_rule

    bags = []
    for i in range(10):
        strays = [g for _ in range(2 + i % 2) for g in ((EMPTY, 12), (GLIOMA, 1))]
        bags.append(Bag(f"free {i}", "notumor", _probs(*strays, (EMPTY, 10))))
        bags.append(Bag(f"tumour {i}", "glioma", _probs((EMPTY, 20), (GLIOMA, 3 + i % 2), (EMPTY, 20))))
    rule, fit = fit_rule(bags)
    assert fit["balanced_accuracy"] == 1.0
    assert rule.window >= 2  # no top_k separates 3-4 adjacent tumour slices from 2-3 scattered strays


def test_synthetic_validation_bags_keep_their_tumour_images_adjacent() -> None:
    from brainlens.training.classifier_study import synthetic_val_bags

    nt = CLASS_NAMES.index("notumor")
    y = np.repeat(np.arange(4), 30)
    probs = np.eye(4)[y]
    for bag in synthetic_val_bags(probs, y, per_class=5, n_negative=3):
        tumour = np.nonzero(bag.probs[:, nt] < 0.5)[0]
        assert (bag.truth == "notumor") == (len(tumour) == 0)
        if len(tumour):
            assert 2 <= len(tumour) <= 3 and np.all(np.diff(tumour) == 1)


@pytest.fixture(scope="module")
def study_models(tmp_path_factory) -> Path:
    return fixtures.export_random_classifier(tmp_path_factory.mktemp("models"), arch="efflite0",
                                             extra={"study_rule": RULE.to_dict()})


def test_classify_study_end_to_end_with_segmentation(study_models) -> None:
    import torch

    from brainlens.core.geometry import to_canonical
    from brainlens.core.phantom import make_head_phantom_with_labels
    from brainlens.ml.classifier_engine import load_classifier
    from brainlens.ml.classify_study import SEGMENTED_SLICES, classify_study

    torch.set_num_threads(1)
    study, labels = make_head_phantom_with_labels(shape=(48, 56, 40), spacing_mm=3.0)
    vol = study.by_sequence()["t1ce"]
    clf = load_classifier(directory=study_models, device="cpu")
    assert clf.name == "efflite0"  # the default when bundled
    seen = []
    plain = classify_study(vol, model=clf, progress=lambda f, m: seen.append(f))
    assert plain.method == "all slices" and seen and seen[-1] == pytest.approx(1.0)
    assert plain.label in CLASS_NAMES and plain.confidence == pytest.approx(plain.probabilities[plain.label])
    assert plain.n_slices == 40 and 0 < len(plain.slices) <= 40
    guided = classify_study(vol, segmentation=labels, model=clf)
    areas = (to_canonical(labels)[0].data > 0).sum(axis=(0, 1))
    expected = [int(k) for k in np.argsort(-areas, kind="mergesort")[:SEGMENTED_SLICES] if areas[k] > 0]
    assert guided.method == "segmentation" and guided.driving_slices == expected
    assert sorted(s.index for s in guided.slices) == sorted(expected)
    empty = classify_study(vol, segmentation=np.zeros(vol.shape, np.uint8), model=clf)
    assert empty.method == "all slices" and any("segmentation is empty" in n for n in empty.notes)


def test_model_without_study_rule_is_refused(tmp_path) -> None:
    from brainlens.core.errors import ModelError
    from brainlens.core.phantom import make_head_phantom
    from brainlens.ml.classifier_engine import load_classifier
    from brainlens.ml.classify_study import classify_study

    clf = load_classifier("brainresnet", directory=fixtures.export_random_classifier(tmp_path), device="cpu")
    vol = make_head_phantom(shape=(32, 32, 16), spacing_mm=4.0).by_sequence()["t1"]
    with pytest.raises(ModelError, match="study-level rule"):
        classify_study(vol, model=clf)


def test_mirrored_healthy_head_has_no_lesion_and_none_when_it_crosses_the_midline() -> None:
    from brainlens.training.classifier_study import mirrored_head

    data = np.zeros((40, 36, 12), np.float32)
    data[4:36, 4:32] = 100.0  # a head, centred at x = 20
    mask = np.zeros(data.shape, np.uint8)
    mask[6:14, 10:20, 3:8] = 1  # lesion on the low-x side
    data[mask > 0] = 500.0
    head = mirrored_head(data, mask, pixel_mm=1.0)
    assert head is not None and head.shape[1:] == data.shape[1:]
    assert head.max() < 200.0  # the lesion's brightness is gone
    assert (head > 50).mean() > 0.5 * (data > 50).mean()  # still a head
    mask[6:34, 10:20, 3:8] = 1  # now it reaches well across the middle (beyond the 8 mm the plane may move)
    assert mirrored_head(data, mask, pixel_mm=1.0) is None


def test_grad_cam_setting_is_the_best_pointer_that_fits_the_time_budget() -> None:
    from brainlens.training.classifier_study import CAM_SETTINGS, pick_cam_setting

    single, flip, four = (-1, "single"), (-1, "flip"), (-1, "shift+flip")
    rates = {s: 0.5 for s in CAM_SETTINGS} | {single: 0.80, flip: 0.90, four: 0.95}
    cost = {s: 20.0 for s in CAM_SETTINGS} | {flip: 40.0, four: 80.0}
    assert pick_cam_setting(rates, cost, budget_ms=100.0) == four
    assert pick_cam_setting(rates, cost, budget_ms=60.0) == flip  # four views are over the budget
    assert pick_cam_setting(rates, {s: 500.0 for s in CAM_SETTINGS}, budget_ms=60.0) == CAM_SETTINGS[0]
