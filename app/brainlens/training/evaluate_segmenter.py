"""Evaluate the trained segmenter on the held-out BraTS patients and write its model card.

    python -m brainlens.training.evaluate_segmenter --data ../shared/data/brats --run runs/segmenter

Exports OUT/best.pt through the model registry first, then scores the product path itself
(io.load -> ml.segment.segment) on each held-out patient at the original 1 mm grid, for four input
configurations. Every figure in models/segmenter_card.md / .json is computed here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from brainlens.ml.seg_model import CHANNELS, DROPOUT, INIT_FILTERS, MODEL_NAME, PATCH, REGIONS, SPACING_MM
from brainlens.training.segmenter import dice, split_cases

CONFIGS = {"all four": CHANNELS, "FLAIR only": ("flair",), "T1c only": ("t1ce",),
           "FLAIR + T1c": ("flair", "t1ce")}
# BraTS convention for HD95 when exactly one of prediction / truth is empty.
HD95_EMPTY_MM = 373.13
TARGETS = {"whole_tumor": 0.90, "tumor_core": 0.82, "enhancing_tumor": 0.78}
# BraTS 2018 training data ships HGG and LGG in separate folders; these case names are the LGG ones
# (collections TCIA09/10/12/13 and these 2013 cases). Used only to describe the split in the card.
_LGG_PREFIXES = ("Brats18_TCIA09_", "Brats18_TCIA10_", "Brats18_TCIA12_", "Brats18_TCIA13_")
_LGG_2013 = {0, 1, 6, 8, 9, 15, 16, 24, 28, 29}


def grade(case: str) -> str:
    """'LGG' or 'HGG' from the BraTS 2018 case name."""
    if case.startswith(_LGG_PREFIXES):
        return "LGG"
    parts = case.split("_")
    if len(parts) >= 3 and parts[1] == "2013" and parts[2].isdigit() and int(parts[2]) in _LGG_2013:
        return "LGG"
    return "HGG"


def hd95(pred: np.ndarray, truth: np.ndarray, spacing: tuple[float, float, float]) -> float:
    """Symmetric 95th-percentile Hausdorff distance (mm) between mask surfaces."""
    if not pred.any() and not truth.any():
        return 0.0
    if not pred.any() or not truth.any():
        return HD95_EMPTY_MM
    sp = pred & ~ndimage.binary_erosion(pred)
    st = truth & ~ndimage.binary_erosion(truth)
    # Distance maps only over the joint bounding box (+ margin) keep this fast on 240x240x155.
    idx = np.argwhere(sp | st)
    lo = np.maximum(idx.min(0) - 2, 0)
    hi = idx.max(0) + 3
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    d_to_t = ndimage.distance_transform_edt(~st[box], sampling=spacing)
    d_to_p = ndimage.distance_transform_edt(~sp[box], sampling=spacing)
    return float(max(np.percentile(d_to_t[sp[box]], 95), np.percentile(d_to_p[st[box]], 95)))


def export(run: Path, version: str, models_dir: Path | None) -> dict[str, Any]:
    import torch

    from brainlens.ml.registry import write_weights

    best = torch.load(run / "best.pt", map_location="cpu", weights_only=False)
    summary = json.loads((run / "summary.json").read_text()) if (run / "summary.json").exists() else {}
    extra = {"init_filters": INIT_FILTERS, "dropout": DROPOUT, "architecture": "MONAI SegResNet",
             "outputs": "sigmoid WT/TC/ET", "trained_steps": int(best.get("step", 0)),
             "val_dice_wt_tc_et": [round(float(d), 4) for d in best.get("val_dice", [])],
             "test_cases": summary.get("split", {}).get("test", [])}
    entry = write_weights(best["model"], MODEL_NAME, version, "segmenter",
                          {"spacing_mm": [SPACING_MM] * 3, "channels": list(CHANNELS), "patch": list(PATCH)},
                          list(REGIONS), extra, directory=models_dir)
    return {"entry": entry.to_dict(), "summary": summary, "best_step": int(best.get("step", 0))}


def _ms(values: list[float]) -> tuple[float, float]:
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


def brain_extraction_check(cases: list[Any]) -> dict[str, Any]:
    """Coverage of the stripped BraTS foreground, and the phantom (which has a skull) against its truth."""
    from brainlens.core.brain_extraction import brain_mask
    from brainlens.core.phantom import make_head_phantom_with_labels

    cover = []
    for vols in cases:
        flair = vols["flair"]
        nz = flair.data > flair.data.min()
        m = brain_mask(flair.data, flair.spacing)
        cover.append({"covered_foreground": float((m & nz).sum() / max(nz.sum(), 1)),
                      "extra_voxels_frac": float((m & ~nz).sum() / max(nz.sum(), 1))})
    study, labels = make_head_phantom_with_labels()
    ph = {}
    for vol in study.series:
        m = brain_mask(vol.data, vol.spacing)
        head = vol.data > 0.1 * vol.data.max()
        les = labels.data > 0
        ph[vol.sequence] = {"lesion_covered": float((m & les).sum() / les.sum()),
                            "mask_over_head_foreground": float(m.sum() / head.sum())}
    return {"brats_test_flair": cover, "phantom": ph}


def evaluate(data: Path, cases: list[str], samples: int, log, models_dir: Path | None = None) -> dict[str, Any]:
    from brainlens.io import load
    from brainlens.ml.seg_model import labels_to_regions
    from brainlens.ml.segment import segment

    per_case: list[dict[str, Any]] = []
    studies = []
    for case in cases:
        t = time.perf_counter()
        study = load(data / case)
        load_s = time.perf_counter() - t
        vols = {k: v for k, v in study.by_sequence().items() if k in CHANNELS}
        truth_vol = next(v for v in study.series if v.metadata.get("is_label"))
        studies.append(vols)
        truth = labels_to_regions(truth_vol.data)
        for cname, keep in CONFIGS.items():
            result = segment({k: vols[k] for k in keep}, samples=samples, device="cpu", model_dir=models_dir)
            if not np.allclose(result.mask.affine, truth_vol.affine) or result.mask.shape != truth_vol.shape:
                raise RuntimeError(f"{case}: mask grid differs from the label grid")
            pred = labels_to_regions(result.mask.data)
            row = {"case": case, "config": cname, "seconds": result.seconds,
                   "load_seconds": load_s, "device": result.device}
            for i, r in enumerate(REGIONS):
                row[f"dice_{r}"] = dice(pred[i], truth[i])
                row[f"hd95_{r}"] = hd95(pred[i], truth[i], truth_vol.spacing)
            per_case.append(row)
            log(f"{case} [{cname}] Dice WT/TC/ET " + "/".join(f"{row[f'dice_{r}']:.3f}" for r in REGIONS)
                + "  HD95 " + "/".join(f"{row[f'hd95_{r}']:.1f}" for r in REGIONS) + f"  {result.seconds:.1f} s")
    return {"per_case": per_case, "studies": studies}


def postprocess_check(data: Path, cases: list[str], samples: int, models_dir: Path | None,
                      thresholds: tuple[float, ...] = (0.0, 0.5, 2.0)) -> dict[str, Any]:
    """Validation-set Dice/HD95 for several small-component thresholds (how MIN_COMPONENT_ML was chosen)."""
    from brainlens.io import load
    from brainlens.ml.seg_model import labels_to_regions
    from brainlens.ml.segment import remove_small_components, segment

    rows: dict[str, list[dict[str, float]]] = {str(t): [] for t in thresholds}
    for case in cases:
        study = load(data / case)
        truth_vol = next(v for v in study.series if v.metadata.get("is_label"))
        truth = labels_to_regions(truth_vol.data)
        raw = segment(study, samples=samples, device="cpu", model_dir=models_dir, min_component_ml=0.0)
        for t in thresholds:
            pred = labels_to_regions(remove_small_components(raw.mask.data, raw.mask.affine, t))
            rows[str(t)].append({**{f"dice_{r}": dice(pred[i], truth[i]) for i, r in enumerate(REGIONS)},
                                 **{f"hd95_{r}": hd95(pred[i], truth[i], truth_vol.spacing)
                                    for i, r in enumerate(REGIONS)}})
    return {t: {k: float(np.mean([x[k] for x in v])) for k in v[0]} for t, v in rows.items()}


def summarise(per_case: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for cname in CONFIGS:
        rows = [r for r in per_case if r["config"] == cname]
        out[cname] = {}
        for r in REGIONS:
            dm, ds = _ms([x[f"dice_{r}"] for x in rows])
            hm, hs = _ms([x[f"hd95_{r}"] for x in rows])
            out[cname][r] = {"dice_mean": dm, "dice_sd": ds, "hd95_mean": hm, "hd95_sd": hs}
        out[cname]["seconds_mean"] = _ms([x["seconds"] for x in rows])[0]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=Path("../shared/data/brats"))
    p.add_argument("--run", type=Path, default=Path("runs/segmenter"))
    p.add_argument("--models-dir", type=Path, default=None, help="registry folder (default: bundled models/)")
    p.add_argument("--card", type=Path, default=Path("models/segmenter_card"), help="card path without suffix")
    p.add_argument("--samples", type=int, default=None)
    p.add_argument("--version", default=dt.date.today().isoformat())
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--note", default="", help="free-text note on how training went (e.g. resumes)")
    p.add_argument("--limit", type=int, default=None, help="only the first N test cases (smoke test)")
    p.add_argument("--no-export", action="store_true", help="evaluate the weights already in the registry")
    args = p.parse_args(argv)

    from brainlens.ml.device import describe_device
    from brainlens.ml.segment import DEFAULT_SAMPLES, MIN_COMPONENT_ML
    from brainlens.training.segmenter import list_cases

    samples = args.samples or DEFAULT_SAMPLES
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    split = split_cases(list_cases(args.data))
    exported = None if args.no_export else export(args.run, args.version, args.models_dir)

    def log(line: str) -> None:
        print(line, flush=True)

    t = time.perf_counter()
    load_start = os.getloadavg()[0]
    val_pp = None if args.limit else postprocess_check(args.data, split["val"], samples, args.models_dir)
    if val_pp:
        log(f"validation post-processing check: {json.dumps(val_pp)}")
    ev = evaluate(args.data, split["test"][:args.limit], samples, log, args.models_dir)
    bx = brain_extraction_check(ev["studies"])
    import torch

    from brainlens.ml.registry import get_entry

    entry = get_entry(MODEL_NAME, args.models_dir)
    report = {
        "model": entry.to_dict(), "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "split": split, "samples": samples, "summary": summarise(ev["per_case"]), "per_case": ev["per_case"],
        "targets_dice": TARGETS, "training": (exported or {}).get("summary", {}) or _summary(args.run),
        "brain_extraction": bx, "validation_min_component_ml_check": val_pp,
        "min_component_ml": MIN_COMPONENT_ML, "note": args.note,
        "grades": {k: {c: grade(c) for c in v} for k, v in split.items()},
        "peak_rss_mb_evaluation_process": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "hardware": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                     "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                     "device": describe_device("cpu"), "torch": torch.__version__,
                     "load_average_start": load_start, "load_average_end": os.getloadavg()[0]},
        "evaluation_minutes": (time.perf_counter() - t) / 60,
    }
    write_card(report, args.card)
    log(f"wrote {args.card}.md and {args.card}.json")
    return 0


def write_card(report: dict[str, Any], card: Path) -> None:
    """models/segmenter_card.json (everything) and .md (the human summary), both from ``report``."""
    card.parent.mkdir(parents=True, exist_ok=True)
    tmp = card.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2, default=float) + "\n")
    os.replace(tmp, card.with_suffix(".json"))
    tmp = card.with_suffix(".md.tmp")
    tmp.write_text(card_markdown(report))
    os.replace(tmp, card.with_suffix(".md"))


def card_markdown(r: dict[str, Any]) -> str:
    m, tr, hw, bx = r["model"], r["training"], r["hardware"], r["brain_extraction"]
    abbrev = {"whole_tumor": "WT", "tumor_core": "TC", "enhancing_tumor": "ET"}
    lines = [f"# Model card: {m['name']} (version {m['version']})", "",
             f"Generated by `brainlens.training.evaluate_segmenter` on {r['generated']}; every figure below is "
             "computed by that script. Weights: `models/" + m["file"] + f"` (SHA-256 `{m['sha256'][:16]}...`).",
             "", "## Intended use", "",
             "Research and teaching only: NOT for diagnosis, treatment planning or any clinical decision. "
             "Segments adult glioma sub-regions (BraTS labels 1 necrotic/non-enhancing core, 2 oedema, "
             "4 enhancing tumour) in skull-stripped, co-registered brain MRI (FLAIR, T1, T1c, T2; any subset).",
             "", "## Model", "",
             f"MONAI SegResNet, {m['extra'].get('init_filters')} initial filters, dropout "
             f"{m['extra'].get('dropout')} (used for MC-dropout uncertainty), 4 input channels "
             f"({', '.join(m['input']['channels'])}; missing ones are zero), 3 sigmoid outputs (WT, TC, ET) "
             f"converted to labels (ET->4, TC minus ET->1, WT minus TC->2). Input resampled to "
             f"{m['input']['spacing_mm'][0]} mm isotropic on the reference series' RAS axes, cropped to the "
             "brain mask, z-scored per sequence inside it; output mapped back to the reference (FLAIR, else "
             f"T1c) source grid. Convolutions run under bfloat16 autocast on CPUs with native bf16 kernels "
             f"(as in training; float32 elsewhere). Sliding window {m['input']['patch']}, overlap 0.25, "
             f"{r['samples']} sample(s) per study (plain pass + flip TTA with MC dropout) for the uncertainty. "
             f"Tumour components under {r['min_component_ml']} ml are dropped (the largest always stays)"
             + (" -- validation mean Dice WT/TC/ET by threshold (ml): " + "; ".join(
                 f"{t}: " + "/".join(f"{v['dice_' + g]:.3f}" for g in REGIONS)
                 for t, v in r["validation_min_component_ml_check"].items())
                if r.get("validation_min_component_ml_check") else "") + ".",
             "", "## Data and split", "",
             "BraTS 2018 training cases (Menze et al. 2015; Bakas et al. 2017), 16 patients, patient-wise split "
             f"fixed by seed: test {', '.join(r['split']['test'])}; validation (early stopping) "
             f"{', '.join(r['split']['val'])}; training: the other {len(r['split']['train'])}. "
             "No k-fold cross-validation: one CPU training run already takes the session's budget, so the "
             "figures below come from 4 test patients and have wide uncertainty. Tumour grade by BraTS "
             "2018 folder: " + "; ".join(f"{k} " + ", ".join(f"{g} x{list(v.values()).count(g)}"
                                                            for g in ("HGG", "LGG") if g in v.values())
                                         for k, v in r["grades"].items()) + ".",
             "", "## Training", "",
             f"{tr.get('steps', '?')} steps of batch {tr.get('batch', '?')} random 64^3 patches at 2 mm "
             f"(tumour-centred 2/3 of the time), AdamW lr {tr.get('lr', '?')} with warm-up + cosine, "
             f"DiceCE loss (sigmoid), sequence drop-out p={tr.get('drop_p', '?')} (favouring FLAIR-only, "
             "T1c-only, FLAIR+T1c), flips, small rotations/scaling, gamma, contrast, bias field, noise, "
             f"low-resolution simulation. {tr.get('train_minutes', 0):.0f} min on {tr.get('threads', 1)} CPU "
             f"thread(s) of a shared 2-core machine; stop: {tr.get('stop_reason', '?')}. Best validation "
             f"mean Dice {tr.get('best_val_mean_dice', float('nan')):.3f} at step {tr.get('best_step', '?')} "
             "(2 mm grid, all four sequences); those weights are the ones exported. " + r.get("note", ""),
             "", "## Results on the held-out test patients (original 1 mm grid)", "",
             "Dice and HD95 (mm), mean +- sd over patients. HD95 uses the BraTS convention "
             f"{HD95_EMPTY_MM} mm when exactly one of prediction/truth is empty.", "",
             "| inputs | Dice WT | Dice TC | Dice ET | HD95 WT | HD95 TC | HD95 ET | s/study |",
             "|---|---|---|---|---|---|---|---|"]
    for cname, s in r["summary"].items():
        cells = [f"{s[g]['dice_mean']:.3f} +- {s[g]['dice_sd']:.3f}" for g in REGIONS]
        cells += [f"{s[g]['hd95_mean']:.1f} +- {s[g]['hd95_sd']:.1f}" for g in REGIONS]
        lines.append(f"| {cname} | " + " | ".join(cells) + f" | {s['seconds_mean']:.1f} |")
    allf = r["summary"]["all four"]
    verdict = ", ".join(f"{abbrev[g]} {allf[g]['dice_mean']:.3f} vs {t:.2f} "
                        f"({'met' if allf[g]['dice_mean'] >= t else 'NOT met'})" for g, t in r["targets_dice"].items())
    fl = r["summary"]["FLAIR only"]["whole_tumor"]["dice_mean"]
    lines += ["", f"Targets (all four sequences): {verdict}; FLAIR-only WT {fl:.3f} vs 0.85 "
              f"({'met' if fl >= 0.85 else 'NOT met'}).", "", "Per patient (all four sequences):", "",
              "| case | grade | Dice WT | Dice TC | Dice ET | HD95 WT | HD95 TC | HD95 ET |",
              "|---|---|---|---|---|---|---|---|"]
    for row in r["per_case"]:
        if row["config"] == "all four":
            lines.append(f"| {row['case']} | {grade(row['case'])} | "
                         + " | ".join(f"{row['dice_' + g]:.3f}" for g in REGIONS) + " | "
                         + " | ".join(f"{row['hd95_' + g]:.1f}" for g in REGIONS) + " |")
    lines += ["", "## Speed and memory", "",
              f"Mean seconds per study are in the table (segment() only, {hw['device']}, "
              f"{hw['processor']}, {hw['cpu_count']} CPUs, torch {hw['torch']}; the machine was shared with "
              f"other jobs: 1-min load average {hw['load_average_start']:.1f} at the start, "
              f"{hw['load_average_end']:.1f} at the end). Peak RSS of the whole evaluation process: "
              f"{r['peak_rss_mb_evaluation_process']:.0f} MB. See benchmarks/bench_segment.py for per-stage "
              "timing of a single study.",
              "", "## Brain extraction check", "",
              "`core/brain_extraction.py` (intensity + morphology, no learned model). On the 4 test patients "
              "(already skull-stripped) the FLAIR mask covers "
              + ", ".join(f"{c['covered_foreground'] * 100:.1f} %" for c in bx["brats_test_flair"])
              + " of the nonzero voxels (extra voxels outside: "
              + ", ".join(f"{c['extra_voxels_frac'] * 100:.2f} %" for c in bx["brats_test_flair"])
              + "). On the synthetic phantom with a skull (core/phantom.py) the lesion is covered "
              + ", ".join(f"{k} {v['lesion_covered'] * 100:.0f} %" for k, v in bx["phantom"].items())
              + "; mask / head-foreground volume "
              + ", ".join(f"{k} {v['mask_over_head_foreground']:.2f}" for k, v in bx["phantom"].items())
              + ". Known weakness: below the skull base the mask can run into neck muscle (no shape prior).",
              "", "## Not tested on / limitations", "",
              "- Studies with the skull on (the network only saw skull-stripped BraTS data; the brain "
              "extraction above is a heuristic and was only checked on a synthetic phantom).",
              "- Thick-slice or anisotropic clinical acquisitions (only simulated by augmentation), "
              "non-co-registered sequences, DICOM clinical data from any scanner.",
              "- Other tumour types (metastases, meningioma, paediatric tumours), post-operative cavities, "
              "healthy brains (false positives not measured), children.",
              "- 10 training patients, 4 test patients: small, single-source; results can differ "
              "widely on other data."
              + (" The seeded split put no lower-grade glioma (LGG) in training, while both validation "
                 "patients are LGG, so model selection was driven by a tumour type the network never saw."
                 if "LGG" not in r["grades"]["train"].values() and "LGG" in r["grades"]["val"].values() else ""),
              "- Volume ranges are the 5th-95th percentile of the per-sample volumes (plain pass + flip / "
              "MC-dropout samples) on the 2 mm grid, rescaled to the delivered mask's volume: they show "
              "sampling spread only and are not calibrated against the true volume error.",
              ""]
    return "\n".join(lines)


def _summary(run: Path) -> dict[str, Any]:
    path = run / "summary.json"
    return json.loads(path.read_text()) if path.exists() else {}


if __name__ == "__main__":
    raise SystemExit(main())
