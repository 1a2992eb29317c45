"""Tumour-free anatomy from tumour patients: the healthy hemisphere, mirrored across the midline.

Every 3D training patient here has a glioma, so both models met skull-stripped mid-brain anatomy only with
a tumour in it, and learnt the shortcut: the segmenter marked tumour in healthy heads, the classifier
called a healthy skull-stripped brain "glioma". Most lesions stay on one side of the midline, so the other
side is real healthy tissue in the patient's own contrast; mirrored, it makes a whole tumour-free brain
(3D) or slice (2D). A perfectly symmetric image would itself be a shortcut ("symmetric = healthy"), so
the mirrored copy is bent by a smooth random displacement before it is joined on.

Arrays are (channels, x, ...) with x the left-right axis (RAS-canonical grids).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

MAX_MIDLINE_SHIFT_VOX = 4  # how far from the given centre the split may move to clear the lesion
MIDLINE_SHIFT_MM = 8.0  # the same allowance for whole heads at any pixel size (4 voxels of the 2 mm grid)
WARP_SIGMA_VOX = 6.0  # smoothness of the displacement field
WARP_MAX_VOX = 2.0  # its largest displacement


def healthy_side(tumour: np.ndarray, centre: int | None = None,
                 max_shift: int = MAX_MIDLINE_SHIFT_VOX) -> tuple[int, int] | None:
    """(midline index, healthy side: -1 = below it on axis 0, +1 = above) with no tumour voxel on that side,
    nearest ``centre`` (default: the middle of axis 0); None when the lesion reaches both sides."""
    per_x = np.asarray(tumour).reshape(tumour.shape[0], -1).sum(1)
    centre = tumour.shape[0] // 2 if centre is None else int(centre)
    for shift in sorted(range(-max_shift, max_shift + 1), key=abs):
        mid = centre + shift
        if not 8 <= mid <= tumour.shape[0] - 8:
            continue
        if per_x[:mid].sum() == 0:
            return mid, -1
        if per_x[mid:].sum() == 0:
            return mid, +1
    return None


def whole_head_split(tumour: np.ndarray, reference: np.ndarray, pixel_mm: float) -> tuple[int, int] | None:
    """healthy_side for a whole RAS-canonical head: around the head's own middle (``reference``, an image on
    the tumour's grid), moving at most MIDLINE_SHIFT_MM."""
    return healthy_side(tumour, head_centre_x(np.asarray(reference, np.float32)),
                        int(round(MIDLINE_SHIFT_MM / pixel_mm)))


def head_centre_x(canonical: np.ndarray) -> int:
    """Left-right middle of the head's extent (the midline of a head that is not turned much)."""
    data = np.nan_to_num(canonical)
    lo, hi = float(data.min()), float(np.percentile(data, 99.5))
    cols = np.nonzero((data > lo + 0.1 * (hi - lo)).any(axis=(1, 2)))[0]
    return int(round((cols[0] + cols[-1]) / 2)) if len(cols) else canonical.shape[0] // 2


def smooth_warp(shape: tuple[int, ...], rng: np.random.Generator, sigma: float = WARP_SIGMA_VOX,
                max_disp: float = WARP_MAX_VOX) -> list[np.ndarray]:
    """Sampling coordinates of a smooth random displacement (at most ``max_disp`` voxels) of a grid."""
    coords = np.meshgrid(*[np.arange(n, dtype=np.float32) for n in shape], indexing="ij")
    out = []
    for c in coords:
        field = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
        peak = float(np.abs(field).max()) or 1.0
        out.append(c + field / peak * max_disp)
    return out


def mirrored(image: np.ndarray, mid: int, side: int, rng: np.random.Generator,
             max_disp: float = WARP_MAX_VOX) -> np.ndarray:
    """The healthy part of ``image`` (C, X, ...) joined to its bent mirror image: same shape as the healthy
    part doubled (so ``2 * mid`` or ``2 * (X - mid)`` along x)."""
    half = image[:, :mid] if side < 0 else image[:, mid:]
    mirror = half[:, ::-1]
    warp = smooth_warp(mirror.shape[1:], rng, max_disp=max_disp)
    mirror = np.stack([ndimage.map_coordinates(ch, warp, order=1, mode="nearest") for ch in mirror])
    return np.concatenate([half, mirror] if side < 0 else [mirror, half], axis=1).astype(np.float32)
