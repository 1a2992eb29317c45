"""Window / level for MR (numpy only): presets computed on the head's tissue rather than on the whole box
(half of an MR volume is air, which drags whole-volume percentiles down), and a right-drag that moves in
steps of the image's own robust range and cannot leave the data range."""

from __future__ import annotations

import numpy as np

# name -> (low, high) percentiles, and whether they are taken over tissue only (voxels brighter than air)
PRESETS: dict[str, tuple[float, float, bool]] = {
    "Auto (1-99.5 %)": (1.0, 99.5, False),
    "Brain (tissue 1-99.5 %)": (1.0, 99.5, True),
    "Grey/white contrast (tissue 15-99 %)": (15.0, 99.0, True),
    "Bright lesions (tissue 50-99.9 %)": (50.0, 99.9, True),
    "Wide (0.1-99.9 %)": (0.1, 99.9, False),
    "Full range": (0.0, 100.0, False),
}
DEFAULT = "Auto (1-99.5 %)"
AIR_FRACTION = 0.08  # of the 99th percentile: below this an MR voxel is air or background noise
MIN_WIDTH_FRACTION = 1e-3


def _sample(data: np.ndarray, max_samples: int = 1_000_000) -> np.ndarray:
    flat = data.reshape(-1)
    sample = flat[:: max(1, flat.size // max_samples)].astype(np.float32, copy=False)
    return sample[np.isfinite(sample)]


def percentile_levels(data: np.ndarray, low: float, high: float, tissue_only: bool = False
                      ) -> tuple[float, float]:
    """Intensity percentiles on a strided subsample (exact enough for display, fast on big volumes)."""
    sample = _sample(data)
    if sample.size == 0:
        return 0.0, 1.0
    if tissue_only:
        floor = float(sample.min()) + AIR_FRACTION * (float(np.percentile(sample, 99)) - float(sample.min()))
        tissue = sample[sample > floor]
        sample = tissue if tissue.size > 100 else sample
    lo, hi = (float(v) for v in np.percentile(sample, [low, high]))
    if hi <= lo:  # constant image: still give the renderer a valid range
        hi = lo + 1.0
    return lo, hi


def preset_levels(data: np.ndarray, name: str) -> tuple[float, float]:
    low, high, tissue = PRESETS[name]
    return percentile_levels(data, low, high, tissue)


def clamp_window(centre: float, width: float, data_range: tuple[float, float], robust_span: float
                 ) -> tuple[float, float]:
    """(low, high) with the centre inside the data range and a width between a sliver and twice the range."""
    lo, hi = data_range
    span = max(hi - lo, 1e-6)
    centre = float(np.clip(centre, lo, hi))
    width = float(np.clip(width, max(robust_span, span) * MIN_WIDTH_FRACTION, 2 * span))
    return centre - width / 2, centre + width / 2


def dragged_window(window: tuple[float, float], d_centre: float, d_width: float,
                   data_range: tuple[float, float], robust: tuple[float, float]) -> tuple[float, float]:
    """Move the centre and widen by fractions of the robust range (a drag across a whole view = one
    robust range), clamped."""
    span = max(robust[1] - robust[0], 1e-6)
    lo, hi = window
    return clamp_window((lo + hi) / 2 + d_centre * span, (hi - lo) + d_width * span, data_range, span)


def window_from_width_level(width: float, level: float, data_range: tuple[float, float],
                            robust: tuple[float, float]) -> tuple[float, float]:
    """Numeric entry: W and L as typed, clamped like a drag."""
    return clamp_window(level, width, data_range, max(robust[1] - robust[0], 1e-6))


def display_bytes(plane: np.ndarray, low: float, high: float) -> np.ndarray:
    """One plane windowed to 0..255 (``low`` -> 0, ``high`` -> 255, clipped; NaN -> 0) as uint8.

    The viewer hands these bytes to the renderer with a lookup table, so painting never rescales floats
    or scans for NaN again. Fortran order: the renderer reads planes transposed (column-major), and this
    way that transpose is already contiguous, saving it a copy per slice.
    """
    scale = np.float32(255.0 / max(float(high) - float(low), 1e-12))
    values = np.subtract(plane, np.float32(low), dtype=np.float32)
    values *= scale
    np.clip(values, 0.0, 255.0, out=values)
    if values.dtype.kind == "f" and np.isnan(values.max()):
        np.nan_to_num(values, copy=False, nan=0.0)
    return values.astype(np.uint8, order="F")
