"""The model card is rendered from the evaluation JSON only: every figure in the Markdown comes from it."""

from __future__ import annotations

import json

import numpy as np

from brainlens.ml.classifier_models import CLASS_NAMES
from brainlens.ml.classify import ClassificationResult
from brainlens.training.classifier_card import render_markdown, split_figures


def _fake_model(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(4), 25)
    logits = rng.normal(0, 1, (100, 4)) + 3 * np.eye(4)[y]
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    results = [ClassificationResult(CLASS_NAMES[int(p.argmax())], dict(zip(CLASS_NAMES, p)), float(p.max()), 0.3,
                                    0.01, bool(p.max() < 0.6), False, 2.0, "x") for p in probs]
    test = split_figures(y, probs, results, probs, {"before": probs, "after": probs}, 0.0)
    lat = {k: 9.5 for k in ("plain_ms", "plain_cpu_ms", "mc_tta_ms", "mc_tta_cpu_ms", "gradcam_ms",
                            "gradcam_cpu_ms")}
    lat.update(mc_samples=16, threads=1, device="cpu", runs=10, load_average_1min=1.0)
    return {"arch": "brainresnet", "parameters": 1000, "best_epoch": 3,
            "export": {"file": "brainresnet.safetensors", "sha256": "ab" * 32, "dtype": "float32", "version": "1.0",
                       "bytes": 1000},
            "calibration": {"temperature": 1.2, "entropy_threshold": 0.5, "ood_threshold": 9.0,
                            "val": {"nll_before": 0.5, "nll_after": 0.4, "ood_flagged": 0.01},
                            "rules": {"uncertain": "rule text"}},
            "test": test, "latency": lat,
            "ood_probe": {"blank (constant)": {"n": 2, "flagged": 1.0, "median_score": float("inf"),
                                               "reasons": {"blank": 2}}},
            "brats_sanity": [{"case": "c1", "label": "glioma", "n_classified": 100, "n_slices": 155,
                              "n_tumour_slices": {"glioma": 30}, "notes": []}],
            "training": {"finished": False, "val_curve": [{"epoch": 1}], "elapsed_minutes": None}}


def test_metrics_and_markdown_agree() -> None:
    model = _fake_model(0)
    t = model["test"]
    assert t["n"] == 100 and sum(map(sum, t["confusion"])) == 100
    assert t["accuracy_ci95"][0] <= t["accuracy"] <= t["accuracy_ci95"][1]
    split = {s: {c: 10 for c in CLASS_NAMES} for s in ("train", "val", "test")}
    card = {"generated": "now", "models": {"brainresnet": model},
            "data": {"dataset": "set", "dedup": {"n_images": 120, "n_groups": 110, "n_images_in_duplicate_groups": 20,
                                                 "n_original_test_with_train_twin": 5,
                                                 "n_dropped_conflicting_labels": 0, "split_counts": split,
                                                 "criteria": "c", "policy": "p"},
                     "colour_check": {"n_rgb": 3, "max_chroma": 0.01, "p99_chroma": 0.01, "threshold": 0.06}},
            "hardware": {"cpu": "cpu", "python": "3", "torch": "2", "platform": "linux"}}
    json.dumps(card, default=float)  # the card JSON must serialise
    md = render_markdown(card)
    assert f"{100 * t['balanced_accuracy']:.2f} %" in md
    assert "not diagnosis" in md and "Not tested on" in md and "90.66 %" in md
    assert "had NOT finished" in md
    assert md.count("| met |") + md.count("| NOT met |") == 7


def _fake_study() -> dict:
    rows = []
    for i in range(16):
        for seq in ("t1ce", "flair", "t1", "t2"):
            for mm in (1.0, 5.0):
                label = "notumor" if (i == 0 and seq == "t2") else "glioma"
                rows.append({"bag": f"p{i} {seq}", "truth": "glioma", "label": label, "correct": label == "glioma",
                             "p_tumour": 0.9, "confidence": 0.8, "uncertain": False, "n_slices": 100, "score": 0.9,
                             "fold": 1 + i % 2, "source": "brats", "patient": f"p{i:02d}", "sequence": seq,
                             "slice_mm": mm, "ood_slices": 0})
    for i in range(10):
        label = "glioma" if i < 9 else "meningioma"
        rows.append({"bag": f"l{i}", "truth": "glioma", "label": label, "correct": label == "glioma", "p_tumour": 0.9,
                     "confidence": 0.8, "uncertain": i == 9, "n_slices": 30, "score": 0.9, "fold": 2,
                     "source": "lgg-flair", "patient": f"l{i}", "sequence": "flair", "slice_mm": 3.3, "ood_slices": 0})
    rows.append({**rows[-1], "bag": "l0 tumour-free slices", "truth": "notumor", "label": "notumor"})
    template = [{"bag": f"MNI152 T1 {mm} mm", "label": "notumor", "p_tumour": 0.1, "uncertain": False,
                 "n_slices": 150, "slices_notumor": 0.99, "ood_slices": 0} for mm in (1, 3, 6)]
    rule = {"top_k": 3, "threshold": 0.7, "slope": 20.0, "entropy_threshold": 0.4}
    return {"rule": rule, "rule_fit": {"n_bags": 300, "n_tumour_bags": 200, "balanced_accuracy": 0.97},
            "cross_fitted_rules": {"1": rule, "2": rule}, "rows": rows, "folds_scored": [1, 2],
            "healthy_slice_notumor_rate": 0.987, "healthy_slices": 900,
            "segmentation_guided": [{"patient": "p", "sequence": "t1ce", "slice_mm": 1.0, "label": "glioma"}],
            "pointing_game": {"brats t1ce": {"n": 24, "hits": 20}, "lgg-flair flair": {"n": 60, "hits": 48}},
            "cam_stage": 12, "cam_stage_tuning": {"-1": 0.6, "12": 0.8, "9": 0.7}, "healthy_template": template,
            "product_held_out_fold": 2, "fold_models": {"2": "A", "1": "B"}, "n_patients": {"brats": 16},
            "training_slices": {"n": 1420, "held_out_fold": 2}, "weights_source": "the wheel",
            "timing": {"case": "c", "n_slices": 155, "slices_classified": 120, "threads": 2, "wall_s": 1.9,
                       "cpu_s": 3.5, "label": "glioma"}}


def test_study_section_and_targets_come_from_the_json() -> None:
    from brainlens.training.classifier_card_study import study_figures, study_targets

    study = _fake_study()
    f = study_figures(study)
    assert f["brats_hits"] == {"t1ce": 16, "flair": 16, "t1": 16, "t2": 15} and f["lgg_hits"] == 9
    assert f["pointing"] == (20 + 48) / 84
    checks = {name.split(" (")[0]: ok for name, _, ok in study_targets(study)}
    assert all(checks.values())  # 15/16 on the worst sequence, 9 of 10 lgg, 3/3 template, 0.81, 1.9 s
    study["rows"] = [r for r in study["rows"] if not (r["patient"] == "p01" and r["sequence"] == "t2")]
    assert not study_targets(study)[0][2]  # a patient not scored is not a pass
    model = _fake_model(1)
    model["arch"], model["study"] = "efflite0", _fake_study()
    split = {s: {c: 10 for c in CLASS_NAMES} for s in ("train", "val", "test")}
    card = {"generated": "now", "models": {"efflite0": model},
            "data": {"dataset": "set", "dedup": {"n_images": 120, "n_groups": 110, "n_images_in_duplicate_groups": 20,
                                                 "n_original_test_with_train_twin": 5,
                                                 "n_dropped_conflicting_labels": 0, "split_counts": split,
                                                 "criteria": "c", "policy": "p"}},
            "hardware": {"cpu": "cpu", "python": "3", "torch": "2", "platform": "linux"}}
    md = render_markdown(card)
    assert "## Targets (production model efflite0)" in md and "## Study level (3D studies)" in md
    assert md.count("| met |") + md.count("| NOT met |") == 12
    assert "t2 1 mm 15 of 16 (93.8 %)" in md and "0.810 (n = 84)" in md
