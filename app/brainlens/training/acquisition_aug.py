"""Acquisition effects baked into 3D-study training slices: what older or clinical scans do to a slice.

- Partial field of view: some studies (the 2013 BraTS FLAIRs) hold no signal beyond a straight cut
  through the head, so the product's head crop shows a magnified part of a head. The cut never removes
  the lesion of a tumour slice (it is made on the side away from the lesion, and the slice keeps enough
  tumour or it is left whole).
- Low in-plane resolution: a 2D acquisition with coarse pixels (or a reformat of one) is blurred along
  one or both in-plane axes, unlike BraTS's 1 mm isotropic voxels.
Both work on one canonical axial slab (X = left-right, Y = posterior-anterior) before display and
preprocessing, exactly where the scanner would have made the difference.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

MIN_KEPT_HEAD = 0.6  # a cut keeps at least this fraction of the head's extent along the cut axis
MAX_KEPT_HEAD = 0.85


def partial_fov(slab2d: np.ndarray, tumour2d: np.ndarray | None, rng: np.random.Generator,
                min_tumour_px: int = 0) -> np.ndarray | None:
    """The slab with everything beyond a random axis-aligned cut set to zero, or None when no cut fits.

    The cut keeps 60-85 % of the head's extent along X or Y; for a tumour slice it is taken from the side
    away from the lesion and must leave at least ``min_tumour_px`` tumour pixels.
    """
    signal = slab2d > 0
    if not signal.any():
        return None
    for axis in [int(a) for a in rng.permutation(2)]:
        extent = np.nonzero(signal.any(axis=1 - axis))[0]
        lo, hi = int(extent[0]), int(extent[-1]) + 1
        kept = int(round((hi - lo) * rng.uniform(MIN_KEPT_HEAD, MAX_KEPT_HEAD)))
        keep_low = bool(rng.random() < 0.5)  # keep [lo, lo+kept) or [hi-kept, hi)
        if tumour2d is not None and tumour2d.any():
            centre = float(np.nonzero(tumour2d.any(axis=1 - axis))[0].mean())
            keep_low = centre < (lo + hi) / 2  # cut on the far side of the lesion
        keep = np.zeros(slab2d.shape[axis], bool)
        if keep_low:
            keep[lo:lo + kept] = True
        else:
            keep[hi - kept:hi] = True
        shape = [1, 1]
        shape[axis] = -1
        kept_mask = keep.reshape(shape)
        if tumour2d is not None and int((tumour2d & kept_mask).sum()) < min_tumour_px:
            continue
        return np.where(kept_mask, slab2d, 0).astype(slab2d.dtype)
    return None


def low_inplane_resolution(slab2d: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The slab as if acquired with pixels 2-4x coarser along one or both in-plane axes, then resampled."""
    factors = [float(rng.uniform(2.0, 4.0)) if rng.random() < 0.6 else 1.0 for _ in range(2)]
    if factors == [1.0, 1.0]:
        factors[int(rng.integers(2))] = float(rng.uniform(2.0, 4.0))
    coarse = ndimage.zoom(slab2d.astype(np.float32), [1 / f for f in factors], order=1, grid_mode=True,
                          mode="nearest")
    back = ndimage.zoom(coarse, [a / b for a, b in zip(slab2d.shape, coarse.shape, strict=True)], order=1,
                        grid_mode=True, mode="nearest")
    out = np.zeros_like(slab2d, dtype=np.float32)
    h, w = min(back.shape[0], out.shape[0]), min(back.shape[1], out.shape[1])
    out[:h, :w] = back[:h, :w]
    return np.where(slab2d > 0, np.maximum(out, 0), 0).astype(slab2d.dtype)
