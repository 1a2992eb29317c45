"""Cross-validation of the segmenter recipe: one record per evaluated fold run, pooled into the model card.

Each fold run (``brainlens-train segmenter --fold k``, trained from scratch with the k-fold recipe) is
evaluated by ``evaluate_segmenter`` into a scratch registry, exactly as the bundled model is (validation picks
its detection rule, then its test patients are scored). `add` keeps the test rows of that report as
``FOLDS_DIR/fold<k>.json``; `render` pools every fold record into the bundled card's "k-fold" section,
per patient and as mean +- sd over all test patients of all folds evaluated so far.

    python -m brainlens.training.segmenter_kfold add SCRATCH/segmenter_card.json
    python -m brainlens.training.segmenter_kfold render          # rewrites models/segmenter_card.{md,json}
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

FOLDS = 4
FOLDS_DIR = Path("models/segmenter_kfold")
CARD = Path("models/segmenter_card")
_ROW_KEYS = ("case", "source", "config", "finding", "uncertain", "dice_whole_tumor", "dice_tumor_core",
             "dice_enhancing_tumor", "hd95_whole_tumor", "range_contains_truth", "uncertainty_auroc", "true_wt_ml",
             "wt_range_ml", "disagreement")


def fold_record(report: dict[str, Any]) -> dict[str, Any]:
    """What the card needs from one fold's evaluation report: the fold, how it trained, its test rows."""
    training = report["training"]
    fold = training.get("fold")
    if fold is None or not 0 <= int(fold) < FOLDS:
        raise ValueError(f"the report is not of a k-fold run (fold {fold!r})")
    if training.get("init"):  # the card says every fold run starts from scratch; a warm start may have seen test
        raise ValueError(f"fold {fold} was warm-started from {training['init']!r}, not trained with the k-fold recipe")
    grades = report.get("grades", {}).get("test", {})
    rows = [{**{k: row[k] for k in _ROW_KEYS if k in row}, "grade": grades.get(row["case"])}
            for row in report["per_case"]]
    healthy = {name: {k: v[k] for k in ("tumour_ml", "finding", "warned_false_alarm") if k in v}
               for name, v in report.get("healthy", {}).items() if "tumour_ml" in v}
    return {"fold": int(fold), "generated": report["generated"], "steps": training.get("steps"),
            "train_minutes": training.get("train_minutes"), "best_step": training.get("best_step"),
            "detection": report["detection"], "rows": rows, "healthy": healthy,
            # which classifier fold models gave the second opinion (None: not asked)
            "classifier_fold_models": report.get("classifier_fold_models"),
            "volume_range": report.get("volume_range")}  # the fold's own range margin, to un-widen its ranges


def load_records(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("fold*.json"))]


def pooled(records: list[dict[str, Any]], source: str, config: str, metric: str) -> dict[str, Any]:
    """mean +- sd of one metric over every test patient of every fold (patients, not folds, are the unit)."""
    vals = np.array([row[metric] for rec in records for row in rec["rows"] if row["source"] == source
                     and row["config"] == config and row.get(metric) is not None], np.float64)
    return {"n": int(len(vals)), "mean": float(vals.mean()) if len(vals) else float("nan"),
            "sd": float(vals.std(ddof=1)) if len(vals) > 1 else 0.0}


def range_width(records: list[dict[str, Any]], source: str, config: str) -> dict[str, Any]:
    """Median (high - low) / true whole-tumour volume of the reported ranges: a range can contain the truth
    only by being wide (records from before the ranges were kept are left out: n says how many count)."""
    widths = [(row["wt_range_ml"][1] - row["wt_range_ml"][0]) / row["true_wt_ml"] for rec in records
              for row in rec["rows"] if row["source"] == source and row["config"] == config
              and "wt_range_ml" in row and row.get("true_wt_ml", 0) > 0]
    return {"n": len(widths), "median": float(np.median(widths)) if widths else float("nan")}


def out_of_fold_range_scores(records: list[dict[str, Any]]) -> tuple[list[float], list[int]]:
    """Range scores (margin needed / disagreement, as ``evaluate_segmenter.choose_range_margin``) of every
    held-out study of the fold runs, on each study's sampled range before its fold's widening; records that
    did not keep the disagreement or their margin are left out. Returns the scores and the folds used."""
    from brainlens.ml.seg_uncertainty import range_margin, range_score, unwidened

    scores, folds = [], []
    for rec in records:
        rows = [row for row in rec["rows"] if "disagreement" in row and "wt_range_ml" in row]
        if (rec.get("volume_range") or {}).get("per_disagreement") is None or not rows:
            continue
        folds.append(rec["fold"])
        for row in rows:
            sampled = unwidened(row["wt_range_ml"], range_margin(rec, row["disagreement"]))
            scores.append(range_score(sampled, row["true_wt_ml"], row["disagreement"]))
    return scores, folds


def summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"folds": [r["fold"] for r in records], "of": FOLDS}
    tests = [("brats", c) for c in ("all four", "FLAIR only", "T1c only")] + [("lgg-flair", "FLAIR only")]
    for source, config in tests:
        for metric in ("dice_whole_tumor", "dice_tumor_core", "dice_enhancing_tumor", "hd95_whole_tumor",
                       "range_contains_truth", "uncertainty_auroc"):
            out[f"{source} / {config} / {metric}"] = pooled(records, source, config, metric)
        out[f"{source} / {config} / range width over true volume"] = range_width(records, source, config)
    clinical = [row for rec in records for row in rec["rows"] if row["source"] == "lgg-flair"]
    out["lgg-flair below 0.3 without the uncertainty flag"] = sorted(
        row["case"] for row in clinical if row["dice_whole_tumor"] < 0.3 and not row["uncertain"])
    heads = [v for rec in records for v in rec.get("healthy", {}).values()]
    out["healthy heads <= 1 ml"] = [sum(v["tumour_ml"] <= 1.0 for v in heads), len(heads)]
    # Of the heads over 1 ml, how many told the user 'possible false alarm' (fold records before this
    # warning existed do not say: they are left out of both counts).
    told = [v["warned_false_alarm"] for v in heads if v["tumour_ml"] > 1.0 and "warned_false_alarm" in v]
    out["healthy heads over 1 ml warned"] = [sum(told), len(told)]
    return out


def add(report_path: Path, folder: Path) -> Path:
    record = fold_record(json.loads(report_path.read_text()))
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"fold{record['fold']}.json"
    out.write_text(json.dumps(record, indent=1) + "\n")
    return out


def render(card: Path, folder: Path) -> None:
    from brainlens.training.segmenter_card import write_card

    report = json.loads(card.with_suffix(".json").read_text())
    records = load_records(folder)
    report["kfold"] = {"records": records, "summary": summary(records)} if records else None
    write_card(report, card)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("add", help="keep a fold run's evaluation report as a fold record")
    a.add_argument("report", type=Path, help="the fold evaluation's card JSON")
    r = sub.add_parser("render", help="pool the fold records into the bundled card")
    r.add_argument("--card", type=Path, default=CARD, help="card path without suffix")
    for s in (a, r):
        s.add_argument("--folds-dir", type=Path, default=FOLDS_DIR)
    args = p.parse_args(argv)
    try:
        if args.command == "add":
            print(f"wrote {add(args.report, args.folds_dir)}")
        else:
            render(args.card, args.folds_dir)
            print(f"wrote {args.card}.md and {args.card}.json")
    except (OSError, ValueError, KeyError) as exc:
        print(f"segmenter_kfold: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
