"""Tumour measurements from a label map on its source grid: volumes, lesions, diameters, RANO.

One implementation shared by the CLI, the GUI and the report. Every distance is physical: voxel centres are
mapped through the affine, so anisotropic, sheared and oblique grids are measured correctly.
BraTS labels: 1 = necrotic/non-enhancing core, 2 = oedema, 4 = enhancing tumour.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

from brainlens.core.geometry import axis_mapping
from brainlens.core.labels import REGION_LABELS

REGIONS = REGION_LABELS  # region key -> label values, from the one definition in core.labels
_CONN26 = np.ones((3, 3, 3), dtype=bool)
PERPENDICULAR_TOLERANCE_DEG = 5.0
_SMALL_COMPONENT = 64  # voxels; below this a component's diameter is found by brute force
_CHUNK = 512  # rows per block in pairwise distances, bounds memory at ~_CHUNK * N floats


def region_mask(labels: np.ndarray, region: str) -> np.ndarray:
    if region not in REGIONS:
        raise ValueError(f"unknown region {region!r}; known: {', '.join(REGIONS)}")
    return np.isin(labels, REGIONS[region])


def voxel_volume_ml(affine: np.ndarray) -> float:
    return float(abs(np.linalg.det(np.asarray(affine, dtype=np.float64)[:3, :3])) / 1000.0)


def volume_ml(mask: np.ndarray, affine: np.ndarray) -> float:
    return float(np.count_nonzero(mask)) * voxel_volume_ml(affine)


def _bbox(mask: np.ndarray) -> tuple[slice, ...]:
    """Bounding box of the mask's True voxels (empty slices for an empty mask)."""
    box = []
    for axis in range(mask.ndim):
        hit = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
        box.append(slice(int(hit[0]), int(hit[-1]) + 1) if hit.size else slice(0, 0))
    return tuple(box)


def _crop(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mask cut to its bounding box and the box's corner index (tumours fill a small part of a head)."""
    box = _bbox(mask)
    return mask[box], np.array([b.start for b in box])


def _shifted(affine: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Affine of a sub-array that starts at voxel ``offset`` of the original grid."""
    out = np.asarray(affine, dtype=np.float64).copy()
    out[:3, 3] = out[:3, 3] + out[:3, :3] @ offset
    return out


def _to_mm(ijk: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """(N, 3) voxel indices -> (N, 3) RAS mm."""
    a = np.asarray(affine, dtype=np.float64)
    return ijk.astype(np.float64) @ a[:3, :3].T + a[:3, 3]


def _farthest_pair(points: np.ndarray) -> tuple[float, int, int]:
    """Largest pairwise distance among points (N, d) and the indices of that pair, in bounded memory."""
    best, bi, bj = 0.0, 0, 0
    for start in range(0, len(points), _CHUNK):
        block = points[start:start + _CHUNK]
        d2 = ((block[:, None, :] - points[None, :, :]) ** 2).sum(axis=-1)
        k = int(np.argmax(d2))
        r, c = divmod(k, d2.shape[1])
        if d2[r, c] > best:
            best, bi, bj = float(d2[r, c]), start + r, c
    return float(np.sqrt(best)), bi, bj


def _hull_vertices(points: np.ndarray) -> np.ndarray:
    """Indices of points that can be diameter endpoints: convex-hull vertices in the points' own span.

    Flat (coplanar) or collinear sets are hulled in their 2D/1D span, found by SVD, so they need no
    special casing by callers.
    """
    n = len(points)
    if n <= 3:
        return np.arange(n)
    centred = points - points.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    rank = int(np.sum(s > max(s[0], 1e-12) * 1e-9))
    if rank == 0:
        return np.array([0])
    coords = centred @ vt[:rank].T
    if rank == 1:
        return np.array([int(np.argmin(coords[:, 0])), int(np.argmax(coords[:, 0]))])
    try:
        return ConvexHull(coords).vertices
    except QhullError:  # numerically degenerate despite the rank test: every point is a candidate
        return np.arange(n)


def _surface(mask: np.ndarray) -> np.ndarray:
    """Voxels of the mask with a face-neighbour outside it (hull vertices are always among these)."""
    return mask & ~ndimage.binary_erosion(mask, border_value=0)


def _diameter_from_ijk(ijk: np.ndarray, affine: np.ndarray) -> tuple[float, int, int]:
    pts = _to_mm(ijk, affine)
    hull = _hull_vertices(pts)
    dist, a, b = _farthest_pair(pts[hull])
    return dist, int(hull[a]), int(hull[b])


def max_diameter_mm(mask: np.ndarray, affine: np.ndarray) -> float:
    """Longest distance (mm) between two voxel centres of the mask; 0.0 for an empty or one-voxel mask."""
    mask, offset = _crop(np.asarray(mask, dtype=bool))
    ijk = np.argwhere(_surface(mask) if mask.ndim == 3 else mask) + offset
    if len(ijk) < 2:
        return 0.0
    return _diameter_from_ijk(ijk, affine)[0]


def _component_diameter(sub: np.ndarray, offset: np.ndarray, affine: np.ndarray) -> float:
    """Max diameter of one component given as a boolean crop starting at ``offset``."""
    n = int(np.count_nonzero(sub))
    if n < 2:
        return 0.0
    if n <= _SMALL_COMPONENT:  # direct pairwise is cheaper than erosion + hull for a few voxels
        return _farthest_pair(_to_mm(np.argwhere(sub) + offset, affine))[0]
    return _diameter_from_ijk(np.argwhere(_surface(sub)) + offset, affine)[0]


def lesions(mask: np.ndarray, affine: np.ndarray, min_volume_ml: float = 0.0) -> list[dict[str, Any]]:
    """Connected components (26-connectivity), largest first, each with volume, RAS centroid and diameter."""
    mask, crop_offset = _crop(np.asarray(mask, dtype=bool))
    labelled, count = ndimage.label(mask, structure=_CONN26)
    if count == 0:
        return []
    affine = _shifted(affine, crop_offset)
    vox_ml = voxel_volume_ml(affine)
    # sizes and centroids of all components in one pass over the mask's voxels (a per-component loop is
    # slow on speckled masks, and ndimage.center_of_mass walks the whole grid)
    where = np.nonzero(mask)
    ids = labelled[where]
    sizes = np.bincount(ids, minlength=count + 1)
    sums = np.stack([np.bincount(ids, weights=w.astype(np.float64), minlength=count + 1) for w in where], axis=1)
    keep = [int(i) for i in np.flatnonzero(sizes * vox_ml >= min_volume_ml) if i > 0]
    if not keep:
        return []
    centroids = _to_mm(sums[keep] / sizes[keep, None], affine)
    boxes = ndimage.find_objects(labelled)
    out = []
    for index, centroid in zip(keep, centroids):
        box = boxes[index - 1]
        diameter = 0.0 if sizes[index] == 1 else _component_diameter(
            labelled[box] == index, np.array([s.start for s in box]), affine)
        out.append({"volume_ml": float(sizes[index] * vox_ml),
                    "centroid_ras_mm": [float(c) for c in centroid],
                    "n_voxels": int(sizes[index]),
                    "max_diameter_mm": float(diameter)})
    out.sort(key=lambda d: d["volume_ml"], reverse=True)
    return out


def _axial_axis(affine: np.ndarray) -> int:
    world, _ = axis_mapping(np.asarray(affine, dtype=np.float64))
    return world.index(2)


def _longest_perpendicular(pts: np.ndarray, a: np.ndarray, b: np.ndarray, normal: np.ndarray,
                           tol_deg: float) -> tuple[float, int, int]:
    """Longest chord crossing the segment a-b within tol_deg of perpendicular to it (RANO convention).

    If no pair qualifies (tiny lesions on a coarse grid), the pair nearest to perpendicular is used, the
    longer one on ties.
    """
    u = (b - a) / max(np.linalg.norm(b - a), 1e-12)
    w = np.cross(normal, u)
    w /= max(np.linalg.norm(w), 1e-12)
    t_all, s_all = (pts - a) @ u, (pts - a) @ w  # along / across the longest diameter
    span = float(np.linalg.norm(b - a))
    sin_tol = np.sin(np.radians(tol_deg))
    best = (-1.0, 0, 0)
    nearest = (np.inf, -1.0, 0, 0)  # (|cos| rounded, length, i, j)
    for start in range(0, len(pts), _CHUNK):
        stop = min(start + _CHUNK, len(pts))
        dt = t_all[None, :] - t_all[start:stop, None]
        ds = s_all[None, :] - s_all[start:stop, None]
        length = np.hypot(dt, ds)
        valid = length > 0
        cos = np.abs(dt) / np.maximum(length, 1e-12)
        sp, sq = s_all[start:stop, None], s_all[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            t_cross = t_all[start:stop, None] + dt * sp / (sp - sq)
        crosses = (sp * sq <= 0) & (sp != sq) & (t_cross >= -1e-6) & (t_cross <= span + 1e-6)
        ok = valid & crosses & (cos <= sin_tol)
        if ok.any():
            k = int(np.argmax(np.where(ok, length, -1.0)))
            r, c = divmod(k, length.shape[1])
            if length[r, c] > best[0]:
                best = (float(length[r, c]), start + r, c)
        if valid.any():
            # smallest |cos| first (rounded so voxel noise does not dominate), then the longest
            score = np.where(valid, np.round(cos, 6) - length * 1e-9, np.inf)
            k = int(np.argmin(score))
            r, c = divmod(k, length.shape[1])
            if (np.round(cos[r, c], 6), -length[r, c]) < (nearest[0], -nearest[1]):
                nearest = (float(np.round(cos[r, c], 6)), float(length[r, c]), start + r, c)
    if best[0] >= 0:
        return best
    if nearest[1] >= 0:
        return nearest[1], nearest[2], nearest[3]
    return 0.0, 0, 0


def rano(enhancing_mask: np.ndarray, affine: np.ndarray,
         tolerance_deg: float = PERPENDICULAR_TOLERANCE_DEG) -> dict[str, Any] | None:
    """Bidimensional (RANO) measurement of the largest enhancing lesion; None if nothing enhances.

    The lesion is the largest 26-connected enhancing component (so two separate lesions are never spanned
    by one diameter). On the axial slice (voxel axis closest to world S) where it has its largest
    cross-section, the longest in-plane diameter between edge-voxel centres is found, then the longest
    chord that crosses it within ``tolerance_deg`` of perpendicular. Distances are physical (through the
    affine); ``slice_axis`` is the voxel axis the slice index counts along.
    """
    mask, offset = _crop(np.asarray(enhancing_mask, dtype=bool))
    if not mask.any():
        return None
    affine = np.asarray(affine, dtype=np.float64)
    labelled, count = ndimage.label(mask, structure=_CONN26)
    if count > 1:
        sizes = np.bincount(labelled.ravel())
        sizes[0] = 0
        mask = labelled == int(np.argmax(sizes))
    axis = _axial_axis(affine)
    areas = mask.sum(axis=tuple(a for a in range(3) if a != axis))
    k = int(np.argmax(areas))
    plane = np.take(mask, k, axis=axis)
    edge = plane & ~ndimage.binary_erosion(plane, border_value=0)
    ij = np.argwhere(edge)
    ijk = np.insert(ij, axis, k, axis=1) + offset  # back on the caller's grid
    pts = _to_mm(ijk, affine)
    hull = _hull_vertices(pts)
    longest, a, b = _farthest_pair(pts[hull])
    a, b = int(hull[a]), int(hull[b])
    if longest > 0:
        in_plane = [affine[:3, i] for i in range(3) if i != axis]
        normal = np.cross(in_plane[0], in_plane[1])
        normal /= np.linalg.norm(normal)
        perp, c, d = _longest_perpendicular(pts, pts[a], pts[b], normal, tolerance_deg)
    else:
        perp, c, d = 0.0, a, a
    return {"slice_index": k + int(offset[axis]),
            "slice_axis": axis,
            "longest_mm": float(longest),
            "perpendicular_mm": float(perp),
            "product_mm2": float(longest * perp),
            "longest_endpoints_ijk": [[int(v) for v in ijk[a]], [int(v) for v in ijk[b]]],
            "perpendicular_endpoints_ijk": [[int(v) for v in ijk[c]], [int(v) for v in ijk[d]]]}


def measure_labels(labels: np.ndarray, affine: np.ndarray) -> dict[str, Any]:
    """Per-region volume, maximum diameter and lesions, plus RANO of the enhancing tumour."""
    labels = np.asarray(labels)
    box = _bbox(np.isin(labels, REGIONS["whole_tumor"]))
    offset = np.array([b.start for b in box])
    sub, sub_affine = labels[box], _shifted(affine, offset)  # same world coordinates, far fewer voxels
    regions = {}
    for name in REGIONS:
        mask = region_mask(sub, name)
        found = lesions(mask, sub_affine)
        # one lesion: its diameter is the region's, no need to hull the same surface twice
        diameter = found[0]["max_diameter_mm"] if len(found) == 1 else max_diameter_mm(mask, sub_affine)
        regions[name] = {"volume_ml": volume_ml(mask, sub_affine), "max_diameter_mm": diameter, "lesions": found}
    result = rano(region_mask(sub, "enhancing_tumor"), sub_affine)
    if result is not None:  # report indices on the caller's grid, not the crop's
        result["slice_index"] += int(offset[result["slice_axis"]])
        for key in ("longest_endpoints_ijk", "perpendicular_endpoints_ijk"):
            result[key] = [[int(v + o) for v, o in zip(p, offset)] for p in result[key]]
    return {"regions": regions, "rano": result}
