"""Brain mask from one MR image with numpy + scipy: intensity threshold and morphology.

Two paths. An image that is already skull-stripped (a large exactly-constant background around one
solid foreground) keeps its foreground, holes filled, so stripped data passes through unchanged.
Otherwise: smooth, Otsu threshold, erode to cut the thin bridges between brain and scalp/skull, keep
the largest component, dilate back and fill holes. This is a heuristic for the segmenter's input, not
a validated skull-strip; see the segmenter card for how it was checked.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

# Fraction of voxels at exactly the minimum above which an image counts as already stripped.
_STRIPPED_BACKGROUND_FRACTION = 0.25


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold of a 1D sample (maximises between-class variance)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size == 0:
        return 0.0
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return lo
    hist, edges = np.histogram(values, bins=bins, range=(lo, hi))
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres)
    mu0 = m0 / np.maximum(w0, 1)
    mu1 = (m0[-1] - m0) / np.maximum(w1, 1)
    between = (w0 * w1 * (mu0 - mu1) ** 2)[:-1]
    # Empty bins between two modes tie; take the middle of the tied plateau, not its first bin.
    best = np.flatnonzero(between >= between.max() * (1 - 1e-9))
    return float(edges[1:][int(best[len(best) // 2])])


def _ball(radius_vox: np.ndarray) -> np.ndarray:
    """Ellipsoidal structuring element with the given radius (voxels) along each axis."""
    r = np.maximum(np.round(radius_vox).astype(int), 0)
    grids = np.ogrid[tuple(slice(-k, k + 1) for k in r)]
    dist = sum((g / max(k, 0.5)) ** 2 for g, k in zip(grids, r))
    return dist <= 1.0


def largest_component(mask: np.ndarray) -> np.ndarray:
    labels, n = ndimage.label(mask)
    if n <= 1:
        return mask.astype(bool)
    sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, n + 1))
    return labels == (int(np.argmax(sizes)) + 1)


def is_skull_stripped(data: np.ndarray) -> bool:
    """True when a large part of the image sits at exactly its minimum (the stripped background)."""
    flat = np.asarray(data)
    if flat.size == 0:
        return False
    return float(np.mean(flat == flat.min())) >= _STRIPPED_BACKGROUND_FRACTION


def brain_mask(data: np.ndarray, spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
               erosion_mm: float = 5.0) -> np.ndarray:
    """Boolean brain mask on the grid of ``data`` (3D). Empty input gives an empty mask."""
    data = np.asarray(data, dtype=np.float32)
    if data.ndim != 3 or not np.isfinite(data).any() or float(np.nanmax(data) - np.nanmin(data)) == 0:
        return np.zeros(data.shape, dtype=bool)
    data = np.nan_to_num(data, nan=float(np.nanmin(data)))
    spacing_arr = np.asarray(spacing, dtype=np.float64)
    if is_skull_stripped(data):
        fg = data > data.min()
        # Drop specks of noise left in the background, keep every sizeable piece of the brain.
        labels, n = ndimage.label(fg)
        if n > 1:
            sizes = ndimage.sum_labels(fg, labels, index=np.arange(1, n + 1))
            keep = np.flatnonzero(sizes >= 0.01 * sizes.max()) + 1
            fg = np.isin(labels, keep)
        return _fill_holes_by_slice(fg)
    smooth = ndimage.gaussian_filter(data, sigma=1.0 / spacing_arr)
    # Threshold on the upper part of the histogram so air does not dominate Otsu.
    positive = smooth[smooth > np.percentile(smooth, 2)]
    fg = smooth > otsu_threshold(positive)
    radius = erosion_mm / spacing_arr
    ball = _ball(radius)
    core = ndimage.binary_erosion(fg, structure=ball)
    if not core.any():
        core = fg
    core = largest_component(core)
    mask = ndimage.binary_dilation(core, structure=ball) & fg
    # Close small gaps (dark CSF, necrosis) before filling so the tumour stays inside the mask.
    mask = ndimage.binary_closing(mask, structure=_ball(2.0 / spacing_arr), iterations=1)
    return _fill_holes_by_slice(largest_component(mask))


def _fill_holes_by_slice(mask: np.ndarray) -> np.ndarray:
    """3D hole fill, then per-axial-slice fill for cavities that touch the volume edge in 3D only."""
    out = ndimage.binary_fill_holes(mask)
    for k in range(out.shape[2]):
        if out[:, :, k].any():
            out[:, :, k] = ndimage.binary_fill_holes(out[:, :, k])
    return out
