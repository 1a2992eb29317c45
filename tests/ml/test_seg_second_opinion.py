"""The classifier's second opinion on segmented components (ml.seg_verify): the manifest limit, which
components it drops, which sequences it looks at, and how the evaluation chooses the limit."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from brainlens.core.errors import ModelError
from brainlens.ml.seg_detection import DetectionRule, component_labels, keep_components

_spec = importlib.util.spec_from_file_location("classifier_fixtures", Path(__file__).parent / "classifier_fixtures.py")
fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixtures)

STUDY_RULE = {"top_k": 3, "threshold": 0.6, "slope": 12.0, "entropy_threshold": 0.5}


def test_the_manifest_limit_is_read_and_range_checked() -> None:
    rule = DetectionRule.from_extra({"detection": {"max_classifier_notumor": 0.8}})
    assert rule.max_classifier_notumor == 0.8 and rule.asks_classifier
    assert not DetectionRule.from_extra({}).asks_classifier  # older bundles: the classifier is not asked
    with pytest.raises(ModelError):
        DetectionRule.from_extra({"detection": {"max_classifier_notumor": 1.5}})


@pytest.fixture(scope="module")
def head_and_classifier(tmp_path_factory):
    from brainlens.core.phantom import make_head_phantom_with_labels
    from brainlens.ml.classifier_engine import load_classifier

    study, labels = make_head_phantom_with_labels(shape=(48, 56, 40), spacing_mm=4.0)
    models = fixtures.export_random_classifier(tmp_path_factory.mktemp("models"), arch="brainresnet",
                                               extra={"study_rule": STUDY_RULE})
    clf = load_classifier("brainresnet", device="cpu", directory=models)
    wt = np.zeros(labels.shape, np.float32)
    wt[np.asarray(labels.data) > 0] = 0.9  # the phantom's lesion
    wt[5:9, 5:9, 5:9] = 0.9  # and a second, separate component
    return study.by_sequence(), wt, clf


def _stats(wt: np.ndarray) -> tuple[np.ndarray, list[dict]]:
    labels = (wt > 0.5).astype(np.uint8) * 2
    return keep_components(labels, wt, 0.064, DetectionRule(0.0, 0.0))


def test_components_the_classifier_rejects_are_dropped_and_the_rest_kept(head_and_classifier) -> None:
    from brainlens.ml.seg_verify import verify_components

    volumes, wt, clf = head_and_classifier
    labels, stats = _stats(wt)
    assert len(stats) == 2 and all(s["kept"] for s in stats)
    kept = verify_components(labels, wt, stats, volumes, "flair", clf, DetectionRule(max_classifier_notumor=1.0))
    assert np.array_equal(kept, labels)  # limit 1.0: asked, nothing dropped
    assert all(0.0 <= s["classifier_notumor"] <= 1.0 and not s["vetoed_by_classifier"] for s in stats)
    limit = float(np.mean([s["classifier_notumor"] for s in stats]))
    labels, stats = _stats(wt)
    out = verify_components(labels, wt, stats, volumes, "flair", clf, DetectionRule(max_classifier_notumor=limit))
    comp, _ = component_labels(wt)
    for i, s in enumerate(stats, start=1):
        member = comp == i
        assert s["vetoed_by_classifier"] == (s["classifier_notumor"] > limit)
        assert s["kept"] == (not s["vetoed_by_classifier"])
        assert (out[member] > 0).all() if s["kept"] else not out[member].any()


def test_a_kept_component_the_classifier_labels_no_tumour_is_doubted_not_dropped(head_and_classifier) -> None:
    from brainlens.ml.seg_verify import doubt_warning, verify_components

    volumes, wt, clf = head_and_classifier
    labels, stats = _stats(wt)
    out = verify_components(labels, wt, stats, volumes, "flair", clf, DetectionRule(max_classifier_notumor=1.0))
    assert np.array_equal(out, labels)  # a doubt never removes anything
    for s in stats:
        assert s["doubted_by_classifier"] == (s["classifier_label"] == "notumor")
    tumour = {"kept": True, "volume_ml": 30.0, "classifier_notumor": 0.01, "classifier_label": "glioma",
              "doubted_by_classifier": False}
    doubted = {"kept": True, "volume_ml": 25.03, "classifier_notumor": 0.57, "classifier_label": "notumor",
               "doubted_by_classifier": True}
    dropped = {"kept": False, "volume_ml": 2.0, "classifier_notumor": 0.99, "classifier_label": "notumor",
               "doubted_by_classifier": False, "vetoed_by_classifier": True}
    assert doubt_warning([tumour, dropped]) is None
    text = doubt_warning([tumour, doubted, dropped])
    assert text.startswith("possible false alarm") and "1 kept component(s) (25.0 ml)" in text and "0.57" in text


def test_the_most_tumour_like_sequence_on_the_grid_speaks_and_others_are_skipped(head_and_classifier) -> None:
    from brainlens.ml.seg_verify import classifier_opinion, on_grid

    volumes, wt, clf = head_and_classifier
    member = wt > 0.5
    shifted = volumes["t2"].with_data(volumes["t2"].data)
    shifted.affine = shifted.affine.copy()
    shifted.affine[0, 3] += 10.0  # another grid: the mask does not index it
    assert not on_grid(shifted, volumes["flair"])
    views = {"flair": volumes["flair"], "t1ce": volumes["t1ce"], "t2": shifted}
    best = classifier_opinion(member, views, "flair", clf)
    assert best["classifier_sequence"] in ("flair", "t1ce")
    alone = [classifier_opinion(member, {k: views[k]}, k, clf)["classifier_notumor"] for k in ("flair", "t1ce")]
    assert best["classifier_notumor"] == pytest.approx(min(alone))


def test_the_evaluation_chooses_the_most_lenient_limit_that_validation_allows() -> None:
    from brainlens.training.evaluate_segmenter import choose_detection

    tumour = {"source": "brats", "dice_whole_tumor": 0.9, "disagreement": 0.1,
              "components": [{"volume_ml": 50.0, "mean_probability": 0.9, "hit": True, "classifier_notumor": 0.05}]}
    healthy = {"source": "healthy (brats, mirrored)", "disagreement": 0.3,
               "components": [{"volume_ml": 40.0, "mean_probability": 0.9, "hit": False,
                               "classifier_notumor": 0.97}]}
    d = choose_detection([tumour, healthy])
    assert d["validation_component_f1"] == 1.0 and d["classifier_asked"]
    assert d["max_classifier_notumor"] == 0.95  # drops the 0.97 false alarm, the most lenient limit that does
    for row in (tumour, healthy):
        for c in row["components"]:
            del c["classifier_notumor"]
    d = choose_detection([tumour, healthy])
    assert d["max_classifier_notumor"] == 1.0 and not d["classifier_asked"]


def test_each_patient_is_judged_by_the_fold_model_that_never_saw_it() -> None:
    from brainlens.training.seg_second_opinion import FoldClassifiers

    judges = FoldClassifiers(by_fold={1: "model holding out fold 1", 2: "model holding out fold 2"},
                             folds={"patient A": 1, "patient B": 2}, runs={})
    assert judges.for_case("patient A") == "model holding out fold 1"
    assert judges.for_case("patient B") == "model holding out fold 2"
    assert judges.for_case("MNI152") is None  # no patient: the bundled classifier, as the product uses
    with pytest.raises(SystemExit):
        FoldClassifiers(by_fold={1: "only fold 1"}, folds={"patient B": 2}, runs={}).for_case("patient B")


def test_a_healthy_head_records_whether_the_user_was_warned_of_a_false_alarm() -> None:
    from brainlens.training.evaluate_segmenter import healthy_row

    doubted = {"kept": True, "doubted_by_classifier": True, "volume_ml": 18.1}
    believed = {"kept": True, "doubted_by_classifier": False, "volume_ml": 6.9}
    dropped = {"kept": False, "vetoed_by_classifier": True, "volume_ml": 12.5}
    faint = {"kept": False, "volume_ml": 0.2}
    assert healthy_row(25.0, "tumour detected", [believed, doubted])["warned_false_alarm"] is True
    assert healthy_row(6.9, "tumour detected", [believed, dropped])["warned_false_alarm"] is False
    assert healthy_row(0.0, "no tumour detected", []) == {"tumour_ml": 0.0, "finding": "no tumour detected",
                                                          "warned_false_alarm": False, "vetoed_ml": 0.0}
    # only what the second opinion dropped counts: not the faint specks the detection rule dropped itself
    assert healthy_row(0.0, "no tumour detected", [dropped, faint, dropped])["vetoed_ml"] == 25.0


def test_the_card_says_when_no_tumour_detected_rests_on_the_second_opinion() -> None:
    from brainlens.training.segmenter_card import _healthy_and_uncertainty

    report = {"healthy_target_ml": 1.0, "summary": {}, "per_case": [], "healthy": {
        "template": {"tumour_ml": 0.0, "finding": "no tumour detected", "warned_false_alarm": False,
                     "vetoed_ml": 18.0},
        "phantom": {"tumour_ml": 0.0, "finding": "no tumour detected", "warned_false_alarm": False,
                    "vetoed_ml": 0.0}}}
    rows = [line for line in _healthy_and_uncertainty(report) if line.startswith("| template")
            or line.startswith("| phantom")]
    assert "18.0 ml more that the classifier's second opinion dropped" in rows[0]
    assert "second opinion" not in rows[1]
