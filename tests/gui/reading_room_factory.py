"""Synthetic reading-room data: an MPRAGE-like sagittal DICOM series with known patient tags (built from the
phantom's T1), so the banner, tag viewer and reader tools are checked against values the test wrote."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainlens.core.phantom import make_head_phantom
from brainlens.io.dicom_write import write_series

PATIENT = {"PatientName": "Doe^Jane", "PatientID": "MRN-4711", "PatientBirthDate": "19700131",
           "PatientSex": "F", "InstitutionName": "St Elsewhere Hospital", "StudyDate": "20240502",
           "AccessionNumber": "ACC-99"}
MPRAGE_TAGS = {"ScanningSequence": "GR\\IR", "SequenceVariant": "SP\\MP", "InversionTime": "900",
               "RepetitionTime": "2300", "EchoTime": "2.98", "FlipAngle": "9", "Manufacturer": "SIEMENS",
               "MagneticFieldStrength": "3"}


def sagittal(data: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same head stored slice-by-slice from left to right (i = A-P, j = S-I, k = R-L), as MPRAGE is."""
    out = np.ascontiguousarray(data.transpose(1, 2, 0))
    aff = affine.copy()
    aff[:, :3] = affine[:, [1, 2, 0]]
    return out, aff


def write_mprage(folder: Path, shape=(64, 72, 60), spacing_mm: float = 2.0, patient: dict | None = None,
                 seed: int = 0, **extra) -> tuple[list[Path], np.ndarray, np.ndarray]:
    """Write the series; returns (paths, data as stored, its voxel->RAS affine)."""
    t1 = make_head_phantom(shape=shape, spacing_mm=spacing_mm, seed=seed).series[1]
    data, aff = sagittal(t1.data, t1.affine)
    tags = {**MPRAGE_TAGS, **(PATIENT if patient is None else patient), **extra}
    paths = write_series(data, aff, folder, description="t1_mprage_sag_p2_iso", extra=tags)
    return paths, data, aff
