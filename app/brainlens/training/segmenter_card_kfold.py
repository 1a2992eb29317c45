"""The segmenter card's cross-validation section: the recipe's fold records (training.segmenter_kfold), pooled
per patient, each fold run's own rule and second-opinion models, and the fold that shares its test patients
with the bundled model set side by side with it (the one like-for-like comparison of the two recipes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from brainlens.ml.seg_model import REGIONS

_TESTS = [("brats", c, f"BraTS, {c}") for c in ("all four", "FLAIR only", "T1c only")] \
    + [("lgg-flair", "FLAIR only", "lgg-flair, FLAIR only")]


def kfold_section(r: dict[str, Any]) -> list[str]:
    kf = r.get("kfold")
    if not kf:
        return []
    s, recs = kf["summary"], kf["records"]
    lines = ["## Cross-validation of the recipe (BraTS and lgg-flair k-fold)", "",
             f"Folds evaluated: {', '.join(map(str, s['folds']))} of {s['of']}. Each fold run is trained from scratch "
             "with the k-fold recipe (`brainlens-train segmenter --fold k`, BraTS + lgg-flair, mirrored healthy "
             "patches) and evaluated like the bundled model: its own validation patients pick its detection rule, "
             f"its test patients are never trained on. {_bundled_is(r)} Mean +- sd over test patients "
             "(n), pooled across folds. Each fold's evaluation is kept in `models/segmenter_kfold/fold<k>.json` ("
             + "; ".join(f"fold {rec['fold']} evaluated {rec['generated']}" for rec in recs)
             + ") and pooled here by `python -m brainlens.training.segmenter_kfold render`.", "",
             "| test set | n | Dice WT | Dice TC | Dice ET | HD95 WT mm | range contains truth | range width / true "
             "volume (median) | uncertainty AUROC |", "|---|---|---|---|---|---|---|---|---|"]
    for source, config, title in _TESTS:
        cells = [s[f"{source} / {config} / {m}"] for m in ("dice_whole_tumor", "dice_tumor_core",
                                                          "dice_enhancing_tumor", "hd95_whole_tumor")]
        if cells[0]["n"]:
            cov = s[f"{source} / {config} / range_contains_truth"]["mean"]
            lines.append(f"| {title} | {cells[0]['n']} | " + " | ".join(
                f"{c['mean']:.{1 if i == 3 else 3}f} +- {c['sd']:.{1 if i == 3 else 3}f}" if c["n"] else "-"
                for i, c in enumerate(cells)) + f" | {cov * 100:.0f} % | {_width(s, source, config, cells[0]['n'])} | "
                f"{_auroc(s, source, config, cells[0]['n'])} |")
    ok, n = s["healthy heads <= 1 ml"]
    low = s["lgg-flair below 0.3 without the uncertainty flag"]
    lines += ["", f"lgg-flair patients below Dice 0.3 without the uncertainty flag: {', '.join(low) or 'none'}. "
                  f"Healthy heads of the fold evaluations (MNI152, phantoms, the folds' test patients' mirrored "
                  f"healthy hemispheres) with <= 1 ml of tumour: {ok} of {n}. {_warned(s, n - ok)}"]
    return lines + _fold_runs(recs) + _same_patients(r, recs) + _per_patient(recs) + [""]


def _bundled_is(r: dict[str, Any]) -> str:
    """How the model the card describes relates to the fold runs."""
    tr = r["training"]
    if tr.get("fold") == -1 and not tr.get("init"):
        return ("The bundled model above is this recipe trained on every patient but validation (`--fold -1`), so "
                "these rows are the held-out estimate for it: no patient here was tested by a model that saw it.")
    return (f"The bundled model above is fold {tr.get('fold')} of another recipe (initialised from: "
            f"{tr.get('init') or 'scratch'}), so these rows judge the recipe, not the bundled weights.")


def _counted(n: int, of: int) -> str:
    """' (n = 8)' when a figure rests on fewer patients than the row (fold records that predate it)."""
    return "" if n == of else f" (n = {n})"


def _width(s: dict[str, Any], source: str, config: str, of: int) -> str:
    w = s.get(f"{source} / {config} / range width over true volume", {"n": 0})
    return f"{w['median']:.1f}{_counted(w['n'], of)}" if w["n"] else "not recorded"


def _auroc(s: dict[str, Any], source: str, config: str, of: int) -> str:
    a = s.get(f"{source} / {config} / uncertainty_auroc", {"n": 0})
    return f"{a['mean']:.3f} +- {a['sd']:.3f}{_counted(a['n'], of)}" if a["n"] else "not recorded"


def _warned(s: dict[str, Any], over: int) -> str:
    """How many healthy heads over 1 ml carried the 'possible false alarm' warning (where recorded)."""
    told, recorded = s.get("healthy heads over 1 ml warned", [0, 0])
    if not recorded:
        return "The 'possible false alarm' warning was not recorded by these evaluations."
    which = f"the {over} others" if recorded == over else f"the {recorded} others whose evaluation recorded it"
    return f"Of {which}, {told} carried the 'possible false alarm' warning."


def _fold_runs(recs: list[dict[str, Any]]) -> list[str]:
    """How each fold run trained, the detection rule its validation patients chose, and which classifier fold
    models gave the second opinion (records written before that was kept say so)."""
    lines = ["", "| fold | steps | train min | best step | rule: min ml / min mean P / max P(no tumour) "
                 "| second opinion by (classifier run per held-out classifier fold) |", "|---|---|---|---|---|---|"]
    for rec in recs:
        d = rec["detection"]
        rule = " / ".join(f"{d[k]:g}" if k in d else "?" for k in ("min_component_ml", "min_mean_probability",
                                                                    "max_classifier_notumor"))
        runs = rec.get("classifier_fold_models")
        by = ("; ".join(f"fold {k}: {Path(v).parent.name}" for k, v in sorted(runs.items())) if runs
              else "not recorded (evaluated before the record kept it)" if "classifier_fold_models" not in rec
              else "not asked")
        lines.append(f"| {rec['fold']} | {rec['steps']} | {rec['train_minutes'] or 0:.0f} | {rec['best_step']} | "
                     f"{rule} | {by} |")
    return lines


def _same_patients(r: dict[str, Any], recs: list[dict[str, Any]]) -> list[str]:
    """The fold run whose test patients are the bundled model's, beside it, patient for patient."""
    fold = r["training"].get("fold")
    rec = next((x for x in recs if x["fold"] == fold), None)
    if rec is None or not r["per_case"]:
        return []
    version = r["model"]["version"]
    lines = ["", f"Same test patients (fold {fold}): the bundled model {version} "
                 f"(initialised from: {r['training'].get('init') or 'scratch'}) and the k-fold recipe's fold {fold} "
                 "run, each with its own detection rule; means over the patients both scored.", "",
             f"| test set | n | bundled {version}: Dice WT / TC / ET | k-fold fold {fold}: Dice WT / TC / ET |",
             "|---|---|---|---|"]
    for source, config, title in _TESTS:
        ours = {x["case"]: x for x in r["per_case"] if x["source"] == source and x["config"] == config}
        theirs = {x["case"]: x for x in rec["rows"] if x["source"] == source and x["config"] == config}
        both = sorted(ours.keys() & theirs.keys())
        if both:
            lines.append(f"| {title} | {len(both)} | {_means(ours, both)} | {_means(theirs, both)} |")
    heads = [name for name, v in rec.get("healthy", {}).items() if "tumour_ml" in r["healthy"].get(name, {})]
    if heads:
        clean = [sum(src[h]["tumour_ml"] <= 1.0 for h in heads) for src in (r["healthy"], rec["healthy"])]
        lines += ["", f"Healthy heads both evaluated with <= 1 ml of tumour: bundled {clean[0]} of {len(heads)}, "
                      f"k-fold fold {fold} {clean[1]} of {len(heads)}."]
    return lines


def _means(rows: dict[str, dict[str, Any]], cases: list[str]) -> str:
    return " / ".join(f"{np.mean(vals):.3f}" if len(vals := [rows[c][f'dice_{g}'] for c in cases
                                                             if f'dice_{g}' in rows[c]]) else "-"
                      for g in REGIONS)


def _per_patient(recs: list[dict[str, Any]]) -> list[str]:
    lines = ["", "| fold | test patient | grade | inputs | Dice WT | Dice TC | Dice ET | finding |",
             "|---|---|---|---|---|---|---|---|"]
    for rec in recs:
        for row in rec["rows"]:
            if row["source"] == "brats":
                lines.append(f"| {rec['fold']} | {row['case']} | {row.get('grade') or '?'} | {row['config']} | "
                             + " | ".join(f"{row.get(f'dice_{g}', float('nan')):.3f}" for g in REGIONS)
                             + f" | {row['finding']} |")
    for rec in recs:
        clinical = [row for row in rec["rows"] if row["source"] == "lgg-flair"]
        if clinical:
            lines += ["", f"Fold {rec['fold']}, lgg-flair test patients (FLAIR only), WT Dice: " + ", ".join(
                f"{row['case']} {row['dice_whole_tumor']:.3f}{' (uncertain)' if row['uncertain'] else ''}"
                for row in clinical) + "."]
    return lines
