"""Study-level verdict time (classify_study) on the CPU (run by hand).

    .venv/bin/python benchmarks/bench_classify_study.py [--study FILE.nii.gz] [--threads 2] [--runs 3]

Target: <= 3 s wall-clock on 2 threads for a 155-slice study. Without --study a synthetic 240x240x155 head
phantom (1 mm) is timed, so the benchmark runs without ../shared/data. Loading the model and reading the
file are not timed (the viewer has both in memory).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--study", default=None, help="a NIfTI study (default: synthetic 1 mm phantom, 155 slices)")
    p.add_argument("--model", default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args(argv)

    import torch

    from brainlens.core.errors import BrainLensError
    from brainlens.ml.classifier_engine import load_classifier
    from brainlens.ml.classify_study import classify_study

    torch.set_num_threads(args.threads)
    try:
        if args.study:
            from brainlens.io import load

            vol = load(args.study).series[0]
        else:
            from brainlens.core.phantom import make_head_phantom

            vol = make_head_phantom(shape=(240, 240, 155), spacing_mm=1.0).by_sequence()["t1ce"]
        clf = load_classifier(args.model, device="cpu")
        classify_study(vol, model=clf)  # warm-up
    except BrainLensError as exc:
        print(f"bench_classify_study: {exc}", file=sys.stderr)
        return 2
    walls, cpus = [], []
    for _ in range(args.runs):
        r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        result = classify_study(vol, model=clf)
        walls.append(time.perf_counter() - t0)
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        cpus.append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
    load = f", load average {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""
    print(f"{clf.tag}, {args.threads} threads{load}: study {vol.shape}, {len(result.slices)} slices classified; "
          f"median of {args.runs}: {sorted(walls)[len(walls) // 2]:.2f} s wall, {sorted(cpus)[len(cpus) // 2]:.2f} s "
          f"CPU (target <= 3 s wall); verdict {result.label} {result.confidence:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
