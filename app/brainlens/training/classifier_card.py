"""Test-split figures and the Markdown model card rendered from the evaluation JSON (no hand-typed numbers)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from brainlens.ml.classifier_models import CLASS_NAMES
from brainlens.training import metrics
from brainlens.training.classifier_card_study import study_section, study_targets
from brainlens.training.classifier_probes import GRADCAM_TARGET_MS

NOTUMOR = CLASS_NAMES.index("notumor")
BOOTSTRAP_RESAMPLES = 1000
SEED_PAPER = {"accuracy": 0.9066, "balanced_accuracy": 0.9015, "notumor_recall": 0.71}
TARGETS = {"balanced_accuracy": 0.98, "notumor_recall": 0.97, "ece_after": 0.03, "plain_ms": 15.0,
           "gradcam_ms": GRADCAM_TARGET_MS}
PRODUCTION = ("efflite0", "brainresnet")  # the first one the card holds is the production model
NOT_TESTED = [
    "other hospitals, scanners, field strengths or protocols than the three public sets this data aggregates",
    "the held-back acceptance part of the original test folder",
    "clinical DICOM slices (16-bit, other windowing); only synthetic and 8-bit JPEG inputs were evaluated",
    "children, post-operative or post-treatment brains, and tumour types other than the three classes "
    "(metastases, lymphoma, abscess, ...): the model will still pick one of its four classes",
    "3D studies other than the BraTS, lgg-flair and template studies below: no real healthy patient study, no "
    "meningioma or pituitary 3D study, no DICOM series from a scanner, no sagittal or coronal acquisitions "
    "(axial slices are cut from whatever the study holds), no contrast or sequence outside T1/T1c/T2/FLAIR",
    "per-patient evaluation: the set has no patient identifiers, so near-twin grouping is the only leakage control",
]


_SELECTED_BY = {"loss": "loss", "balanced_acc": "balanced accuracy (ties broken by loss)"}


def split_figures(y: np.ndarray, probs: np.ndarray, results: Sequence[Any], probs_t1: np.ndarray,
                 plain: dict[str, np.ndarray], consistency: float) -> dict[str, Any]:
    """All test-split figures of one model; `probs` are the product's calibrated outputs."""
    k = len(CLASS_NAMES)
    pred = probs.argmax(1)
    n = len(y)
    uncertain = np.array([r.uncertain for r in results])
    ood = np.array([r.ood for r in results])
    correct = pred == y

    def ci(stat) -> list[float]:
        return list(metrics.bootstrap_ci(stat, n, BOOTSTRAP_RESAMPLES, seed=0))

    return {
        "n": int(n),
        "accuracy": metrics.accuracy(y, pred),
        "accuracy_ci95": ci(lambda i: metrics.accuracy(y[i], pred[i])),
        "balanced_accuracy": metrics.balanced_accuracy(y, pred, k),
        "balanced_accuracy_ci95": ci(lambda i: metrics.balanced_accuracy(y[i], pred[i], k)),
        "notumor_recall": metrics.recall_of(y, pred, NOTUMOR),
        "notumor_recall_ci95": ci(lambda i: metrics.recall_of(y[i], pred[i], NOTUMOR)),
        "per_class": {name: row for name, row in zip(CLASS_NAMES, metrics.per_class(y, pred, k))},
        "macro_f1": float(np.mean([r["f1"] for r in metrics.per_class(y, pred, k)])),
        "confusion": metrics.confusion(y, pred, k).tolist(),
        "auroc": {name: v for name, v in zip(CLASS_NAMES, metrics.ovr_auroc(probs, y))},
        "ece_before": metrics.ece(probs_t1, y), "ece_after": metrics.ece(probs, y),
        "ece_plain_before": metrics.ece(plain["before"], y), "ece_plain_after": metrics.ece(plain["after"], y),
        "plain_balanced_accuracy": metrics.balanced_accuracy(y, plain["after"].argmax(1), k),
        "nll_before": metrics.nll(probs_t1, y), "nll_after": metrics.nll(probs, y),
        "uncertain_rate": float(uncertain.mean()),
        "confident_accuracy": float(correct[~uncertain].mean()) if (~uncertain).any() else float("nan"),
        "uncertain_accuracy": float(correct[uncertain].mean()) if uncertain.any() else float("nan"),
        "errors_flagged": float(uncertain[~correct].mean()) if (~correct).any() else float("nan"),
        "ood_rate": float(ood.mean()),
        "max_abs_diff_cached_vs_raw_path": consistency,
    }


def _pct(v: float) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{100 * v:.2f} %"


def _ci(v: Sequence[float], percent: bool = True) -> str:
    return f"[{100 * v[0]:.1f}, {100 * v[1]:.1f}]" if percent else f"[{v[0]:.3f}, {v[1]:.3f}]"


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _model_section(name: str, m: dict[str, Any]) -> list[str]:
    t, cal, lat = m["test"], m["calibration"], m["latency"]
    out = [f"### {name} ({m['parameters']:,} parameters, best epoch {m['best_epoch']}, "
           f"{m['export']['dtype']}, {m['export']['bytes'] / 1e6:.1f} MB)", "",
           f"Evaluated {m.get('evaluated', 'in an earlier run of the script')}.", "",
           "| class | precision | recall | F1 | AUROC (one-vs-rest) | support |", "|---|---|---|---|---|---|"]
    for c in CLASS_NAMES:
        r = t["per_class"][c]
        out.append(f"| {c} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | {t['auroc'][c]:.4f} "
                   f"| {r['support']} |")
    out += ["", "Confusion matrix (rows = true, columns = predicted):", "",
            "| | " + " | ".join(CLASS_NAMES) + " |", "|---" * (len(CLASS_NAMES) + 1) + "|"]
    for c, row in zip(CLASS_NAMES, t["confusion"]):
        out.append(f"| **{c}** | " + " | ".join(str(v) for v in row) + " |")
    v = cal["val"]
    out += ["", f"- Temperature T = {cal['temperature']:.3f} (validation NLL {v['nll_before']:.3f} -> "
            f"{v['nll_after']:.3f}); test ECE (15 bins) {t['ece_before']:.4f} before -> {t['ece_after']:.4f} "
            f"after (plain path without TTA/MC: {t['ece_plain_before']:.4f} -> {t['ece_plain_after']:.4f}).",
            f"- Uncertain flag: entropy > {cal['entropy_threshold']:.3f} nats. Test: {_pct(t['uncertain_rate'])} "
            f"flagged; accuracy {_pct(t['confident_accuracy'])} on confident vs {_pct(t['uncertain_accuracy'])} "
            f"on flagged; {_pct(t['errors_flagged'])} of the errors are flagged.",
            f"- OOD flag: Mahalanobis score > {cal['ood_threshold']:.2f}; flags {_pct(t['ood_rate'])} of the "
            f"(in-distribution) test slices ({_pct(v['ood_flagged'])} of validation).",
            f"- Latency per slice, batch 1, {lat['device']} ({lat.get('runtime', 'PyTorch')}), {lat['threads']} "
            f"thread(s), median of {lat['runs']} "
            f"(wall-clock / CPU time; 1-min load average {lat.get('load_average_1min', 'n/a')}): plain "
            f"{lat['plain_ms']:.1f} / {lat['plain_cpu_ms']:.1f} ms, TTA + {lat['mc_samples']} MC samples "
            f"{lat['mc_tta_ms']:.1f} / {lat['mc_tta_cpu_ms']:.1f} ms, Grad-CAM {lat['gradcam_ms']:.1f} / "
            f"{lat['gradcam_cpu_ms']:.1f} ms.",
            f"- Engine check: test probabilities from raw files vs the cached preprocessed images differ by at "
            f"most {t['max_abs_diff_cached_vs_raw_path']:.2e}.", ""]
    probe = m["ood_probe"]
    out += ["OOD probe (synthetic non-MR inputs, fraction flagged):", "",
            "| input | n | flagged | by rule | median feature distance |", "|---|---|---|---|---|"]
    for k, r in probe.items():
        score = "inf (blank)" if r["median_score"] >= 1e9 else f"{r['median_score']:.1f}"
        reasons = ", ".join(f"{n} {why}" for why, n in r.get("reasons", {}).items()) or "-"
        out.append(f"| {k} | {r['n']} | {_pct(r['flagged'])} | {reasons} | {score} |")
    tr = m["training"]
    if tr["finished"]:
        out += ["", f"Training: {tr['epochs']} epochs, {tr['elapsed_minutes']} min on {tr['device']} "
                f"({tr['threads']} thread(s)), stopped by: {tr['stop_reason']}; weights of epoch {m['best_epoch']}, "
                f"the best by validation {_SELECTED_BY[tr.get('select_by', 'loss')]} (validation loss "
                f"{tr['best_val_loss']:.4f}); recipe {tr['recipe']}"
                + "".join(f"; started from the best weights of {c['run']} ({c['epochs']} epochs, "
                          f"{c['elapsed_minutes']} min)" for c in tr.get("started_from", [])) + ".", ""]
    else:
        out += ["", f"Training had NOT finished when this card was generated ({len(tr['val_curve'])} epochs "
                f"logged); figures are for the best checkpoint so far (epoch {m['best_epoch']}).", ""]
    if m.get("brats_sanity"):
        out += ["Whole-volume sanity check (BraTS 2018 t1ce, axial, all cases are gliomas; skull-stripped 3D "
                "MR unlike the training slices):", "", "| case | study label | slices classified | "
                "tumour-type slice counts | notes |", "|---|---|---|---|---|"]
        for r in m["brats_sanity"]:
            out.append(f"| {r['case']} | {r['label']} | {r['n_classified']} of {r['n_slices']} | "
                       f"{r['n_tumour_slices']} | {'; '.join(r['notes'])} |")
        rows = m["brats_sanity"]
        hits = sum(r["label"] == "glioma" for r in rows)
        ood = sum(r["n_ood"] for r in rows if "n_ood" in r)
        classified = sum(r["n_classified"] for r in rows)
        out += ["", f"Study label glioma in {hits} of {len(rows)} BraTS cases"
                + (f"; {ood} of {classified} classified slices were flagged out-of-distribution" if ood else "")
                + ". Skull-stripped, resampled 3D volumes are outside what this 2D model was trained on; "
                "whole-volume results must not be trusted until it is trained or validated on such data.", ""]
    return out


def render_markdown(card: dict[str, Any]) -> str:
    d = card["data"]["dedup"]
    sc = d["split_counts"]
    out = ["# BrainLens tumour-type classifier: model card", "",
           f"Generated {card.get('generated', '')} by `python -m brainlens.training.evaluate_classifier`; every "
           "figure below comes from that run (see classifier_card.json).", "",
           "## Intended use", "",
           "Research and education only, **not diagnosis**. Given one 2D brain MR slice it estimates which of "
           "glioma, meningioma, pituitary tumour or no tumour it resembles, with a calibrated confidence, an "
           "uncertainty flag, an out-of-distribution flag (\"not a brain MR slice?\") and a Grad-CAM heatmap. "
           "Given a 3D study it combines its axial slices into one study verdict (see Study level). "
           "A clinician must not act on it.", "",
           "## Data and leakage-free split", "",
           f"{card['data']['dataset']}: {d['n_images']} images. De-duplication ({d['criteria']}) found "
           f"{d['n_groups']} groups; {d['n_images_in_duplicate_groups']} images sit in groups of two or more, "
           f"and {d['n_original_test_with_train_twin']} of the original test images have a near-twin in the "
           f"original train folder. {d['n_dropped_conflicting_labels']} images were dropped for conflicting "
           f"labels. Policy: {d['policy']}.", "",
           "| split | " + " | ".join(CLASS_NAMES) + " | total |", "|---" * (len(CLASS_NAMES) + 2) + "|"]
    for s in ("train", "val", "test"):
        out.append(f"| {s} | " + " | ".join(str(sc[s][c]) for c in CLASS_NAMES) + f" | {sum(sc[s].values())} |")
    out += ["", "## Results on the leakage-free test split (through the product engine)", "",
            "| model | accuracy [95 % CI] | balanced accuracy [95 % CI] | no-tumour recall [95 % CI] | macro F1 "
            "| ECE before -> after T |", "|---|---|---|---|---|---|"]
    for name, m in card["models"].items():
        t = m["test"]
        out.append(f"| {name} | {_pct(t['accuracy'])} {_ci(t['accuracy_ci95'])} | "
                   f"{_pct(t['balanced_accuracy'])} {_ci(t['balanced_accuracy_ci95'])} | "
                   f"{t['notumor_recall']:.3f} {_ci(t['notumor_recall_ci95'], percent=False)} | {t['macro_f1']:.3f} | "
                   f"{t['ece_before']:.4f} -> {t['ece_after']:.4f} |")
    out.append(f"| seed GBMnet paper (its own split, its own figures) | {_pct(SEED_PAPER['accuracy'])} | "
               f"{_pct(SEED_PAPER['balanced_accuracy'])} | {SEED_PAPER['notumor_recall']:.2f} | | |")
    out += ["", "Bootstrap intervals: 1000 resamples of the test cases. Probabilities are the product's: "
            "softmax(logits / T) averaged over the original + horizontally flipped slice and Monte-Carlo "
            "dropout samples.", ""]
    production = next((n for n in PRODUCTION if n in card["models"]), None)
    if production:
        m = card["models"][production]
        t, lat = m["test"], m["latency"]
        checks = [("balanced accuracy >= 98 %", _pct(t["balanced_accuracy"]),
                   t["balanced_accuracy"] >= TARGETS["balanced_accuracy"]),
                  ("no-tumour recall >= 0.97", f"{t['notumor_recall']:.3f}",
                   t["notumor_recall"] >= TARGETS["notumor_recall"]),
                  ("ECE <= 0.03 after calibration", f"{t['ece_after']:.4f}", t["ece_after"] <= TARGETS["ece_after"]),
                  (f"CPU <= 15 ms per slice (batch 1, plain, {lat.get('threads', '?')} thread), CPU time",
                   f"{lat['plain_cpu_ms']:.1f} ms",
                   lat["plain_cpu_ms"] <= TARGETS["plain_ms"]),
                  ("same, wall-clock on this shared machine", f"{lat['plain_ms']:.1f} ms",
                   lat["plain_ms"] <= TARGETS["plain_ms"]),
                  ("Grad-CAM <= 60 ms per slice, CPU time", f"{lat['gradcam_cpu_ms']:.1f} ms",
                   lat["gradcam_cpu_ms"] <= TARGETS["gradcam_ms"]),
                  ("same, wall-clock on this shared machine", f"{lat['gradcam_ms']:.1f} ms",
                   lat["gradcam_ms"] <= TARGETS["gradcam_ms"])]
        if m.get("study"):
            checks += study_targets(m["study"])
        out += [f"## Targets (production model {production})", "", "| target | measured | status |", "|---|---|---|"]
        out += [f"| {a} | {b} | {_met(c)} |" for a, b, c in checks]
        out.append("")
        if m.get("study"):
            out += study_section(m["study"])
    colour = card["data"].get("colour_check")
    if colour:
        out += [f"Colour rule check: the {colour['n_rgb']} RGB-stored dataset images have mean chroma at most "
                f"{colour['max_chroma']:.4f} (99th percentile {colour['p99_chroma']:.4f}); inputs above "
                f"{colour['threshold']} are reported as not a brain MR slice.", ""]
    out += ["## Per model", ""]
    for name, m in card["models"].items():
        out += _model_section(name, m)
    hw = card["hardware"]
    out += ["## Rules (chosen on validation, stored in the manifest)", ""]
    for name, m in card["models"].items():
        for k, v in m["calibration"]["rules"].items():
            out.append(f"- {name} {k}: {v}")
    out += ["", "## Hardware of this evaluation", "",
            f"{hw['cpu']}; Python {hw['python']}, torch {hw['torch']}, onnxruntime {hw.get('onnxruntime', 'n/a')}, "
            f"{hw['platform']}. Latencies were measured "
            "while other training jobs shared the CPU (see load average), so they are upper bounds for this "
            "machine. CPU time is the process CPU time per slice (all threads): what one otherwise idle core "
            "needs; it is the figure compared with the targets, next to the wall-clock measured here.", "",
            "## Not tested on", ""]
    out += [f"- {line}" for line in NOT_TESTED]
    out += ["", "## Files", ""]
    for name, m in card["models"].items():
        e = m["export"]
        out.append(f"- `{e['file']}` ({name} {e['version']}, {e['dtype']}): SHA-256 `{e['sha256']}`")
    out.append("")
    return "\n".join(out)
