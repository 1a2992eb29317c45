"""Model-card sections for the study-level evaluation (rendered from the evaluation JSON; no typed figures)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from brainlens.training.classifier_probes import GRADCAM_TARGET_MS
from brainlens.training.classifier_slices import LOW_RES_P, PARTIAL_FOV_P

TARGET_BRATS = 15 / 16
TARGET_LGG = 0.90
TARGET_POINTING = 0.8
TARGET_STUDY_S = 3.0
BRATS_SEQUENCES = ("t1ce", "flair", "t1", "t2")


def _frac(hits: int, n: int) -> str:
    return f"{hits} of {n}" + (f" ({100 * hits / n:.1f} %)" if n else "")


def score_kind(rule: dict) -> str:
    """How a study rule scores a study, in words (older rules have no window: top_k)."""
    if rule.get("window"):
        return f"best mean over {rule['window']} adjacent slices"
    return f"top_k = {rule['top_k']}"


def study_rows(study: dict, source: str, truth: str = "glioma", slice_mm: float | None = None,
               sequence: str | None = None) -> list[dict]:
    return [r for r in study["rows"] if r["source"] == source and r["truth"] == truth
            and (sequence is None or r["sequence"] == sequence)
            and (slice_mm is None or abs(r["slice_mm"] - slice_mm) < 0.5)]


def study_figures(study: dict) -> dict[str, Any]:
    """The headline study-level figures the targets are checked on."""
    brats = {seq: study_rows(study, "brats", slice_mm=1.0, sequence=seq) for seq in BRATS_SEQUENCES}
    lgg = study_rows(study, "lgg-flair")
    free = [r for r in study["rows"] if r["truth"] == "notumor" and r.get("bag_kind") != "mirrored healthy head"]
    heads = [r for r in study["rows"] if r.get("bag_kind") == "mirrored healthy head"]
    cam = study["pointing_game"]
    cam_n = sum(v["n"] for v in cam.values())
    return {
        "brats_hits": {s: sum(r["label"] == "glioma" for r in rows) for s, rows in brats.items()},
        "brats_n": {s: len(rows) for s, rows in brats.items()},
        "lgg_hits": sum(r["label"] == "glioma" for r in lgg), "lgg_n": len(lgg),
        "free_hits": sum(r["label"] == "notumor" for r in free), "free_n": len(free),
        "heads_hits": sum(r["label"] == "notumor" for r in heads), "heads_n": len(heads),
        "pointing": sum(v["hits"] for v in cam.values()) / cam_n if cam_n else float("nan"), "pointing_n": cam_n,
        "template_hits": sum(r["label"] == "notumor" for r in study.get("healthy_template", [])),
        "template_n": len(study.get("healthy_template", [])),
    }


def study_targets(study: dict) -> list[tuple[str, str, bool]]:
    f = study_figures(study)
    scored = [s for s in BRATS_SEQUENCES if f["brats_n"][s]] or list(BRATS_SEQUENCES)
    worst = min(scored, key=lambda s: f["brats_hits"][s] / max(f["brats_n"][s], 1))
    n16 = f["brats_n"][worst]
    timing = study.get("timing") or {}
    return [
        (f"BraTS studies called glioma >= 15 of 16 (every sequence scored, 1 mm; worst: {worst})",
         _frac(f["brats_hits"][worst], n16), n16 == 16 and f["brats_hits"][worst] >= TARGET_BRATS * 16),
        ("held-out lgg-flair patients called glioma >= 90 %", _frac(f["lgg_hits"], f["lgg_n"]),
         f["lgg_n"] > 0 and f["lgg_hits"] >= TARGET_LGG * f["lgg_n"]),
        ("tumour-free template study says no tumour (MNI152, every thickness)",
         _frac(f["template_hits"], f["template_n"]), f["template_n"] > 0 and f["template_hits"] == f["template_n"]),
        ("Grad-CAM pointing game >= 0.8 on held-out tumour slices", f"{f['pointing']:.3f} (n = {f['pointing_n']})",
         f["pointing"] >= TARGET_POINTING),
        ("study verdict <= 3 s on 2 threads (155-slice BraTS study), wall-clock",
         f"{timing.get('wall_s', float('nan'))} s", timing.get("wall_s", 1e9) <= TARGET_STUDY_S),
    ]


def _cam_cost(study: dict) -> str:
    ms = study.get("cam_setting_cpu_ms")
    if not ms:
        return ""
    return (f"; CPU ms per slice on one thread {ms}, settings over {GRADCAM_TARGET_MS:g} ms were not "
            "eligible")


def study_section(study: dict) -> list[str]:
    f = study_figures(study)
    rule = study["rule"]
    out = ["## Study level (3D studies)", "",
           f"Weights: {study.get('weights_source', 'n/a')}.", "",
           f"Training data besides the 2D train split: {study['training_slices']['n']} axial slices of the 3D "
           f"patients outside fold {study['product_held_out_fold']} (BraTS: all four sequences; lgg-flair: "
           "FLAIR with skull; glioma = slices with >= 2 cm^2 of tumour, notumor = slices with no tumour within "
           "6 mm), with 1-6 mm slab averaging and 8-bit export on BraTS slices"
           + (", and partial fields of view and coarse in-plane pixels on "
              f"{100 * (PARTIAL_FOV_P + LOW_RES_P):.0f} % of all slices"
              if study["training_slices"].get("slice_set", "v3") != "v3" else "")
           + f" (slice set {study['training_slices'].get('slice_set', 'v3')})"
           + (f"; the last fine-tuning run showed each of them {study['training_slices']['repeat_3d']} times per "
              "epoch" if study["training_slices"].get("repeat_3d", 1) > 1 else "")
           + ". Patients are split into two "
           f"folds per source ({study['n_patients']}). Each study below was scored only by a model that never "
           f"trained on its patient (fold models: {study['fold_models']}); folds scored: {study['folds_scored']}.",
           "",
           f"Rule (stored in the manifest): {score_kind(rule)}, threshold = {rule['threshold']:.3f}, slope = "
           f"{rule['slope']:.1f}, uncertain above study entropy {rule['entropy_threshold']:.3f} nats; fitted on "
           f"{study['rule_fit']['n_bags']} validation bags ({study['rule_fit']['n_tumour_bags']} with a tumour): "
           f"balanced accuracy {100 * study['rule_fit']['balanced_accuracy']:.1f} %. Figures below use cross-fitted "
           "rules: the scored patients form two groups (the two folds when both were scored, else alternate "
           "patients of each source) and each group is judged with the rule fitted on the other group's bags and "
           "the 2D-validation bags: "
           + "; ".join(f"group {k}: {score_kind(v)}, threshold {v['threshold']:.3f}"
                       for k, v in study["cross_fitted_rules"].items()) + ".", ""]
    if study.get("evaluated"):
        e = study["evaluated"]
        out += [f"Scope of this run (CPU time): BraTS sequences {', '.join(e['brats_sequences'])}; thick-slab "
                f"version {e['thick_mm'] or 'none'} mm; Grad-CAM stage and views chosen on {e['cam_tuning_studies']} "
                f"studies; OOD statistics from {e['ood_fit_2d_images']} 2D train images plus the 3D slices.", ""]
    by_patient: dict[str, dict[str, str]] = defaultdict(dict)
    folds: dict[str, int] = {}
    for r in study_rows(study, "brats"):
        by_patient[r["patient"]][f"{r['sequence']} {r['slice_mm']:g} mm"] = (
            r["label"] + (" (uncertain)" if r["uncertain"] else ""))
        folds[r["patient"]] = r["fold"]
    cols = [f"{s} {mm:g} mm" for mm in (1.0, 5.0) for s in BRATS_SEQUENCES]
    out += ["BraTS (all gliomas), study verdict per patient and sequence, native 1 mm and 5 mm slabs:", "",
            "| patient | fold | " + " | ".join(cols) + " |", "|---" * (len(cols) + 2) + "|"]
    for p in sorted(by_patient):
        out.append(f"| {p} | {folds[p]} | " + " | ".join(by_patient[p].get(c, "-") for c in cols) + " |")
    thick = {s: study_rows(study, "brats", slice_mm=5.0, sequence=s) for s in BRATS_SEQUENCES}
    out += ["", "Glioma called: " + "; ".join(
        f"{s} 1 mm {_frac(f['brats_hits'][s], f['brats_n'][s])}, 5 mm "
        f"{_frac(sum(r['label'] == 'glioma' for r in thick[s]), len(thick[s]))}" for s in BRATS_SEQUENCES) + ".", ""]
    lgg = study_rows(study, "lgg-flair")
    missed = [r["patient"] for r in lgg if r["label"] != "glioma"]
    out += [f"- lgg-flair (FLAIR, skull on, ~3.3 mm): glioma for {_frac(f['lgg_hits'], f['lgg_n'])} held-out "
            f"patients; uncertain {sum(r['uncertain'] for r in lgg)}; missed: {', '.join(missed) or 'none'}.",
            f"- Tumour-free slices of those studies taken alone (a study with the tumour cut out): no tumour for "
            f"{_frac(f['free_hits'], f['free_n'])} bags.",
            f"- Whole tumour-free heads made from those studies (healthy hemisphere mirrored; none where the "
            f"lesion crosses the midline): no tumour for {_frac(f['heads_hits'], f['heads_n'])}.",
            "- Healthy-slice no-tumour rate (slices with no tumour within 6 mm, held-out studies at native "
            f"thickness): "
            f"{100 * study['healthy_slice_notumor_rate']:.2f} % of {study['healthy_slices']} slices.",
            "- Segmentation-guided mode with the reference mask as the segmentation: glioma for "
            + _frac(sum(r["label"] == "glioma" for r in study["segmentation_guided"]),
                    len(study["segmentation_guided"])) + " studies.", ""]
    out += ["Tumour-free template (nilearn's MNI152 ICBM 2009a T1, 1 mm, skull-stripped; thick versions by slab "
            "averaging):", "", "| study | verdict | P(tumour) | uncertain | slices | slices called notumor | OOD "
            "slices |", "|---|---|---|---|---|---|---|"]
    for r in study.get("healthy_template", []):
        out.append(f"| {r['bag']} | {r['label']} | {r['p_tumour']:.3f} | {r['uncertain']} | {r['n_slices']} | "
                   f"{100 * r['slices_notumor']:.1f} % | {r['ood_slices']} |")
    cam = study["pointing_game"]
    out += ["", f"Grad-CAM pointing game (peak of the glioma heatmap inside the reference tumour mask; the 3 "
            f"largest-tumour slices of each held-out study): {f['pointing']:.3f} over {f['pointing_n']} slices ("
            + "; ".join(f"{k}: {v['hits']}/{v['n']}" for k, v in cam.items()) + f"). Grad-CAM layer: feature stage "
            f"{study['cam_stage']}, views averaged: {study.get('cam_views', 'single')} (CAM_VIEWS); "
            f"chosen on the product model's training-fold studies (rates "
            f"{ {k: round(v, 3) for k, v in study['cam_stage_tuning'].items()} })" + _cam_cost(study) + ".", ""]
    t = study.get("timing") or {}
    if t:
        out += [f"Study timing: classify_study on {t['case']} ({t['n_slices']} axial slices, {t['slices_classified']}"
                f" classified) with {t['threads']} threads: {t['wall_s']} s wall, {t['cpu_s']} s CPU; verdict "
                f"{t['label']}.", ""]
    return out
