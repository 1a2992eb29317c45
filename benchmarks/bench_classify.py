"""Batch-1 CPU latency of the tumour-type classifier: plain, TTA + MC dropout, Grad-CAM (run by hand).

    .venv/bin/python benchmarks/bench_classify.py [--model NAME] [--runs 100] [--threads N] [--image FILE]
                                                  [--runtime auto|torch]

Times are end to end from a numpy image (preprocessing included), median over --runs after a warm-up;
wall-clock and process CPU time are both printed (they differ when other jobs share the CPU).
--runtime torch times PyTorch alone (the path on GPUs, or without the model's ONNX export); auto is the
product's CPU path (ONNX Runtime for the trunk when the model ships it). Targets: plain <= 15 ms per slice,
Grad-CAM <= 60 ms per slice. The default image is a synthetic head-like slice, so the benchmark runs without
../shared/data.
"""

from __future__ import annotations

import argparse
import os
import sys

from brainlens.core.phantom import phantom_slice


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="bundled classifier (default: the product default)")
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--image", default=None, help="an image file to time instead of the synthetic slice")
    p.add_argument("--runtime", choices=("auto", "torch"), default="auto")
    args = p.parse_args(argv)

    import torch

    from brainlens.ml.classifier_engine import load_classifier
    from brainlens.ml.classify import read_image
    from brainlens.training.classifier_probes import latency

    if args.threads:
        torch.set_num_threads(args.threads)
    clf = load_classifier(args.model, device="cpu", onnx=args.runtime == "auto")
    from brainlens.core.errors import BrainLensError

    try:
        image = read_image(args.image) if args.image else phantom_slice()
    except BrainLensError as exc:
        print(f"bench_classify: {exc}", file=sys.stderr)
        return 2
    lat = latency(clf, image, runs=args.runs)
    load = f", load average {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""
    runtime = "ONNX Runtime trunk" if clf.trunk is not None else "PyTorch"
    print(f"{clf.tag} on {lat['device']}, {runtime} ({lat['threads']} threads{load}), image {image.shape}, "
          f"median of {args.runs} runs (Grad-CAM {max(10, args.runs // 2)})")
    print(f"{'mode':<36} {'wall ms':>8} {'CPU ms':>8}  target")
    rows = [("plain (1 pass)", "plain", "<= 15 ms"),
            (f"TTA (h-flip) + {lat['mc_samples']} MC dropout samples", "mc_tta", "-"),
            ("Grad-CAM (predicted class)", "gradcam", "<= 60 ms")]
    for name, key, target in rows:
        print(f"{name:<36} {lat[key + '_ms']:>8.1f} {lat[key + '_cpu_ms']:>8.1f}  {target}")
    print("CPU ms = process CPU time per slice (all threads): the wall time one otherwise idle core would need.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
