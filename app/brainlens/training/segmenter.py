"""Train the 3D tumour segmenter (SegResNet, 2 mm, sigmoid WT/TC/ET) on BraTS + clinical FLAIR, on CPU.

    python -m brainlens.training.segmenter --data ../shared/data/brats --lgg ../shared/data/lgg-flair \
        --fold 0 --out ~/.cache/brainlens/runs/seg-fold0 [--init bundled] [--resume] [--max-minutes 75]

Patient-wise folds per source (training.seg_data): fold k holds out its test patients, validates on a
few others (early stopping), trains on the rest; --fold -1 trains the final model on all but validation.
Clinical FLAIR cases supervise the whole tumour only (training.seg_loss). Preprocessed cases are cached
as .npz under OUT/cache. Checkpoints (model, optimiser, scheduler, RNG,
step) go to OUT/last.pt every epoch, the best validation model to OUT/best.pt, one line per epoch to
OUT/train.log. The step budget is calibrated from measured step time so the cosine schedule ends
inside ``--max-minutes``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from brainlens.ml.seg_model import CHANNELS, PATCH, REGIONS, SPACING_MM
from brainlens.training.seg_data import (
    BRATS_VAL,
    FOLDS,
    LGG_SEED,
    LGG_VAL,
    TrainCase,
    brats_case,
    extractor_from_manifest,
    fold_split,
    lgg_case,
    list_cases,
    list_lgg_cases,
    split_cases,
)
from brainlens.training.seg_healthy import healthy_cases

__all__ = ["dice", "list_cases", "lr_factor", "main", "replan_total", "split_cases", "validate"]

def dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """Dice of two bool masks; 1.0 when both are empty (the BraTS convention)."""
    s = int(pred.sum()) + int(truth.sum())
    return 1.0 if s == 0 else 2.0 * int((pred & truth).sum()) / s


def predict(model: Any, case: TrainCase, keep: tuple[str, ...] = CHANNELS, bf16: bool = False) -> np.ndarray | None:
    """(3, X, Y, Z) bool prediction on the 2 mm grid from the sequences in ``keep`` (sliding window, patch
    size, overlap 0.25); None when the case has none of them."""
    import torch
    from monai.inferers import sliding_window_inference

    from brainlens.ml.seg_model import autocast

    img = case.image.copy()
    for c, name in enumerate(CHANNELS):
        if name not in keep:
            img[c] = 0
    if not img.any():
        return None
    with torch.no_grad(), autocast("cpu", bf16):
        logits = sliding_window_inference(torch.from_numpy(img)[None], PATCH, 1, model, overlap=0.25,
                                          mode="gaussian")
    return (torch.sigmoid(logits.float())[0] > 0.5).numpy()


def validate(model: Any, cases: list[TrainCase], keep: tuple[str, ...] = CHANNELS,
             bf16: bool = False) -> list[float]:
    """Mean Dice per region over the cases that label it (NaN where none does)."""
    scores: list[list[float]] = [[] for _ in REGIONS]
    model.eval()
    for case in cases:
        pred = predict(model, case, keep, bf16)
        if pred is None:
            continue
        for i in range(len(REGIONS)):
            if case.known[i]:
                scores[i].append(dice(pred[i], case.regions[i]))
    model.train()
    return [float(np.mean(s)) if s else float("nan") for s in scores]


def healthy_false_positive_ml(model: Any, cases: list[TrainCase], bf16: bool = False) -> list[float]:
    """Predicted whole-tumour volume (ml) on each tumour-free case: with every sequence it has, and for
    four-sequence cases also T1 alone (the input on which the first models saw the most tumour)."""
    voxel_ml = SPACING_MM ** 3 / 1000
    out = []
    model.eval()
    for case in cases:
        has_t1 = bool(case.image[CHANNELS.index("t1")].any())
        for keep in [CHANNELS] + ([("t1",)] if has_t1 else []):
            pred = predict(model, case, keep, bf16)
            if pred is not None:
                out.append(float(pred[0].sum()) * voxel_ml)
    model.train()
    return out


HEALTHY_TOLERANCE_ML = 20.0  # false-positive volume at which the healthy term of the score reaches 0


def validation_score(model: Any, val: list[TrainCase], bf16: bool,
                     healthy: list[TrainCase] | None = None) -> tuple[float, dict[str, list[float]]]:
    """Early-stopping score: mean of (BraTS all-sequence mean Dice, clinical FLAIR-only WT Dice,
    1 - mean false-positive ml / 20 on tumour-free validation brains), each where there are cases."""
    brats = [c for c in val if c.source == "brats"]
    clinical = [c for c in val if c.source == "lgg-flair"]
    parts: dict[str, list[float]] = {}
    if brats:
        parts["brats_all"] = validate(model, brats, bf16=bf16)
        parts["brats_flair_only"] = validate(model, brats, keep=("flair",), bf16=bf16)
    if clinical:
        parts["clinical_flair"] = validate(model, clinical, keep=("flair",), bf16=bf16)
    if healthy:
        parts["healthy_fp_ml"] = healthy_false_positive_ml(model, healthy, bf16)
    terms = []
    if "brats_all" in parts:
        terms.append(float(np.nanmean(parts["brats_all"])))
    if "clinical_flair" in parts:
        terms.append(parts["clinical_flair"][0])
    if parts.get("healthy_fp_ml"):
        terms.append(max(0.0, 1.0 - float(np.mean(parts["healthy_fp_ml"])) / HEALTHY_TOLERANCE_ML))
    return float(np.mean(terms)), parts


def lr_factor(step: int, total: int, warmup: int = 50, floor: float = 0.02) -> float:
    """Linear warm-up then cosine decay to ``floor`` at ``total`` steps."""
    w = min(1.0, (step + 1) / warmup)
    t = min(step, total) / max(total, 1)
    return w * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t)))


def replan_total(step: int, seconds_per_step: float, remaining_s: float, epoch_steps: int) -> int:
    """Total steps that fit the remaining wall time at the measured rate (the machine is shared, so the
    rate drifts; re-planning each epoch keeps the cosine schedule ending inside the budget)."""
    more = int(max(0.0, remaining_s) / max(seconds_per_step, 1e-3)) // epoch_steps * epoch_steps
    return step + more


def _save(obj: Any, path: Path) -> None:
    import torch

    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _log(out: Path, line: str) -> None:
    print(line, flush=True)
    with open(out / "train.log", "a") as fh:
        fh.write(line + "\n")


def bundled_init(test_cases: list[str]) -> dict[str, Any]:
    """The bundled segmenter's weights, refused if it may have trained on one of ``test_cases``: its
    manifest row lists the patients held out of its training (``heldout_cases``)."""
    from brainlens.ml.registry import get_entry, load_weights
    from brainlens.ml.seg_model import MODEL_NAME

    entry = get_entry(MODEL_NAME)
    held_out = set(entry.extra.get("heldout_cases") or entry.extra.get("test_cases") or [])
    leaked = sorted(set(test_cases) - held_out)
    if leaked:
        raise SystemExit(f"--init bundled would leak: the bundled model may have trained on {leaked}")
    state, _ = load_weights(MODEL_NAME)
    return state


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="brainlens-train segmenter", description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=Path("../shared/data/brats"))
    p.add_argument("--lgg", type=Path, default=None, help="clinical skull-on FLAIR folder (lgg-flair)")
    p.add_argument("--fold", type=int, default=0, help=f"0..{FOLDS - 1}; -1 = final model (no test patients)")
    p.add_argument("--init", default=None,
                   help="'bundled': start from the bundled segmenter (refused unless its training "
                        "patients exclude this fold's test patients)")
    p.add_argument("--out", type=Path, default=Path.home() / ".cache/brainlens/runs/segmenter")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--max-minutes", type=float, default=75.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--epoch-steps", type=int, default=60)
    p.add_argument("--max-steps", type=int, default=100_000)
    p.add_argument("--patience", type=int, default=10, help="epochs without validation gain before stopping")
    p.add_argument("--min-steps", type=int, default=0,
                   help="no checkpoint counts as best and no early stop before this step: at the high early "
                        "learning rate the healthy-head false positives swing widely, and one lucky early epoch "
                        "could otherwise stay best for the whole run")
    p.add_argument("--total-steps", type=int, default=None,
                   help="fixed schedule length for a training spread over several budgeted --resume runs "
                        "(default: what fits --max-minutes)")
    p.add_argument("--no-replan", dest="replan", action="store_false",
                   help="keep the step count planned at calibration instead of re-fitting it to the budget")
    p.add_argument("--bf16", choices=("auto", "on", "off"), default="auto",
                   help="bfloat16 autocast on CPU (auto: when oneDNN has native bf16 kernels)")
    p.add_argument("--shared-cache", action="store_true",
                   help="cache preprocessed cases in OUT/../cache, shared by the folds of one study")
    p.add_argument("--drop-p", type=float, default=0.5, help="sequence drop-out probability")
    p.add_argument("--healthy-fraction", type=float, default=0.25,
                   help="share of patches drawn from tumour-free brains (training.seg_healthy); 0 = none")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t_start = time.monotonic()
    budget_s = args.max_minutes * 60
    import torch
    from tqdm import tqdm

    from brainlens.ml.seg_augment import augment, sample_patch
    from brainlens.ml.seg_model import autocast, build_model, cpu_bf16_supported
    from brainlens.training.seg_loss import partial_dice_bce

    torch.set_num_threads(args.threads)
    bf16 = cpu_bf16_supported() if args.bf16 == "auto" else args.bf16 == "on"
    torch.manual_seed(args.seed)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    split = {"brats": fold_split(list_cases(args.data), args.fold, FOLDS, BRATS_VAL)}
    if args.lgg is not None:
        split["lgg-flair"] = fold_split(list_lgg_cases(args.lgg), args.fold, FOLDS, LGG_VAL, seed=LGG_SEED)
    (out / "split.json").write_text(json.dumps(split, indent=2))
    t0 = time.monotonic()
    extractor = extractor_from_manifest()
    cache = out.parent / "cache" if args.shared_cache else out / "cache"

    def cases(part: str) -> list[TrainCase]:
        got = [brats_case(args.data, c, cache, extractor) for c in split["brats"][part]]
        if args.lgg is not None:
            got += [lgg_case(args.lgg, c, cache, extractor) for c in split["lgg-flair"][part]]
        return got

    train, val = cases("train"), cases("val")
    cases("test")  # cache now so evaluation does not wait
    _log(out, f"# bf16 autocast: {bf16}; threads {args.threads}")
    _log(out, f"# cached {len(train)} train, {len(val)} val cases in {time.monotonic() - t0:.0f} s; "
              f"fold {args.fold}; split {json.dumps(split)}")
    by_source = {src: [c for c in train if c.source == src] for src in ("brats", "lgg-flair")}
    by_source = {k: v for k, v in by_source.items() if v}
    healthy_train = healthy_cases(train, seed=args.seed) if args.healthy_fraction > 0 else []
    healthy_val = healthy_cases(val, seed=args.seed + 1000) if args.healthy_fraction > 0 else []
    _log(out, f"# tumour-free brains (healthy hemisphere mirrored): {len(healthy_train)} train, "
              f"{len(healthy_val)} val; {args.healthy_fraction:.0%} of patches")

    def fresh_model() -> Any:
        net = build_model()
        if args.init == "bundled":
            net.load_state_dict(bundled_init(split["brats"]["test"]))
        return net

    model = fresh_model()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-5)
    rng = np.random.default_rng(args.seed)
    state: dict[str, Any] = {"step": 0, "epoch": 0, "best": -1.0, "best_step": 0, "bad_epochs": 0,
                             "total_steps": None, "history": [], "train_seconds": 0.0}
    ckpt = out / "last.pt"
    if args.resume and ckpt.exists():
        saved = torch.load(ckpt, map_location="cpu", weights_only=True)  # tensors, dicts and ints only: no pickle
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        rng.bit_generator.state = saved["numpy_rng"]
        torch.set_rng_state(saved["torch_rng"])
        state.update(saved["state"])
        _log(out, f"# resumed at step {state['step']} / {state['total_steps']}")
        if state["best_step"] < args.min_steps:  # a best chosen before --min-steps does not count
            state.update(best=-1.0, bad_epochs=0)
            _log(out, f"# best so far (step {state['best_step']}) is before --min-steps {args.min_steps}: forgotten")

    sources = sorted(by_source)

    def batch() -> tuple[Any, Any, Any]:
        xs, ys, ks = [], [], []
        for _ in range(args.batch):
            # Sources alternate evenly: 10 BraTS patients would otherwise drown among 30 clinical ones.
            if healthy_train and rng.random() < args.healthy_fraction:
                pool = healthy_train
            else:
                pool = by_source[sources[int(rng.integers(len(sources)))]]
            case = pool[int(rng.integers(len(pool)))]
            x, y = sample_patch(case.image, case.regions, PATCH, rng)
            x, y = augment(x, y, rng, drop_p=args.drop_p)
            xs.append(x)
            ys.append(y)
            ks.append(case.known)
        return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys)), torch.from_numpy(np.stack(ks))

    def train_step() -> float:
        x, y, known = batch()
        opt.zero_grad(set_to_none=True)
        with autocast("cpu", bf16):
            logits = model(x)
        loss = partial_dice_bce(logits.float(), y, known)
        loss.backward()
        opt.step()
        return float(loss.detach())

    model.train()
    if state["total_steps"] is None:  # calibrate: time a few steps and one validation pass
        t_cal = time.monotonic()
        for _ in range(5):
            train_step()
        step_s = (time.monotonic() - t_cal) / 5
        t_val = time.monotonic()
        validation_score(model, val, bf16, healthy_val)
        val_s = time.monotonic() - t_val
        remaining = budget_s - (time.monotonic() - t_start) - 60
        per_step = step_s + val_s / args.epoch_steps
        total = int(remaining / per_step) // args.epoch_steps * args.epoch_steps
        state["total_steps"] = int(max(args.epoch_steps, min(args.max_steps, total)))
        if args.total_steps:  # a schedule longer than one session: fixed, continued by --resume runs
            state["total_steps"] = args.total_steps
        _log(out, f"# calibration: {step_s:.2f} s/step (batch {args.batch}), validation {val_s:.1f} s; "
                  f"planning {state['total_steps']} steps")
        # Restart from a clean model so the schedule and the seeds define the run, not the calibration.
        torch.manual_seed(args.seed)
        model = fresh_model()
        opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-5)
        rng = np.random.default_rng(args.seed)
        model.train()
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, state["total_steps"]))
    if args.resume and ckpt.exists():
        sched.load_state_dict(saved["scheduler"])

    # fit the schedule to this run's budget now
    if args.resume and args.replan and state["history"] and not args.total_steps:
        last_rate = state["history"][-1]["epoch_s"] / args.epoch_steps
        state["total_steps"] = min(args.max_steps, replan_total(state["step"], last_rate, budget_s - 90,
                                                                args.epoch_steps))
        _log(out, f"# re-planned on resume: {state['total_steps']} steps")
    bar = tqdm(total=state["total_steps"], initial=state["step"], disable=not sys.stderr.isatty(),
               desc="segmenter")
    losses: list[float] = []
    t_epoch = time.monotonic()
    stop_reason = "finished schedule"
    while state["step"] < state["total_steps"]:
        losses.append(train_step())
        sched.step()
        state["step"] += 1
        bar.update(1)
        if state["step"] % args.epoch_steps and state["step"] < state["total_steps"]:
            continue
        state["epoch"] += 1
        score, parts = validation_score(model, val, bf16, healthy_val)
        eligible = state["step"] >= args.min_steps
        improved = eligible and score > state["best"]
        if improved:
            state.update(best=score, best_step=state["step"], bad_epochs=0)
            _save({"model": model.state_dict(), "step": state["step"], "val": parts}, out / "best.pt")
        elif eligible:
            state["bad_epochs"] += 1
        state["train_seconds"] += time.monotonic() - t_epoch
        rec = {"epoch": state["epoch"], "step": state["step"], "loss": float(np.mean(losses)),
               "lr": sched.get_last_lr()[0], "val_score": round(score, 4),
               "val": {k: [round(d, 4) for d in v] for k, v in parts.items()},
               "epoch_s": round(time.monotonic() - t_epoch, 1)}
        state["history"].append(rec)
        shown = " | ".join(f"{k} " + "/".join(f"{d:.3f}" for d in v) for k, v in parts.items())
        _log(out, f"epoch {rec['epoch']:3d} step {rec['step']:5d}/{state['total_steps']} loss {rec['loss']:.4f} "
                  f"lr {rec['lr']:.2e} val {score:.3f}{' *' if improved else ''} | {shown} "
                  f"| {rec['epoch_s']:.0f} s")
        _save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
               "numpy_rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(), "state": state,
               "args": {k: str(v) for k, v in vars(args).items()}}, ckpt)
        losses = []
        if args.replan and not args.total_steps:
            old = state["total_steps"]
            remaining = budget_s - (time.monotonic() - t_start) - 30
            rate = rec["epoch_s"] / args.epoch_steps
            state["total_steps"] = min(args.max_steps,
                                       replan_total(state["step"], rate, remaining, args.epoch_steps))
            bar.total = state["total_steps"]
            if state["total_steps"] != old:
                _log(out, f"# re-planned: {state['total_steps']} steps fit the remaining "
                          f"{remaining / 60:.1f} min")
        t_epoch = time.monotonic()
        if state["bad_epochs"] >= args.patience:
            stop_reason = f"early stop: no validation gain in {args.patience} epochs"
            break
        if time.monotonic() - t_start > budget_s:
            stop_reason = "time budget reached"
            break
    bar.close()
    _log(out, f"# done ({stop_reason}) at step {state['step']}; best val mean Dice {state['best']:.4f} "
              f"at step {state['best_step']}; {state['train_seconds'] / 60:.1f} min training in total")
    summary = {"stop_reason": stop_reason, "threads": args.threads, "bf16_autocast": bf16, "batch": args.batch,
               "lr": args.lr,
               "patch": list(PATCH), "steps": state["step"], "total_steps": state["total_steps"],
               "best_step": state["best_step"],
               "best_val_mean_dice": state["best"], "min_steps": args.min_steps,
               "train_minutes": state["train_seconds"] / 60,
               "history": state["history"], "split": split, "drop_p": args.drop_p,
               "healthy_fraction": args.healthy_fraction, "healthy_train": [c.name for c in healthy_train],
               "seed": args.seed,
               "fold": args.fold, "init": args.init}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
