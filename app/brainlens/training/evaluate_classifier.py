"""Calibrate, export and evaluate the tumour-type classifiers; write models/classifier_card.{md,json}.

    python -m brainlens.training.evaluate_classifier --data ../shared/data/brain-mri-2d \
        --runs runs/classifier [--arch brainresnet gbmnet] [--models models]

Per architecture, from <runs>/<arch>/best.pt and the cached leakage-free split:
1. temperature T fitted on VALIDATION (minimum NLL of the product's predictive mean: TTA + MC dropout);
2. uncertainty threshold on validation entropy (metrics.entropy_threshold: the largest entropy whose
   confident subset is >= 99 % accurate, flagging at most 20 % of validation);
3. OOD statistics (class means + tied precision) from TRAIN embeddings; threshold = 99th percentile of the
   VALIDATION Mahalanobis scores;
4. export through the registry (brainresnet float32, gbmnet float16 as the selectable baseline);
5. reload from the registry and evaluate the TEST split through the product engine (raw image files ->
   classify), plus the OOD probe set, latency and a BraTS whole-volume sanity check.
Every figure in the card comes from this run; nothing is typed by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from brainlens.ml import classifier_ood
from brainlens.ml.classifier_engine import PREPROCESS_ID, Classifier, from_network, load_classifier
from brainlens.ml.classifier_models import CLASS_NAMES, count_parameters
from brainlens.ml.classify import MAX_CHROMA, chroma, classify_many, read_image
from brainlens.ml.registry import models_dir, sha256_file, write_weights
from brainlens.training import metrics
from brainlens.training.classifier_card import render_markdown, split_figures
from brainlens.training.classifier_data import build_dataset
from brainlens.training.classifier_probes import latency, synthetic_ood_inputs
from brainlens.training.evaluate_classifier_study import (
    PRETRAINED_SOURCE,
    STUDY_ARCHS,
    calibrate_with_studies,
    run_network,
    study_timing,
)
from brainlens.training.export_onnx import export_classifier_trunk

EXPORT = {"brainresnet": {"version": "1.0", "half": False}, "gbmnet": {"version": "1.0", "half": True},
          "efflite0": {"version": "1.2", "half": False}}  # 1.2: model A9 (A3 fine-tuned at 192 px on slice set v4)
ONNX_ARCHS = ("efflite0",)  # trunk exported for ONNX Runtime (ml.classifier_onnx)
OOD_PERCENTILE = 99.0
TARGET_CONFIDENT_ACC = 0.99
MAX_FLAGGED = 0.20


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _standardised(images_u8: np.ndarray) -> torch.Tensor:
    from brainlens.training.augment2d import standardize

    return standardize(torch.from_numpy(images_u8).float().div_(255.0).unsqueeze(1))


def _batched_logits(clf: Classifier, images_u8: np.ndarray, mc: int | None, tta: bool,
                    batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(S, N, C) sample logits and (N, D) embeddings of already-prepared uint8 images."""
    logits, embs = [], []
    for s in range(0, len(images_u8), batch):
        lg, em = clf.sample_logits(_standardised(images_u8[s:s + batch]), mc_samples=mc, tta=tta)
        logits.append(lg.numpy())
        embs.append(em.numpy())
    return np.concatenate(logits, axis=1), np.concatenate(embs)


def _mean_probs(sample_logits: np.ndarray, t: float) -> np.ndarray:
    return torch.softmax(torch.from_numpy(sample_logits) / t, dim=-1).mean(0).numpy()


def calibrate(arch: str, net: torch.nn.Module, data: dict, mc_samples: int,
              extra_train: tuple[np.ndarray, np.ndarray] | None = None,
              max_train: int | None = None) -> tuple[dict, classifier_ood.OODStats]:
    """Temperature, entropy threshold and OOD statistics/threshold, all from train/validation only.
    extra_train: further training images (the 3D-study slices the model was trained on) for the OOD fit;
    max_train: fit the OOD statistics on a seeded random subset of that many 2D train images (CPU time)."""
    images, labels = data["images"], data["labels"]
    tr, va = np.array(data["split"]["train"]), np.array(data["split"]["val"])
    clf = from_network(net, arch, arch, mc_samples=mc_samples)
    _log(f"{arch}: validation logits ({len(va)} images, TTA + {mc_samples} MC samples)")
    val_logits, val_emb = _batched_logits(clf, images[va], mc=None, tta=True)
    y_val = labels[va]
    t = metrics.fit_temperature(lambda temp: _mean_probs(val_logits, temp), y_val)
    p_val = _mean_probs(val_logits, t)
    ent = -(p_val * np.log(np.clip(p_val, 1e-12, 1))).sum(1)
    correct = p_val.argmax(1) == y_val
    ent_t = metrics.entropy_threshold(ent, correct, TARGET_CONFIDENT_ACC, MAX_FLAGGED)
    _log(f"{arch}: T={t:.3f}, entropy threshold {ent_t:.3f}; train embeddings ({len(tr)} images)")
    if max_train and len(tr) > max_train:
        tr = np.sort(np.random.default_rng(0).choice(tr, max_train, replace=False))
    _, train_emb = _batched_logits(clf, images[tr], mc=0, tta=False)
    train_y = labels[tr]
    if extra_train is not None:
        train_emb = np.concatenate([train_emb, _batched_logits(clf, extra_train[0], mc=0, tta=False)[1]])
        train_y = np.concatenate([train_y, extra_train[1]])
    ood = classifier_ood.fit(train_emb, train_y, len(CLASS_NAMES))
    val_scores = classifier_ood.mahalanobis(torch.from_numpy(val_emb), ood).numpy()
    ood_t = float(np.percentile(val_scores, OOD_PERCENTILE))
    flagged = ent > ent_t
    cal = {
        "temperature": t, "entropy_threshold": float(ent_t), "ood_threshold": ood_t,
        "ood_feature_scale": ood.scale, "mc_samples": mc_samples, "tta": ["identity", "hflip"],
        "val": {"n": int(len(va)), "nll_before": metrics.nll(_mean_probs(val_logits, 1.0), y_val),
                "nll_after": metrics.nll(p_val, y_val), "ece_before": metrics.ece(_mean_probs(val_logits, 1.0), y_val),
                "ece_after": metrics.ece(p_val, y_val), "accuracy": float(correct.mean()),
                "flagged_uncertain": float(flagged.mean()),
                "confident_accuracy": float(correct[~flagged].mean()) if (~flagged).any() else float("nan"),
                "ood_flagged": float((val_scores > ood_t).mean())},
        "ood_fit_images": int(len(tr) + (0 if extra_train is None else len(extra_train[0]))),
        "rules": {
            "temperature": "minimise validation NLL of the predictive mean (TTA + MC dropout) over T",
            "uncertain": (f"entropy > threshold; threshold = largest validation entropy whose confident subset "
                          f"is >= {TARGET_CONFIDENT_ACC:.0%} accurate, at most {MAX_FLAGGED:.0%} of validation "
                          "flagged"),
            "ood": (f"Mahalanobis distance of the embedding to the nearest class mean (tied covariance from "
                    f"train, shrinkage {classifier_ood.SHRINKAGE}) > {OOD_PERCENTILE:g}th percentile of "
                    "validation; a blank image is always OOD"),
        },
    }
    return cal, ood


def export(arch: str, net: torch.nn.Module, cal: dict, ood: classifier_ood.OODStats, ckpt: dict,
           models: Path, more: dict | None = None) -> dict:
    state = {**net.state_dict(), **ood.to_tensors()}
    extra = {"arch": arch, **{k: cal[k] for k in ("temperature", "entropy_threshold", "ood_threshold",
                                                  "ood_feature_scale", "mc_samples", "tta")},
             "rules": cal["rules"], "epoch": int(ckpt.get("epoch", 0)), "parameters": count_parameters(net),
             "card": "classifier_card.md", **(more or {})}
    if hasattr(net, "input_size"):  # EfficientNet-Lite: the size it was trained at
        extra["input_size"] = int(net.input_size)
    cfg = EXPORT[arch]
    entry = write_weights(state, arch, cfg["version"], "classifier",
                          input={"size": [256, 256], "channels": 1, "preprocess": PREPROCESS_ID},
                          labels=list(CLASS_NAMES), extra=extra, directory=models, half=cfg["half"])
    size = (models / entry.file).stat().st_size
    return {"file": entry.file, "sha256": entry.sha256, "dtype": entry.dtype, "version": entry.version,
            "bytes": int(size)}


def evaluate_test(clf: Classifier, data: dict, data_dir: Path) -> dict:
    """Raw test files -> the product path; plus T=1 and plain-path probabilities for the calibration rows."""
    te = np.array(data["split"]["test"])
    y = data["labels"][te]
    raws = [read_image(data_dir / data["paths"][i]) for i in te]
    results = classify_many(raws, clf, batch=32)
    probs = np.array([[r.probabilities[k] for k in CLASS_NAMES] for r in results])
    raw_logits, _ = _batched_logits(clf, data["images"][te], mc=None, tta=True)
    plain_logits, _ = _batched_logits(clf, data["images"][te], mc=0, tta=False)
    consistency = float(np.abs(_mean_probs(raw_logits, clf.temperature) - probs).max())
    return split_figures(y, probs, results, _mean_probs(raw_logits, 1.0),
                        {"before": _mean_probs(plain_logits, 1.0), "after": _mean_probs(plain_logits, clf.temperature)},
                        consistency)


def ood_probe(clf: Classifier) -> dict:
    rows = {}
    for name, imgs in synthetic_ood_inputs().items():
        res = classify_many(imgs, clf, batch=16)
        reasons = [r.ood_reason for r in res if r.ood_reason]
        rows[name] = {"n": len(res), "flagged": float(np.mean([r.ood for r in res])),
                      "median_score": float(np.median([min(r.ood_score, 1e9) for r in res])),
                      "reasons": {k: reasons.count(k) for k in sorted(set(reasons))}}
    return rows


def brats_sanity(clf: Classifier, brats_dir: Path, n_cases: int, sequence: str = "t1ce") -> list[dict]:
    """Whole-volume mode on BraTS cases (all gliomas, skull-stripped 3D MR): a sanity check, not a benchmark."""
    import nibabel as nib

    from brainlens.core.volume import Volume
    from brainlens.ml.classify_volume import classify_volume

    rows = []
    for case in sorted(p for p in brats_dir.glob("*") if p.is_dir())[:n_cases]:
        path = case / f"{case.name}_{sequence}.nii.gz"
        if not path.exists():
            continue
        img = nib.load(str(path))
        vol = Volume(np.asarray(img.dataobj, np.float32), img.affine, case.name, sequence)
        summary = classify_volume(vol, plane="axial", model=clf, mc_samples=0, tta=False)
        rows.append({"case": case.name, **summary.to_dict()})
    return rows


def colour_check(data: dict, data_dir: Path) -> dict:
    """Chroma of every RGB-stored dataset image, to show the colour OOD rule never fires on real slices."""
    values = [chroma(img) for img in (read_image(data_dir / rel) for rel in data["paths"]) if img.ndim == 3]
    v = np.array(values) if values else np.zeros(1)
    return {"n_rgb": len(values), "max_chroma": float(v.max()), "p99_chroma": float(np.percentile(v, 99)),
            "threshold": MAX_CHROMA}


def evaluate_arch(arch: str, args: argparse.Namespace, data: dict, models: Path) -> dict:
    run = Path(args.runs) / arch
    net, ckpt = run_network(run, arch)
    study_eval = None
    if arch in STUDY_ARCHS and Path(args.volumes).is_dir():
        cal, ood, study_eval = calibrate_with_studies(arch, net, run, data, args, _log)
        more = {"study_rule": study_eval["rule"], "gradcam_stage": study_eval["cam_stage"],
                "gradcam_views": study_eval["cam_views"],
                "weights_source": PRETRAINED_SOURCE}
    else:
        cal, ood = calibrate(arch, net, data, args.mc_samples)
        more = None
    exported = export(arch, net, cal, ood, ckpt, models, more)
    if arch in ONNX_ARCHS:  # the product's CPU path, so the test figures and latency below are the product's
        exported["onnx"] = export_classifier_trunk(arch, models)
    _log(f"{arch}: exported {exported['file']} ({exported['bytes'] / 1e6:.1f} MB); testing through the engine")
    clf = load_classifier(arch, device="cpu", directory=models)
    if study_eval is not None:
        study_eval["timing"] = study_timing(clf, Path(args.volumes))
    test = evaluate_test(clf, data, Path(args.data))
    _log(f"{arch}: balanced accuracy {test['balanced_accuracy']:.4f}; OOD probes, latency")
    probes = ood_probe(clf)
    sample = read_image(Path(args.data) / data["paths"][data["split"]["test"][0]])
    lat = latency(clf, sample, runs=args.latency_runs)
    brats = brats_sanity(clf, Path(args.brats), args.brats_cases) \
        if Path(args.brats).is_dir() and study_eval is None else []
    summary_path = run / "train_summary.json"
    train = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    log_path = run / "train.log.jsonl"
    epochs = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()] \
        if log_path.exists() else []
    return {
        "arch": arch, "parameters": count_parameters(net), "best_epoch": int(ckpt.get("epoch", 0)),
        "export": exported, "calibration": cal, "test": test, "ood_probe": probes, "latency": lat,
        "brats_sanity": brats, "study": study_eval,
        "evaluated": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "training": {"elapsed_minutes": round(float(train.get("elapsed", float("nan"))) / 60, 1),
                     "epochs": train.get("epoch"), "stop_reason": train.get("stop_reason"),
                     "device": train.get("device"), "threads": (train.get("args") or {}).get("threads"),
                     "recipe": train.get("recipe"), "finished": bool(train),
                     "best_val_loss": train.get("best_loss"), "started_from": _start_chain(train),
                     "select_by": (train.get("args") or {}).get("select_by", "loss"),
                     "val_curve": [{k: e[k] for k in ("epoch", "val_loss", "val_balanced_acc")} for e in epochs]},
    }


def _start_chain(train: dict) -> list[dict]:
    """The earlier runs this one started from (--init-run), oldest last: each with its minutes and epochs."""
    chain, args = [], train.get("args") or {}
    while args.get("init_run"):
        path = Path(args["init_run"]) / args.get("arch", "") / "train_summary.json"
        earlier = json.loads(path.read_text()) if path.exists() else {}
        chain.append({"run": str(args["init_run"]), "epochs": earlier.get("epoch"),
                      "elapsed_minutes": round(float(earlier.get("elapsed", float("nan"))) / 60, 1),
                      "lr_scale": (earlier.get("args") or {}).get("lr_scale", 1.0)})
        args = earlier.get("args") or {}
    return chain


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m brainlens.training.evaluate_classifier", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/data/brain-mri-2d")
    p.add_argument("--runs", default="runs/classifier")
    p.add_argument("--arch", nargs="+", default=["brainresnet", "gbmnet"], choices=sorted(EXPORT))
    p.add_argument("--models", default=None, help="models directory (default: the bundled models/)")
    p.add_argument("--brats", default="../shared/data/brats", help="BraTS folder for the volume sanity check")
    p.add_argument("--brats-cases", type=int, default=4)
    p.add_argument("--mc-samples", type=int, default=16)
    p.add_argument("--latency-runs", type=int, default=100)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cache", default=None, help="preprocessed-data cache (default <runs>/cache)")
    p.add_argument("--volumes", default="../shared/data",
                   help="data root with brats/ and lgg-flair/ for the study-level evaluation")
    p.add_argument("--brats-sequences", nargs="+", default=["t1ce", "flair", "t1", "t2"],
                   help="BraTS sequences scored as studies")
    p.add_argument("--thick-mm", type=float, default=5.0, help="also score BraTS as slabs this thick (0: no)")
    p.add_argument("--cam-tuning-studies", type=int, default=1000,
                   help="training-fold studies used to choose the Grad-CAM stage")
    p.add_argument("--ood-fit-2d", type=int, default=2500, help="2D train images for the OOD statistics")
    p.add_argument("--fold-runs", nargs="*", default=[],
                   help="run folders (<run>/<arch>/best.pt) of the models trained with the other 3D fold held out")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    models = Path(args.models) if args.models else models_dir()
    cache = Path(args.cache) if args.cache else Path(args.runs) / "cache"
    data = build_dataset(Path(args.data), cache)
    card_json = models / "classifier_card.json"
    card = json.loads(card_json.read_text()) if card_json.exists() else {"models": {}}
    card["data"] = {"dataset": "Brain Tumor MRI Dataset (Nickparvar, Kaggle; CC0), 224x224 copy",
                    "dedup": data["summary"], "split_sha256": sha256_file(cache / "split.json"),
                    "colour_check": colour_check(data, Path(args.data))}
    card["hardware"] = {"cpu": f"{_cpu_name()} ({os.cpu_count()} logical CPUs)", "python": platform.python_version(),
                        "torch": torch.__version__, "onnxruntime": _version("onnxruntime"),
                        "platform": platform.platform()}
    for arch in args.arch:
        card["models"][arch] = evaluate_arch(arch, args, data, models)
        card["generated"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        card_json.write_text(json.dumps(card, indent=2, default=float) + "\n")
        (models / "classifier_card.md").write_text(render_markdown(card), encoding="utf-8")
        _log(f"{arch}: card written to {card_json} and classifier_card.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
