"""Write a 3D volume as a classic multi-file MR DICOM series (one file per slice), with pydicom.

Used to hand a NIfTI study to DICOM-only tools and by the tests and the load benchmark, which need real
series on disk. Geometry is written from the voxel->RAS affine (DICOM is LPS), so loading the files back
gives the same affine.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def new_file_dataset(sop_class_uid: str) -> Dataset:
    """An empty explicit-VR little-endian DICOM object of that SOP class with a fresh instance UID."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class_uid
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class_uid, meta.MediaStorageSOPInstanceUID
    return ds


def _ds(value: float) -> str:
    """A DICOM decimal string (at most 16 characters) with as many significant digits as fit."""
    value = 0.0 if abs(value) < 1e-9 else float(value)
    for digits in range(12, 3, -1):
        text = f"{value:.{digits}g}"
        if len(text) <= 16:
            return text
    return f"{value:.3e}"


def slice_datasets(data: np.ndarray, affine: np.ndarray, *, description: str = "",
                   series_uid: str | None = None, series_number: int = 1,
                   extra: Mapping[str, Any] | None = None) -> list[Dataset]:
    """One pydicom Dataset per slice k of ``data`` (indexed i=column, j=row, k=slice).

    Integer data are stored as int16/uint16; float data are scaled into int16 with RescaleSlope/Intercept.
    ``extra`` sets further attributes by keyword on every slice (EchoTime, ContrastBolusAgent, ...).
    """
    if data.ndim != 3:
        raise ValueError(f"need a 3D array, got shape {data.shape}")
    lps = _LPS @ np.asarray(affine, dtype=np.float64)
    col_step, row_step = np.linalg.norm(lps[:3, 0]), np.linalg.norm(lps[:3, 1])
    row_cos, col_cos = lps[:3, 0] / col_step, lps[:3, 1] / row_step
    slice_step = np.linalg.norm(lps[:3, 2])
    stored, slope, intercept = _to_stored(data)
    series_uid = series_uid or generate_uid()
    study_uid, frame_uid = generate_uid(), generate_uid()
    now = _dt.datetime.now()
    out = []
    for k in range(data.shape[2]):
        ds = new_file_dataset(MRImageStorage)
        ds.Modality = "MR"
        ds.StudyDate = now.strftime("%Y%m%d")
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, frame_uid
        ds.SeriesNumber, ds.InstanceNumber = series_number, k + 1
        ds.SeriesDescription = description
        ds.PatientName, ds.PatientID = "Anonymous", "BRAINLENS-SYNTH"
        ds.ImagePositionPatient = [_ds(v) for v in (lps @ [0, 0, k, 1])[:3]]
        ds.ImageOrientationPatient = [_ds(v) for v in (*row_cos, *col_cos)]
        ds.PixelSpacing = [_ds(row_step), _ds(col_step)]
        ds.SliceThickness = _ds(slice_step)
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows, ds.Columns = data.shape[1], data.shape[0]
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1 if stored.dtype == np.int16 else 0
        if slope != 1.0 or intercept != 0.0:
            ds.RescaleSlope, ds.RescaleIntercept = _ds(slope), _ds(intercept)
        for key, value in (extra or {}).items():
            setattr(ds, key, value)
        ds.PixelData = np.ascontiguousarray(stored[:, :, k].T).tobytes()
        out.append(ds)
    return out


def _to_stored(data: np.ndarray) -> tuple[np.ndarray, float, float]:
    if np.issubdtype(data.dtype, np.integer):
        lo, hi = int(data.min()), int(data.max())
        if lo >= -32768 and hi <= 32767:
            return data.astype(np.int16), 1.0, 0.0
        if lo >= 0 and hi <= 65535:
            return data.astype(np.uint16), 1.0, 0.0
    lo, hi = float(np.nanmin(data)), float(np.nanmax(data))
    slope = (hi - lo) / 65000.0 if hi > lo else 1.0
    intercept = lo + 32500.0 * slope
    stored = np.round((np.nan_to_num(data, nan=lo) - intercept) / slope)
    return np.clip(stored, -32768, 32767).astype(np.int16), slope, intercept


def write_series(data: np.ndarray, affine: np.ndarray, folder: str | Path, *, prefix: str = "IM",
                 **kwargs: Any) -> list[Path]:
    """Write ``data`` as one DICOM file per slice into ``folder`` (created; existing files never
    overwritten). Returns the file paths in slice order."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, ds in enumerate(slice_datasets(data, affine, **kwargs)):
        path = folder / f"{prefix}{k + 1:05d}.dcm"
        if path.exists():
            raise FileExistsError(f"{path} already exists")
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
