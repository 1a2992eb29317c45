"""Train the 3D tumour segmenter (SegResNet, 2 mm, sigmoid WT/TC/ET) on BraTS cases, on CPU.

    python -m brainlens.training.segmenter --data ../shared/data/brats --out runs/segmenter \
        [--resume] [--max-minutes 75] [--threads 1]

Patient-wise split fixed by seed: 4 held-out test patients, 2 validation (early stopping), rest train.
Preprocessed cases are cached as .npz under OUT/cache. Checkpoints (model, optimiser, scheduler, RNG,
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

from brainlens.ml.seg_model import CHANNELS, PATCH, REGIONS

SPLIT_SEED = 20240611
N_TEST, N_VAL = 4, 2


def list_cases(data: Path) -> list[str]:
    cases = sorted(p.name for p in data.iterdir() if p.is_dir() and (p / f"{p.name}_seg.nii.gz").exists())
    if not cases:
        raise SystemExit(f"no BraTS cases (<case>/<case>_seg.nii.gz) under {data}")
    return cases


def split_cases(cases: list[str], seed: int = SPLIT_SEED) -> dict[str, list[str]]:
    """Patient-wise split: test / val / train, fixed by seed (evaluation re-derives it the same way)."""
    order = [cases[i] for i in np.random.default_rng(seed).permutation(len(cases))]
    return {"test": sorted(order[:N_TEST]), "val": sorted(order[N_TEST:N_TEST + N_VAL]),
            "train": sorted(order[N_TEST + N_VAL:])}


def load_case_volumes(case_dir: Path) -> dict[str, Any]:
    """The four sequences and the label map of one BraTS case as Volumes (nibabel, source grids)."""
    import nibabel as nib

    from brainlens.core.volume import Volume

    out = {}
    for name in (*CHANNELS, "seg"):
        img = nib.load(str(case_dir / f"{case_dir.name}_{name}.nii.gz"))
        out[name] = Volume(np.asanyarray(img.dataobj), img.affine, name=name, sequence=name)
    return out


def cached_case(data: Path, case: str, cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """(4, X, Y, Z) float32 image and (3, X, Y, Z) bool regions at 2 mm, cached as float16 / packed."""
    from brainlens.ml.seg_preprocess import labels_on_grid, preprocess

    path = cache / f"{case}.npz"
    if path.exists():
        with np.load(path) as z:
            return z["image"].astype(np.float32), z["regions"].astype(bool)
    vols = load_case_volumes(data / case)
    prep = preprocess({k: v for k, v in vols.items() if k in CHANNELS}, reference="flair")
    regions = labels_on_grid(vols["seg"], prep.grid)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, image=prep.image.astype(np.float16), regions=regions)
    os.replace(tmp, path)
    return prep.image, regions


def dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """Dice of two bool masks; 1.0 when both are empty (the BraTS convention)."""
    s = int(pred.sum()) + int(truth.sum())
    return 1.0 if s == 0 else 2.0 * int((pred & truth).sum()) / s


def validate(model: Any, cases: list[tuple[np.ndarray, np.ndarray]], keep: tuple[str, ...] = CHANNELS,
             bf16: bool = False) -> list[float]:
    """Mean Dice per region on the 2 mm grid with sliding-window inference (patch size, overlap 0.25)."""
    import torch
    from monai.inferers import sliding_window_inference

    from brainlens.ml.seg_model import autocast

    scores = []
    model.eval()
    with torch.no_grad():
        for image, regions in cases:
            img = image.copy()
            for c, name in enumerate(CHANNELS):
                if name not in keep:
                    img[c] = 0
            with autocast("cpu", bf16):
                logits = sliding_window_inference(torch.from_numpy(img)[None], PATCH, 1, model, overlap=0.25,
                                                  mode="gaussian")
            pred = (torch.sigmoid(logits.float())[0] > 0.5).numpy()
            scores.append([dice(pred[i], regions[i]) for i in range(len(REGIONS))])
    model.train()
    return list(np.mean(scores, axis=0))


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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="brainlens-train segmenter", description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=Path("../shared/data/brats"))
    p.add_argument("--out", type=Path, default=Path("runs/segmenter"))
    p.add_argument("--resume", action="store_true")
    p.add_argument("--max-minutes", type=float, default=75.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--epoch-steps", type=int, default=60)
    p.add_argument("--max-steps", type=int, default=100_000)
    p.add_argument("--patience", type=int, default=10, help="epochs without validation gain before stopping")
    p.add_argument("--no-replan", dest="replan", action="store_false",
                   help="keep the step count planned at calibration instead of re-fitting it to the budget")
    p.add_argument("--bf16", choices=("auto", "on", "off"), default="auto",
                   help="bfloat16 autocast on CPU (auto: when oneDNN has native bf16 kernels)")
    p.add_argument("--drop-p", type=float, default=0.5, help="sequence drop-out probability")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t_start = time.monotonic()
    budget_s = args.max_minutes * 60
    import torch
    from monai.losses import DiceCELoss
    from tqdm import tqdm

    from brainlens.ml.seg_augment import augment, sample_patch
    from brainlens.ml.seg_model import autocast, build_model, cpu_bf16_supported

    torch.set_num_threads(args.threads)
    bf16 = cpu_bf16_supported() if args.bf16 == "auto" else args.bf16 == "on"
    torch.manual_seed(args.seed)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    split = split_cases(list_cases(args.data))
    (out / "split.json").write_text(json.dumps(split, indent=2))
    t0 = time.monotonic()
    train = [cached_case(args.data, c, out / "cache") for c in split["train"]]
    val = [cached_case(args.data, c, out / "cache") for c in split["val"]]
    for c in split["test"]:  # cache now so evaluation does not wait (evaluation itself reads the 1 mm files)
        cached_case(args.data, c, out / "cache")
    _log(out, f"# bf16 autocast: {bf16}; threads {args.threads}")
    _log(out, f"# cached {len(train)} train, {len(val)} val cases in {time.monotonic() - t0:.0f} s; "
              f"split {json.dumps(split)}")

    model = build_model()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-5)
    loss_fn = DiceCELoss(sigmoid=True, batch=True, smooth_nr=1e-5, smooth_dr=1e-5)
    rng = np.random.default_rng(args.seed)
    state: dict[str, Any] = {"step": 0, "epoch": 0, "best": -1.0, "best_step": 0, "bad_epochs": 0,
                             "total_steps": None, "history": [], "train_seconds": 0.0}
    ckpt = out / "last.pt"
    if args.resume and ckpt.exists():
        saved = torch.load(ckpt, map_location="cpu", weights_only=False)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        rng.bit_generator.state = saved["numpy_rng"]
        torch.set_rng_state(saved["torch_rng"])
        state.update(saved["state"])
        _log(out, f"# resumed at step {state['step']} / {state['total_steps']}")

    def batch() -> tuple[Any, Any]:
        xs, ys = [], []
        for _ in range(args.batch):
            image, regions = train[int(rng.integers(len(train)))]
            x, y = sample_patch(image, regions, PATCH, rng)
            x, y = augment(x, y, rng, drop_p=args.drop_p)
            xs.append(x)
            ys.append(y)
        return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))

    def train_step() -> float:
        x, y = batch()
        opt.zero_grad(set_to_none=True)
        with autocast("cpu", bf16):
            logits = model(x)
        loss = loss_fn(logits.float(), y)
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
        validate(model, val, bf16=bf16)
        val_s = time.monotonic() - t_val
        remaining = budget_s - (time.monotonic() - t_start) - 60
        per_step = step_s + val_s / args.epoch_steps
        total = int(remaining / per_step) // args.epoch_steps * args.epoch_steps
        state["total_steps"] = int(max(args.epoch_steps, min(args.max_steps, total)))
        _log(out, f"# calibration: {step_s:.2f} s/step (batch {args.batch}), validation {val_s:.1f} s; "
                  f"planning {state['total_steps']} steps")
        # Restart from a clean model so the schedule and the seeds define the run, not the calibration.
        torch.manual_seed(args.seed)
        model = build_model()
        opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-5)
        rng = np.random.default_rng(args.seed)
        model.train()
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, state["total_steps"]))
    if args.resume and ckpt.exists():
        sched.load_state_dict(saved["scheduler"])

    if args.resume and args.replan and state["history"]:  # fit the schedule to this run's budget now
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
        d_all = validate(model, val, bf16=bf16)
        d_flair = validate(model, val, keep=("flair",), bf16=bf16)
        score = float(np.mean(d_all))
        improved = score > state["best"]
        if improved:
            state.update(best=score, best_step=state["step"], bad_epochs=0)
            _save({"model": model.state_dict(), "step": state["step"], "val_dice": d_all}, out / "best.pt")
        else:
            state["bad_epochs"] += 1
        state["train_seconds"] += time.monotonic() - t_epoch
        rec = {"epoch": state["epoch"], "step": state["step"], "loss": float(np.mean(losses)),
               "lr": sched.get_last_lr()[0], "val_dice": [round(d, 4) for d in d_all],
               "val_wt_flair_only": round(d_flair[0], 4), "epoch_s": round(time.monotonic() - t_epoch, 1)}
        state["history"].append(rec)
        _log(out, f"epoch {rec['epoch']:3d} step {rec['step']:5d}/{state['total_steps']} loss {rec['loss']:.4f} "
                  f"lr {rec['lr']:.2e} val dice WT/TC/ET {d_all[0]:.3f}/{d_all[1]:.3f}/{d_all[2]:.3f} "
                  f"mean {score:.3f}{' *' if improved else ''} | FLAIR-only WT {d_flair[0]:.3f} "
                  f"| {rec['epoch_s']:.0f} s")
        _save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
               "numpy_rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(), "state": state,
               "args": {k: str(v) for k, v in vars(args).items()}}, ckpt)
        losses = []
        if args.replan:
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
               "best_val_mean_dice": state["best"], "train_minutes": state["train_seconds"] / 60,
               "history": state["history"], "split": split, "drop_p": args.drop_p, "seed": args.seed}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
