"""DICOM part of the hostile corpus: pydicom's own test files, a small series corrupted at many byte offsets,
and series with each geometry / pixel tag made absurd."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
from make_corpus import Case, write
from pydicom import config
from pydicom.dataset import Dataset

from brainlens.io.dicom_write import slice_datasets

PYDICOM_FILES = Path(pydicom.data.__file__).parent / "test_files"  # shipped in the wheel, never downloaded
FAST_PYDICOM = {"JPEG-lossy.dcm", "MR_small.dcm", "rtdose.dcm"}


def _series(shape=(16, 16, 6), seed: int = 0) -> list[Dataset]:
    data = np.random.default_rng(seed).integers(0, 1000, shape).astype(np.int16)
    affine = np.diag([1.0, 1.0, 2.0, 1.0])
    affine[:3, 3] = (-8.0, -8.0, -6.0)
    return slice_datasets(data, affine, description="corpus flair")


def _save(folder: Path, dss: list[Dataset]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    old = config.settings.writing_validation_mode
    config.settings.writing_validation_mode = config.IGNORE  # we want the invalid values on disk
    try:
        for k, ds in enumerate(dss):
            path = folder / f"IM{k:04d}.dcm"
            ds.save_as(path, enforce_file_format=True)
            raw = getattr(ds, "_corpus_raw", None)
            if raw:  # values pydicom will not hold (NaN, text in a number): patched into the written bytes
                path.write_bytes(path.read_bytes().replace(*raw))
    finally:
        config.settings.writing_validation_mode = old
    return folder


def _set_all(keyword: str, value) -> Callable[[list[Dataset]], None]:
    """Set ``keyword`` on every slice; a text value list is written through a same-length placeholder."""
    def edit(dss: list[Dataset]) -> None:
        for ds in dss:
            if isinstance(value, list):
                wanted = "\\".join(value)
                holder = "\\".join("7" * len(v) for v in value)
                if len(wanted) % 2:
                    wanted, holder = wanted + " ", holder + "7"
                    holder_values = holder.split("\\")
                else:
                    holder_values = holder.split("\\")
                setattr(ds, keyword, holder_values)
                object.__setattr__(ds, "_corpus_raw", (holder.encode(), wanted.encode()))
            else:
                setattr(ds, keyword, value)
    return edit


def _outlier(distance_mm: float) -> Callable[[list[Dataset]], None]:
    def edit(dss: list[Dataset]) -> None:
        x, y, z = (float(v) for v in dss[-1].ImagePositionPatient)
        dss[-1].ImagePositionPatient = [str(x), str(y), f"{z + distance_mm:.1f}"]
    return edit


def _drop(keyword: str, which: slice = slice(None)) -> Callable[[list[Dataset]], None]:
    def edit(dss: list[Dataset]) -> None:
        for ds in dss[which]:
            if keyword in ds:
                delattr(ds, keyword)
    return edit


def _patch_bytes(dss: list[Dataset], old: bytes, new: bytes) -> None:
    for ds in dss:
        object.__setattr__(ds, "_corpus_raw", (old, new))


def _short_pixels(dss: list[Dataset]) -> None:
    dss[2].PixelData = dss[2].PixelData[:100]


def _same_position(dss: list[Dataset]) -> None:
    for ds in dss:
        ds.ImagePositionPatient = dss[0].ImagePositionPatient


# name -> edit applied to the series before it is written; every one is a 3D input
GEOMETRY: dict[str, Callable[[list[Dataset]], None]] = {
    "spacing_nan": _set_all("PixelSpacing", ["nan", "nan"]),
    "spacing_zero": _set_all("PixelSpacing", ["0", "0"]),
    "spacing_huge": _set_all("PixelSpacing", ["1e30", "1e30"]),
    "spacing_negative": _set_all("PixelSpacing", ["-1", "-1"]),
    "spacing_inf": _set_all("PixelSpacing", ["inf", "inf"]),
    "spacing_tiny": _set_all("PixelSpacing", ["1e-30", "1e-30"]),
    "spacing_text": _set_all("PixelSpacing", ["abc", "def"]),
    "orientation_zero": _set_all("ImageOrientationPatient", ["0"] * 6),
    "orientation_parallel": _set_all("ImageOrientationPatient", ["1", "0", "0", "1", "0", "0"]),
    "orientation_nan": _set_all("ImageOrientationPatient", ["nan"] * 6),
    "orientation_huge": _set_all("ImageOrientationPatient", ["1e300", "0", "0", "0", "1e300", "0"]),
    "orientation_short": _set_all("ImageOrientationPatient", ["1", "0", "0"]),
    "slice_500m_away": _outlier(500_000.0),
    "slice_50km_away": _outlier(5e7),
    "position_huge": _set_all("ImagePositionPatient", ["1e300", "1e300", "1e300"]),
    "position_nan_all": _set_all("ImagePositionPatient", ["nan", "nan", "nan"]),
    "position_same": _same_position,
    "position_missing_one": _drop("ImagePositionPatient", slice(2, 3)),
    "thickness_nan": _set_all("SliceThickness", "nan"),
    "thickness_huge": _set_all("SliceThickness", "1e300"),
    "pixels_missing_all": _drop("PixelData"),
    "pixels_missing_one": _drop("PixelData", slice(1, 2)),
    "pixels_short": _short_pixels,
    "frames_million": _set_all("NumberOfFrames", "1000000"),
    "rows_huge": _set_all("Rows", 65535),
    "cols_huge": _set_all("Columns", 65535),
    "rows_zero": _set_all("Rows", 0),
    "bits_64": _set_all("BitsAllocated", 64),
    "bits_1": _set_all("BitsAllocated", 1),
    "bits_12": _set_all("BitsAllocated", 12),
    "bits_stored_0": _set_all("BitsStored", 0),
    "samples_3": _set_all("SamplesPerPixel", 3),
    "photometric_bogus": _set_all("PhotometricInterpretation", "BOGUS"),
    "photometric_palette": _set_all("PhotometricInterpretation", "PALETTE COLOR"),
    "slope_huge": _set_all("RescaleSlope", "1e308"),
    "slope_nan": _set_all("RescaleSlope", "nan"),
    "slope_zero": _set_all("RescaleSlope", "0"),
    "intercept_inf": _set_all("RescaleIntercept", "inf"),
    "series_uid_missing": _drop("SeriesInstanceUID"),
    "transfer_syntax_rle_on_raw": lambda dss: _patch_bytes(dss, b"1.2.840.10008.1.2.1\0", b"1.2.840.10008.1.2.5\0"),
    "transfer_syntax_unknown": lambda dss: _patch_bytes(dss, b"1.2.840.10008.1.2.1\0", b"1.2.3.4.5.6.7.8.9.10"),
}


def _corrupt(data: bytes, rng: random.Random, n: int) -> list[tuple[str, bytes]]:
    """Truncations and 4-byte overwrites at ``n`` spread-out offsets each (header and pixel regions)."""
    out = []
    for k in range(n):
        at = 1 + (len(data) - 2) * k // max(1, n - 1)
        out.append((f"trunc{at:05d}", data[:at]))
        bad = bytes(rng.choice((0x00, 0xFF, 0x7F)) for _ in range(4))
        out.append((f"flip{at:05d}", data[:at] + bad + data[at + 4:]))
    return out


def dicom_cases(root: Path) -> list[Case]:
    cases = []
    for path in sorted(PYDICOM_FILES.glob("*")):
        if path.is_file():
            cases.append(Case(f"pydicom/{path.name}", "pydicom_testfiles", [str(path)],
                              fast=path.name in FAST_PYDICOM))
    good = _save(root / "good_series", _series())
    cases.append(Case("dicom/good_series", "dicom_geometry", [str(good)], three_d=True))
    rng = random.Random(11)
    single = (good / "IM0000.dcm").read_bytes()
    for tag, data in _corrupt(single, rng, 24):
        path = write(root / "corrupt" / f"{tag}.dcm", data)
        fast = tag in ("trunc00001", "flip00127")
        cases.append(Case(f"dicom/{tag}", "dicom_corrupt_offsets", [str(path)], fast=fast))
    for tag, data in _corrupt(single, rng, 4):  # one bad slice inside an otherwise good series
        folder = _save(root / f"series_{tag}", _series())
        (folder / "IM0000.dcm").write_bytes(data)
        cases.append(Case(f"dicom/series_{tag}", "dicom_corrupt_offsets", [str(folder)], three_d=True))
    for name, edit in GEOMETRY.items():
        dss = _series()
        edit(dss)
        folder = _save(root / name, dss)
        fast = name in {"spacing_nan", "slice_500m_away", "frames_million", "orientation_zero"}
        cases.append(Case(f"dicom/{name}", "dicom_geometry", [str(folder)], three_d=True, fast=fast))
        if name in {"frames_million", "rows_huge", "spacing_nan", "orientation_zero"}:
            cases.append(Case(f"dicom/{name}_single", "dicom_geometry", [str(folder / "IM0000.dcm")]))
    return cases
