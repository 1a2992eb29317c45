"""Put an overlay given on its own grid onto a series' grid through the world (RAS mm) both affines share.

Labels are resampled nearest-neighbour (values stay labels), maps trilinearly. Used by "Load overlay".
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

GRID_ATOL_MM = 1e-3


def same_grid(shape_a, affine_a: np.ndarray, shape_b, affine_b: np.ndarray) -> bool:
    return tuple(shape_a) == tuple(shape_b) and np.allclose(affine_a, affine_b, atol=GRID_ATOL_MM)


def resample_to_grid(data: np.ndarray, affine: np.ndarray, shape: tuple[int, int, int],
                     target_affine: np.ndarray, labels: bool) -> np.ndarray:
    """``data`` (on ``affine``) sampled at every voxel of the target grid; outside its extent -> 0."""
    # target voxel -> world -> source voxel
    m = np.linalg.inv(np.asarray(affine, dtype=np.float64)) @ np.asarray(target_affine, dtype=np.float64)
    src = data.astype(np.float32, copy=False) if not labels else data
    out = ndimage.affine_transform(src, m[:3, :3], offset=m[:3, 3], output_shape=tuple(shape),
                                   order=0 if labels else 1, mode="constant", cval=0.0)
    return out.astype(data.dtype if labels else np.float32, copy=False)
