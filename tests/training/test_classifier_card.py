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
