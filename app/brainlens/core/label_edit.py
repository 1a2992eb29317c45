"""Editing a label array in place with undo/redo, as napari's labels layer does it (numpy/scipy only).

A stroke (one brush drag, one fill) is one undo step stored as (flat indices, old values, new values), so
history costs memory in proportion to what was touched, not to the volume. ``brush_indices`` and
``fill_hole_indices`` turn a gesture on one plane of the canonical grid into the voxels it changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from brainlens.core.geometry import PLANE_NORMAL_AXIS


@dataclass(frozen=True)
class Stroke:
    indices: np.ndarray  # flat indices into the label array, unique
    old: np.ndarray  # uint8 values before
    new: np.ndarray  # uint8 values after


class LabelHistory:
    """Undo / redo stacks of strokes for one label array; a stroke may gather several dabs."""

    def __init__(self, limit: int = 100) -> None:
        self.undo_stack: list[Stroke] = []
        self.redo_stack: list[Stroke] = []
        self.limit = limit
        self._open: list[tuple[np.ndarray, np.ndarray]] | None = None  # (indices, old) of the running stroke

    @property
    def stroke_open(self) -> bool:
        return self._open is not None

    def begin(self) -> None:
        if self._open is None:
            self._open = []

    def write(self, data: np.ndarray, indices: np.ndarray, value: int) -> bool:
        """Set ``data.flat[indices] = value``; True if anything changed. Outside a stroke, one dab = one step."""
        flat = data.reshape(-1)  # a view: data is C-contiguous
        indices = np.asarray(indices, dtype=np.intp)
        changed = indices[flat[indices] != value]
        if changed.size == 0:
            return False
        single = self._open is None
        self.begin()
        self._open.append((changed, flat[changed].copy()))  # type: ignore[union-attr]
        flat[changed] = value
        if single:
            self.end(data)
        return True

    def end(self, data: np.ndarray) -> Stroke | None:
        """Close the running stroke into one undo step (the first old value of each voxel wins)."""
        parts, self._open = self._open, None
        if not parts:
            return None
        idx = np.concatenate([p[0] for p in parts])
        old = np.concatenate([p[1] for p in parts])
        idx, first = np.unique(idx, return_index=True)
        stroke = Stroke(idx, old[first], data.reshape(-1)[idx].copy())
        keep = stroke.old != stroke.new  # painted over and back within the stroke: nothing to remember
        if not keep.any():
            return None
        stroke = Stroke(stroke.indices[keep], stroke.old[keep], stroke.new[keep])
        self.undo_stack.append(stroke)
        del self.undo_stack[:-self.limit]
        self.redo_stack.clear()
        return stroke

    def undo(self, data: np.ndarray) -> Stroke | None:
        if self._open is not None:
            self.end(data)
        if not self.undo_stack:
            return None
        stroke = self.undo_stack.pop()
        data.reshape(-1)[stroke.indices] = stroke.old
        self.redo_stack.append(stroke)
        return stroke

    def redo(self, data: np.ndarray) -> Stroke | None:
        if not self.redo_stack:
            return None
        stroke = self.redo_stack.pop()
        data.reshape(-1)[stroke.indices] = stroke.new
        self.undo_stack.append(stroke)
        return stroke


def brush_indices(shape: tuple[int, int, int], spacing: tuple[float, float, float], plane: str,
                  centre: np.ndarray, radius_mm: float) -> np.ndarray:
    """Flat indices of a disc of ``radius_mm`` (physical, so round on anisotropic grids) on the plane's slice
    through the canonical voxel ``centre``. At least the centre voxel."""
    normal = PLANE_NORMAL_AXIS[plane]
    centre = np.asarray(centre, dtype=np.float64)
    lo, hi = [], []
    for axis in range(3):
        if axis == normal:
            c = int(np.clip(round(centre[axis]), 0, shape[axis] - 1))
            lo.append(c)
            hi.append(c + 1)
        else:
            reach = int(np.ceil(radius_mm / spacing[axis]))
            lo.append(max(0, int(round(centre[axis])) - reach))
            hi.append(min(shape[axis], int(round(centre[axis])) + reach + 1))
    if any(h <= low for low, h in zip(lo, hi)):
        return np.zeros(0, dtype=np.intp)
    grids = np.meshgrid(*[np.arange(low, h) for low, h in zip(lo, hi)], indexing="ij")
    dist2 = sum(((g - centre[a]) * spacing[a]) ** 2 for a, g in enumerate(grids) if a != normal)
    inside = dist2 <= max(radius_mm, 0.0) ** 2
    if not inside.any():  # a brush smaller than a voxel still paints the voxel under it
        inside = dist2 == dist2.min()
    return np.ravel_multi_index(tuple(g[inside] for g in grids), shape)


def fill_hole_indices(labels: np.ndarray, plane: str, index: int, value: int) -> np.ndarray:
    """Flat indices of the holes enclosed by ``value`` on one slice (what 'fill hole' paints)."""
    from scipy import ndimage

    normal = PLANE_NORMAL_AXIS[plane]
    sl = np.take(labels, index, axis=normal) == value
    holes = ndimage.binary_fill_holes(sl) & ~sl
    ij = np.argwhere(holes)
    if ij.size == 0:
        return np.zeros(0, dtype=np.intp)
    ijk = np.insert(ij, normal, index, axis=1)
    return np.ravel_multi_index(tuple(ijk.T), labels.shape)
