"""Cheap numpy augmentation for segmenter training patches (CPU-bound training, so keep it light).

Every function takes a numpy Generator so runs are reproducible from a seed.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from brainlens.ml.seg_model import CHANNELS

# Input configurations favoured by sequence drop-out: what clinics often have.
_FAVOURED = (("flair",), ("t1ce",), ("flair", "t1ce"))


def sample_patch(image: np.ndarray, regions: np.ndarray, patch: tuple[int, int, int], rng: np.random.Generator,
                 tumour_fraction: float = 2 / 3, rotate_p: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """A patch centred on a tumour voxel (``tumour_fraction`` of the time) or on a random brain voxel.

    With probability ``rotate_p`` the patch is cut through a small random rotation and scaling about its
    centre (done per patch, not per volume, to keep the cost down).
    """
    shape = np.array(image.shape[1:])
    tumour = regions[0]
    if tumour.any() and rng.random() < tumour_fraction:
        pool = np.argwhere(tumour)
    else:
        pool = np.argwhere(np.abs(image).sum(0) > 0)
        if len(pool) == 0:
            pool = np.argwhere(np.ones(image.shape[1:], dtype=bool))
    centre = pool[rng.integers(len(pool))].astype(np.float64)
    half = np.array(patch) / 2
    if rng.random() < rotate_p:
        return _rotated_patch(image, regions, centre, patch, rng)
    # Keep the patch inside the volume where it fits; pad where the volume is smaller.
    start = np.clip(np.round(centre - half).astype(int), 0, np.maximum(shape - patch, 0))
    sl = tuple(slice(s, s + p) for s, p in zip(start, patch))
    img = image[(slice(None),) + sl]
    reg = regions[(slice(None),) + sl]
    pad = [(0, 0)] + [(0, max(0, p - s)) for p, s in zip(patch, img.shape[1:])]
    if any(p[1] for p in pad):
        img = np.pad(img, pad)
        reg = np.pad(reg, pad)
    return img.astype(np.float32), reg.astype(np.float32)


def _rotated_patch(image: np.ndarray, regions: np.ndarray, centre: np.ndarray, patch: tuple[int, int, int],
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    angles = np.radians(rng.uniform(-15, 15, size=3))
    rot = np.eye(3)
    for axis, a in enumerate(angles):
        c, s = np.cos(a), np.sin(a)
        i, j = [k for k in range(3) if k != axis]
        r = np.eye(3)
        r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
        rot = rot @ r
    mat = rot * rng.uniform(0.9, 1.1)
    half = (np.array(patch) - 1) / 2
    offset = centre - mat @ half
    img = np.stack([ndimage.affine_transform(ch, mat, offset=offset, output_shape=patch, order=1, prefilter=False)
                    for ch in image.astype(np.float32)])
    reg = np.stack([ndimage.affine_transform(ch.astype(np.float32), mat, offset=offset, output_shape=patch,
                                             order=1, prefilter=False) >= 0.5 for ch in regions])
    return img, reg.astype(np.float32)


def drop_sequences(img: np.ndarray, rng: np.random.Generator, p: float = 0.5) -> np.ndarray:
    """Zero whole channels (never all present ones), favouring FLAIR-only, T1c-only and FLAIR+T1c.

    A case that has fewer sequences (clinical FLAIR-only studies) keeps at least one of its own."""
    if rng.random() >= p:
        return img
    if rng.random() < 0.7:
        keep = _FAVOURED[rng.integers(len(_FAVOURED))]
    else:
        n = int(rng.integers(1, len(CHANNELS)))
        keep = tuple(rng.choice(CHANNELS, size=n, replace=False))
    present = [name for c, name in enumerate(CHANNELS) if np.any(img[c])]
    if not any(name in keep for name in present):
        return img
    out = img.copy()
    for c, name in enumerate(CHANNELS):
        if name not in keep:
            out[c] = 0
    return out


def flip(img: np.ndarray, reg: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    for axis in (1, 2, 3):
        if rng.random() < 0.5:
            img = np.flip(img, axis)
            reg = np.flip(reg, axis)
    return np.ascontiguousarray(img), np.ascontiguousarray(reg)


def intensity(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per-channel gamma, contrast, shift, multiplicative bias field and noise on z-scored inputs."""
    out = img.copy()
    spatial = img.shape[1:]
    for c in range(out.shape[0]):
        ch = out[c]
        present = ch != 0
        if not present.any():
            continue  # a dropped (missing) channel stays exactly zero, as at inference
        if rng.random() < 0.3:  # gamma on the channel rescaled to [0, 1]
            lo, hi = float(ch[present].min()), float(ch[present].max())
            if hi > lo:
                g = np.exp(rng.uniform(-0.3, 0.3))
                ch[present] = ((ch[present] - lo) / (hi - lo)) ** g * (hi - lo) + lo
        if rng.random() < 0.3:
            ch *= rng.uniform(0.75, 1.25)
        if rng.random() < 0.3:
            ch += rng.uniform(-0.3, 0.3) * present
        if rng.random() < 0.3:
            ch *= _bias_field(spatial, rng)
        if rng.random() < 0.2:
            ch += rng.normal(0, rng.uniform(0.02, 0.1), size=spatial).astype(np.float32) * present
        out[c] = ch
    return out


def _bias_field(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Smooth multiplicative field within about +-20 %, from a random linear + quadratic polynomial."""
    grids = np.meshgrid(*[np.linspace(-1, 1, s, dtype=np.float32) for s in shape], indexing="ij")
    log_field = np.zeros(shape, dtype=np.float32)
    for g in grids:
        log_field += rng.uniform(-0.1, 0.1) * g + rng.uniform(-0.1, 0.1) * g * g
    return np.exp(log_field)


def low_resolution(img: np.ndarray, rng: np.random.Generator, p: float = 0.2) -> np.ndarray:
    """Simulate thick slices: average 2-3 voxels along one axis and stretch back (nearest-free)."""
    if rng.random() >= p:
        return img
    axis = int(rng.integers(1, 4))
    factor = int(rng.integers(2, 4))
    n = img.shape[axis]
    coarse = ndimage.uniform_filter1d(img, size=factor, axis=axis, mode="nearest")
    idx = np.arange(0, n, factor)
    small = np.take(coarse, idx, axis=axis)
    # Linear interpolation back to n samples along the axis.
    pos = np.clip((np.arange(n) - (factor - 1) / 2) / factor, 0, len(idx) - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(idx) - 1)
    w = (pos - lo).astype(np.float32)
    shape = [1] * img.ndim
    shape[axis] = n
    w = w.reshape(shape)
    out = np.take(small, lo, axis=axis) * (1 - w) + np.take(small, hi, axis=axis) * w
    return out.astype(np.float32)


def augment(img: np.ndarray, reg: np.ndarray, rng: np.random.Generator,
            drop_p: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    img, reg = flip(img, reg, rng)
    img = intensity(img, rng)
    img = low_resolution(img, rng)
    img = drop_sequences(img, rng, p=drop_p)
    return img, reg
