"""Segmentation speed and memory per study (run by hand; targets are not unit tests).

    .venv/bin/python benchmarks/bench_segment.py [--data ../shared/data/brats] [--case NAME] [--samples N]

Loads one BraTS case (all four sequences) through io.load, runs ml.segment.segment with the bundled
model, and prints wall time per stage (load, preprocess, network, uncertainty, postprocess/measure)
and the process's peak RSS. Targets: <= 20 s per study on a 2-core CPU including the uncertainty
samples, peak memory <= 4 GB. The load average is printed too: on a shared machine it explains outliers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

TARGET_S = 20.0
TARGET_MB = 4096.0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=Path("../shared/data/brats"))
    p.add_argument("--case", default=None, help="case folder name (default: first held-out test case)")
    p.add_argument("--samples", type=int, default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's choice; use 1 when other jobs load the CPU)")
    p.add_argument("--repeat", type=int, default=1, help="runs after load (first includes model load)")
    args = p.parse_args(argv)
    if not args.data.is_dir():
        print(f"no data at {args.data}", file=sys.stderr)
        return 2
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    import torch  # import cost is reported separately from the per-study figures

    from brainlens.io import load
    from brainlens.ml.segment import DEFAULT_SAMPLES, segment
    from brainlens.training.segmenter import list_cases, split_cases

    import_s = time.perf_counter() - t0
    if args.threads:
        torch.set_num_threads(args.threads)
    case = args.case or split_cases(list_cases(args.data))["test"][0]
    samples = args.samples or DEFAULT_SAMPLES
    runs = []
    for _ in range(max(1, args.repeat)):
        t = time.perf_counter()
        study = load(args.data / case)
        load_s = time.perf_counter() - t
        result = segment(study, samples=samples, device=args.device)
        stages = {"load": load_s, **result.timings}
        stages["total"] = load_s + result.seconds
        runs.append(stages)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    best = min(runs, key=lambda r: r["total"])
    print(f"case {case}, {samples} sample(s), {result.device}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs; load average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f}")
    print(f"imports (torch, MONAI, BrainLens): {import_s:.1f} s (once per process)")
    for stage in ("load", "model_load", "preprocess", "network", "uncertainty", "postprocess", "total"):
        print(f"  {stage:12s} {best[stage]:7.2f} s")
    print(f"peak RSS {peak_mb:.0f} MB")
    verdict_t = "met" if best["total"] <= TARGET_S else "NOT met"
    verdict_m = "met" if peak_mb <= TARGET_MB else "NOT met"
    print(f"target <= {TARGET_S:.0f} s per study: {verdict_t}; target <= {TARGET_MB / 1024:.0f} GB: {verdict_m}")
    print(json.dumps({"case": case, "samples": samples, "runs": runs, "peak_rss_mb": peak_mb,
                      "device": result.device, "loadavg_before": load_before[0]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
