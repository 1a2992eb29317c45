"""Segmenter preprocessing, shared by training and inference, and its exact inverse.

Forward: every sequence is resampled (one linear interpolation from its own source array) onto a
2 mm grid whose axes are the reference series' axes reoriented to closest-canonical RAS, cropped to
the brain (ml.skull_strip: the foreground of a skull-stripped study, deepbet's brain mask of a study with
the skull on) and z-scored inside the brain. Missing sequences are zero channels.
Inverse: network outputs are uncropped and resampled straight onto the reference SOURCE grid with
the exact affines, so masks line up with the original series even when it is oblique.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from brainlens.core.geometry import canonical_reorientation, reoriented_affine
from brainlens.core.volume import Volume
from brainlens.ml.seg_model import CHANNELS, REGIONS, SPACING_MM, labels_to_regions
from brainlens.ml.skull_strip import BrainExtractor, find_brain

CROP_MARGIN_VOX = 4
Z_CLIP = 5.0


@dataclass
class SegGrid:
    """Geometry linking the network grid to the reference series' source grid."""

    affine: np.ndarray  # voxel -> RAS of the full (uncropped) network grid
    shape: tuple[int, int, int]
    crop: tuple[slice, slice, slice]
    source_affine: np.ndarray
    source_shape: tuple[int, int, int]

    @property
    def cropped_shape(self) -> tuple[int, int, int]:
        return tuple(s.stop - s.start for s in self.crop)  # type: ignore[return-value]

    @property
    def cropped_affine(self) -> np.ndarray:
        shift = np.eye(4)
        shift[:3, 3] = [s.start for s in self.crop]
        return self.affine @ shift


@dataclass
class Prepared:
    image: np.ndarray  # (4, X, Y, Z) float32 on the cropped network grid
    brain: np.ndarray  # (X, Y, Z) bool
    grid: SegGrid
    present: tuple[str, ...]
    warnings: list[str] = field(default_factory=list)
    brain_method: str = ""


def network_grid(reference: Volume, spacing_mm: float = SPACING_MM) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Affine and shape of an isotropic grid on the reference's canonical (RAS) axes."""
    r = canonical_reorientation(reference.affine, reference.shape)
    canon = reoriented_affine(reference.affine, r)
    canon_shape = np.array([reference.shape[p] for p in r.perm], dtype=np.float64)
    src_spacing = np.linalg.norm(canon[:3, :3], axis=0)
    scale = spacing_mm / src_spacing  # canonical voxels per network voxel
    shape = tuple(int(max(1, np.ceil(n / s))) for n, s in zip(canon_shape, scale))
    step = np.eye(4)
    step[:3, :3] = np.diag(scale)
    step[:3, 3] = (scale - 1) / 2  # network voxel t covers canonical voxels [s*t - .5, s*(t+1) - .5]
    return canon @ step, shape  # type: ignore[return-value]


def resample(data: np.ndarray, src_affine: np.ndarray, dst_affine: np.ndarray,
             dst_shape: tuple[int, ...], order: int = 1, cval: float = 0.0) -> np.ndarray:
    """Values of ``data`` (on src_affine) sampled at the voxel centres of the destination grid."""
    m = np.linalg.inv(src_affine) @ dst_affine
    mat = m[:3, :3]
    if np.allclose(mat, np.diag(np.diag(mat)), atol=1e-9):
        mat = np.diag(mat)  # axis-aligned: scipy's faster separable path
    src = np.nan_to_num(np.asarray(data, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    return ndimage.affine_transform(src, mat, offset=m[:3, 3], output_shape=tuple(dst_shape), order=order,
                                    mode="constant", cval=cval, prefilter=False)


def _bbox(mask: np.ndarray, margin: int) -> tuple[slice, slice, slice]:
    idx = np.nonzero(mask)
    return tuple(slice(max(0, int(i.min()) - margin), min(n, int(i.max()) + margin + 1))
                 for i, n in zip(idx, mask.shape))  # type: ignore[return-value]


def zscore(channel: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Zero-mean unit-variance inside ``mask``, clipped, zero outside."""
    values = channel[mask]
    if values.size < 10:
        return np.zeros_like(channel, dtype=np.float32)
    mean, std = float(values.mean()), float(values.std())
    out = (channel - mean) / max(std, 1e-6)
    np.clip(out, -Z_CLIP, Z_CLIP, out=out)
    out[~mask] = 0
    return out.astype(np.float32, copy=False)


def preprocess(volumes: Mapping[str, Volume], reference: str, spacing_mm: float = SPACING_MM,
               extractor: BrainExtractor | None = None) -> Prepared:
    """Network input for the sequences given (keys from CHANNELS) on the reference's 2 mm grid.

    ``extractor`` (deepbet's models) is used when the reference still has its skull; without one, a
    skull-on study falls back to the numpy heuristic, which keeps scalp (say so in the result)."""
    ref = volumes[reference]
    affine, shape = network_grid(ref, spacing_mm)
    resampled = {name: resample(vol.data, vol.affine, affine, shape, order=1)
                 for name, vol in volumes.items() if name in CHANNELS}
    warnings: list[str] = []
    brain, method = find_brain(resampled[reference], spacing_mm, extractor)
    if not brain.any():
        warnings.append("no brain found by brain extraction; using the whole field of view")
        brain = np.ones(shape, dtype=bool)
    crop = _bbox(brain, CROP_MARGIN_VOX)
    brain_c = brain[crop]
    image = np.zeros((len(CHANNELS),) + brain_c.shape, dtype=np.float32)
    for c, name in enumerate(CHANNELS):
        if name in resampled:
            image[c] = zscore(resampled[name][crop], brain_c)
    grid = SegGrid(affine, shape, crop, ref.affine.copy(), ref.shape)
    present = tuple(n for n in CHANNELS if n in resampled)
    return Prepared(image, brain_c, grid, present, warnings, method)


def labels_on_grid(labels: Volume, grid: SegGrid) -> np.ndarray:
    """(3, X, Y, Z) bool WT/TC/ET targets on the cropped network grid (training only).

    Each region is resampled as a fraction and thresholded at 0.5, which keeps region volumes
    unbiased at the coarser spacing (nearest neighbour would shift them).
    """
    regions = labels_to_regions(labels.data)
    out = np.zeros((len(REGIONS),) + grid.cropped_shape, dtype=bool)
    for i in range(len(REGIONS)):
        frac = resample(regions[i].astype(np.float32), labels.affine, grid.cropped_affine,
                        grid.cropped_shape, order=1)
        out[i] = frac >= 0.5
    return out


def to_source(maps: np.ndarray, grid: SegGrid, order: int = 1, cval: float = 0.0) -> np.ndarray:
    """(C, X, Y, Z) maps on the cropped network grid -> (C, *source_shape) on the reference source grid."""
    maps = np.asarray(maps, dtype=np.float32)
    squeeze = maps.ndim == 3
    if squeeze:
        maps = maps[np.newaxis]
    out = np.empty((maps.shape[0],) + tuple(grid.source_shape), dtype=np.float32)
    for c in range(maps.shape[0]):
        full = np.full(grid.shape, cval, dtype=np.float32)
        full[grid.crop] = maps[c]
        out[c] = resample(full, grid.affine, grid.source_affine, grid.source_shape, order=order, cval=cval)
    return out[0] if squeeze else out
