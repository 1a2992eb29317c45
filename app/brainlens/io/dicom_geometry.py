"""Slice-stack geometry for DICOM series (numpy only): sort along the normal, find gaps and duplicates,
build the voxel->RAS affine from ImagePositionPatient / ImageOrientationPatient / PixelSpacing.

Voxel axes: i = column index (along the DICOM row direction), j = row index, k = slice slot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
_DUPLICATE_MM = 0.01  # positions closer than this along the normal are the same slice
_GAP_FACTOR = 1.5  # a step this many times the median spacing means slices are missing
_TILT_WARN_DEG = 0.5


@dataclass
class StackGeometry:
    order: list[int]  # indices into the input slices, kept ones only, in slot order
    slots: list[int]  # slot (k index) of each kept slice; gaps leave slots empty
    n_slots: int
    affine: np.ndarray  # voxel -> RAS mm
    slice_spacing: float
    warnings: list[str] = field(default_factory=list)
    missing: int = 0
    duplicates: int = 0


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v)
    return v / n if n > 0 else v


def orientation_vectors(iop: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row direction, column direction and slice normal (all unit, LPS) from ImageOrientationPatient."""
    row, col = _unit(np.asarray(iop[:3], float)), _unit(np.asarray(iop[3:6], float))
    return row, col, _unit(np.cross(row, col))


def stack_geometry(positions: np.ndarray, iop: np.ndarray, pixel_spacing: tuple[float, float],
                   thickness: float = 1.0) -> StackGeometry:
    """Order slices by position along the slice normal and derive the affine.

    ``positions``: (n, 3) ImagePositionPatient (LPS mm) of each slice; ``pixel_spacing``: DICOM
    PixelSpacing (row spacing, column spacing); ``thickness``: slice step used only for a single slice.
    Missing slices become empty slots so every acquired slice stays at its true position.
    """
    positions = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    row, col, normal = orientation_vectors(np.asarray(iop, float))
    warns: list[str] = []
    if abs(float(np.dot(row, col))) > 1e-3:
        warns.append("image orientation axes are not orthogonal; geometry may be distorted")
    dist = positions @ normal
    order = [int(i) for i in np.argsort(dist, kind="stable")]
    kept = [order[0]]
    for idx in order[1:]:
        if dist[idx] - dist[kept[-1]] < _DUPLICATE_MM:
            continue
        kept.append(idx)
    duplicates = len(order) - len(kept)
    if duplicates:
        warns.append(f"{duplicates} slice(s) share a position with another slice; kept the first of each")
    step_vec = normal * (thickness if thickness > 0 else 1.0)
    slots = [0]
    missing = 0
    spacing = float(np.linalg.norm(step_vec))
    if len(kept) > 1:
        diffs = np.diff(dist[kept])
        median = float(np.median(diffs))
        ratio = diffs / median
        increments = np.where(ratio > _GAP_FACTOR, np.rint(ratio), 1).astype(int)
        missing = int(increments.sum() - len(increments))
        slots = [0, *np.cumsum(increments).tolist()]
        if missing:
            warns.append(f"{missing} slice(s) missing (gap larger than {_GAP_FACTOR}x the {median:.3g} mm "
                         "spacing); left blank so positions stay true")
        regular = diffs[increments == 1]
        if regular.size and regular.max() - regular.min() > max(0.05 * median, 0.01):
            warns.append(f"uneven slice spacing ({regular.min():.3g} to {regular.max():.3g} mm); "
                         "the average step is used")
        step_vec = (positions[kept[-1]] - positions[kept[0]]) / slots[-1]
        spacing = float(np.linalg.norm(step_vec))
        tilt = float(np.degrees(np.arccos(np.clip(abs(np.dot(_unit(step_vec), normal)), 0.0, 1.0))))
        if tilt > _TILT_WARN_DEG:
            warns.append(f"slices are sheared {tilt:.1f} deg from the slice normal (gantry tilt or "
                         "non-orthogonal stack); geometry kept as acquired")
    lps = np.eye(4)
    lps[:3, 0] = row * float(pixel_spacing[1])
    lps[:3, 1] = col * float(pixel_spacing[0])
    lps[:3, 2] = step_vec
    lps[:3, 3] = positions[kept[0]]
    return StackGeometry(kept, [int(s) for s in slots], int(slots[-1]) + 1, LPS_TO_RAS @ lps, spacing, warns,
                         missing, duplicates)
