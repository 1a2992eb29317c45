"""Time brainlens.io.load on a 176-file 256x256 MR series against a naive pydicom loop (run by hand).

Usage: .venv/bin/python benchmarks/bench_dicom_load.py [--runs N] [--files N] [--brats]
Target: our loader opens the series in at most half the naive loop's time (speed-up >= 2).

Naive loop = what a first attempt does: dcmread every file fully, sort by InstanceNumber, stack
pixel_array. Ours = load(folder): parallel header pass that reads only the per-slice tags, geometry from
ImagePositionPatient along the slice normal, pixels read straight into the output volume.
Two header flavours are timed: "plain" (what brainlens.io.dicom_write writes: ~30 elements) and
"scanner-like" (plus the descriptive tags, a nested sequence and an 8 KB private block that real MR
headers carry). The series is written to a temp dir first, so timings are with a warm OS file cache.
--brats also times a BraTS FLAIR (240x240x155) written as DICOM, when ../shared/data is present.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from brainlens.io import load
from brainlens.io.dicom_write import slice_datasets

BRATS = Path(__file__).resolve().parents[2] / "shared" / "data" / "brats"


def naive_load(folder: Path) -> np.ndarray:
    datasets = [pydicom.dcmread(p) for p in sorted(folder.iterdir())]
    datasets.sort(key=lambda ds: int(ds.InstanceNumber))
    return np.stack([ds.pixel_array for ds in datasets])


def ours_load(folder: Path) -> np.ndarray:
    return load(folder).series[0].data


def _scanner_like(ds: Dataset, k: int) -> None:
    ds.PatientBirthDate, ds.PatientSex, ds.PatientAge = "19700101", "O", "055Y"
    ds.StudyDescription, ds.ProtocolName = "MR BRAIN W/WO", "t2_tse_tra_p2"
    ds.Manufacturer, ds.ManufacturerModelName, ds.MagneticFieldStrength = "SIEMENS", "Skyra", "3"
    ds.ScanningSequence, ds.SequenceVariant, ds.SequenceName = "SE", "SK\\SP\\OSP", "*tse2d1_15"
    ds.EchoTime, ds.RepetitionTime, ds.FlipAngle, ds.EchoTrainLength = "95", "6000", "150", "15"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "NORM", "DIS2D"]
    ds.AcquisitionMatrix = [0, 256, 256, 0]
    ds.WindowCenter, ds.WindowWidth = "800", "1600"
    ds.SliceLocation = ds.ImagePositionPatient[2]
    ds.AcquisitionTime = ds.ContentTime = f"1012{k % 60:02d}.000000"
    refs = []
    for _ in range(3):
        ref = Dataset()
        ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = ds.SOPClassUID, generate_uid()
        refs.append(ref)
    ds.ReferencedImageSequence = Sequence(refs)
    block = ds.private_block(0x0029, "SIEMENS CSA HEADER", create=True)
    block.add_new(0x10, "OB", bytes(8192))  # CSA-style blob both loaders must get past


def write_series(folder: Path, n_files: int, scanner_like: bool) -> np.ndarray:
    rng = np.random.default_rng(0)
    data = rng.integers(0, 4000, (256, 256, n_files)).astype(np.int16)
    affine = np.diag([-0.9, -0.9, 1.0, 1.0])
    folder.mkdir(parents=True)
    order = rng.permutation(n_files)  # file names do not follow slice order
    for k, ds in enumerate(slice_datasets(data, affine, description="AX T2 TSE")):
        if scanner_like:
            _scanner_like(ds, k)
        ds.save_as(folder / f"{order[k]:08d}", enforce_file_format=True)
    return data


def time_both(folder: Path, runs: int) -> tuple[list[float], list[float]]:
    ref = naive_load(folder)
    ours = ours_load(folder)
    if not np.array_equal(ours.transpose(2, 1, 0), ref):
        raise SystemExit(f"{folder}: loaders disagree; refusing to time them")
    naive_t, ours_t = [], []
    for _ in range(runs):  # interleaved, so background load hits both alike
        t = time.perf_counter()
        naive_load(folder)
        naive_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        ours_load(folder)
        ours_t.append(time.perf_counter() - t)
    return naive_t, ours_t


def report(label: str, naive_t: list[float], ours_t: list[float]) -> float:
    mn, mo = statistics.median(naive_t), statistics.median(ours_t)
    print(label)
    print(f"  {'naive loop':<12} {mn:7.3f} s   (min {min(naive_t):.3f}, max {max(naive_t):.3f})")
    print(f"  {'brainlens':<12} {mo:7.3f} s   (min {min(ours_t):.3f}, max {max(ours_t):.3f})")
    print(f"  {'speed-up':<12} {mn / mo:7.2f} x")
    return mn / mo


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--files", type=int, default=176)
    ap.add_argument("--brats", action="store_true", help="also time a BraTS FLAIR written as DICOM")
    args = ap.parse_args()
    speedups = []
    with tempfile.TemporaryDirectory(prefix="brainlens-bench-") as tmp:
        print(f"median of {args.runs} runs, seconds, warm file cache\n")
        for flavour in ("plain", "scanner-like"):
            folder = Path(tmp) / flavour
            write_series(folder, args.files, flavour == "scanner-like")
            speedups.append(report(f"{args.files} x 256x256 int16, {flavour}", *time_both(folder, args.runs)))
        if args.brats:
            flair = next(iter(sorted(BRATS.glob("*/*_flair.nii.gz"))), None)
            if flair is None:
                print(f"no BraTS FLAIR under {BRATS}", file=sys.stderr)
            else:
                import nibabel as nib

                from brainlens.io.dicom_write import write_series as write_volume

                img = nib.load(flair)
                write_volume(np.asanyarray(img.dataobj), img.affine, Path(tmp) / "brats", description="FLAIR")
                report(f"BraTS FLAIR 155 x 240x240 ({flair.parent.name})", *time_both(Path(tmp) / "brats", args.runs))
    worst = min(speedups)
    print(f"\nworst speed-up {worst:.2f} x: target >= 2.0 x {'MET' if worst >= 2.0 else 'NOT MET'}")
    return 0 if worst >= 2.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
