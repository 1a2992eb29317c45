"""Time core.measurements.measure_labels on BraTS ground-truth label maps (run by hand, not in CI).

Usage: .venv/bin/python benchmarks/bench_measurements.py [N_CASES]   (default 5; needs ../shared/data/brats)
Target: well under 2 s per 240x240x155 case on 2 CPU cores, so the GUI can refresh after each edit/run.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np

from brainlens.core.measurements import measure_labels

BRATS = Path(__file__).resolve().parents[2] / "shared" / "data" / "brats"


def main(n_cases: int) -> int:
    segs = sorted(BRATS.glob("*/*_seg.nii.gz"))[:n_cases]
    if not segs:
        print(f"no *_seg.nii.gz under {BRATS}", file=sys.stderr)
        return 2
    times = []
    for path in segs:
        img = nib.load(path)
        labels = np.asarray(img.dataobj).astype(np.uint8)
        t0 = time.perf_counter()
        out = measure_labels(labels, img.affine)
        dt = time.perf_counter() - t0
        times.append(dt)
        wt, r = out["regions"]["whole_tumor"], out["rano"]
        rano_text = f"{r['longest_mm']:.1f} x {r['perpendicular_mm']:.1f} mm" if r else "none"
        print(f"{path.name:40s} {labels.shape} {dt:6.3f} s  WT {wt['volume_ml']:7.1f} ml "
              f"({len(wt['lesions'])} lesion(s), max {wt['max_diameter_mm']:.1f} mm)  RANO {rano_text}")
    print(f"measure_labels: median {statistics.median(times):.3f} s, max {max(times):.3f} s over {len(times)} cases")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5))
