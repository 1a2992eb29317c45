"""One check of every loaded Volume, at load, so later stages (display, resampling, segmentation, JSON) never
meet NaN, zero, singular or absurd geometry, or voxel types they cannot compute with.

Bad geometry falls back to a stated default (1 mm voxels, the format's usual axes) with a warning that the CLI
prints and the GUI shows with the series; voxel values are turned into something viewable, with a warning.
"""

from __future__ import annotations

import numpy as np

from brainlens.core.errors import LoadError
from brainlens.core.volume import Volume
from brainlens.io.limits import check_voxels

MIN_SPACING_MM = 1e-3
MAX_SPACING_MM = 500.0  # a voxel half a metre wide is no MR image
MAX_ORIGIN_MM = 1e6  # one kilometre from the scanner origin
_MIN_ORTHOGONALITY = 1e-3  # |det| / product of voxel sizes: 0 when two axes are parallel
_LPS_DEFAULT = np.diag([-1.0, -1.0, 1.0, 1.0])  # DICOM and plain images: rows go posterior, shown upright


def geometry_problem(affine: np.ndarray) -> str | None:
    """Why an affine cannot be used as voxel->mm geometry, or None when it can."""
    a = np.asarray(affine, dtype=np.float64)
    if a.shape != (4, 4) or not np.all(np.isfinite(a)):
        return "the voxel-to-world matrix is not finite (NaN or infinity)"
    with np.errstate(all="ignore"):
        spacing = np.linalg.norm(a[:3, :3], axis=0)
        if not np.all(np.isfinite(spacing)) or spacing.min() < MIN_SPACING_MM or spacing.max() > MAX_SPACING_MM:
            sizes = " x ".join(f"{s:.3g}" for s in spacing)
            return f"voxel size {sizes} mm is outside {MIN_SPACING_MM:g}-{MAX_SPACING_MM:g} mm"
        det = abs(float(np.linalg.det(a[:3, :3] / spacing)))
    if not np.isfinite(det) or det < _MIN_ORTHOGONALITY:
        return "the voxel axes are parallel (singular orientation)"
    if np.abs(a[:3, 3]).max() > MAX_ORIGIN_MM:
        return f"the origin lies {np.abs(a[:3, 3]).max():.3g} mm from the scanner centre"
    return None


def _grey_from_structured(data: np.ndarray) -> np.ndarray:
    """RGB(A) voxels (NIfTI RGB24 / RGBA32) -> luma, float32."""
    names = data.dtype.names or ()
    channels = [data[n].astype(np.float32) for n in names[:3]]
    if len(channels) < 3:
        return channels[0]
    return 0.299 * channels[0] + 0.587 * channels[1] + 0.114 * channels[2]


def _usable_values(data: np.ndarray, warnings: list[str]) -> np.ndarray:
    kind = data.dtype.kind
    if data.dtype.names:
        warnings.append("colour (RGB) voxels converted to grey")
        data = _grey_from_structured(data)
    elif kind == "c":
        warnings.append("complex-valued voxels: showing the magnitude")
        data = np.abs(data).astype(np.float32)
    elif kind == "b":
        data = data.astype(np.uint8)
    elif kind == "f" and data.dtype.itemsize not in (4, 8):
        data = data.astype(np.float64 if data.dtype.itemsize > 8 else np.float32)
    elif kind not in "iuf":
        raise LoadError(f"voxel type {data.dtype} cannot be shown")
    if data.dtype.kind == "f":
        finite = np.isfinite(data)
        if not finite.all():
            bad = int(finite.size - np.count_nonzero(finite))
            fill = float(data[finite].min()) if finite.any() else 0.0
            warnings.append(f"{bad} voxel(s) are NaN or infinite; shown as {fill:.6g}")
            data = np.where(finite, data, np.asarray(fill, dtype=data.dtype))
    return data


def validate_volume(vol: Volume) -> Volume:
    """The volume made safe to compute with (in place), or LoadError with a one-line reason."""
    check_voxels(vol.shape, vol.name or "image")
    vol.data = _usable_values(vol.data, vol.warnings)
    problem = geometry_problem(vol.affine)
    if problem is not None:
        fmt = vol.metadata.get("format")
        vol.affine = np.eye(4) if fmt in ("nifti", "nrrd") else _LPS_DEFAULT.copy()
        vol.spacing_known = False
        vol.warnings.append(f"unusable geometry in the file ({problem}): shown with 1 mm voxels and default "
                            "axes; positions and sizes in mm are not reliable")
    return vol
