"""Tumour-free training heads made from real patients: the tumour-free hemisphere, mirrored.

The segmenter marked tumour in healthy heads because every training patient had one: patches were
centred on the lesion two times in three, and a 128 mm patch of a glioma patient nearly always holds
some of it. Most lesions here stay on one side of the midline, so the other hemisphere is real healthy
tissue in the patient's own sequences and contrast. Mirroring it across the mid-sagittal plane gives a
whole tumour-free brain. A perfectly symmetric brain would be a shortcut ("symmetric = healthy"), so
the mirrored copy is bent by a smooth random displacement before it is joined on.

Only a case's own training split is mirrored (its test patients never reach training), and the images
are the cached network inputs (canonical RAS, cropped to the brain), so axis 0 is left-right.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import ndimage

from brainlens.training.seg_data import TrainCase

MAX_MIDLINE_SHIFT_VOX = 4  # how far from the crop centre the split may move to clear the lesion
WARP_SIGMA_VOX = 6.0  # smoothness of the displacement field
WARP_MAX_VOX = 2.0  # its largest displacement (4 mm at 2 mm voxels)


def healthy_split(regions: np.ndarray, max_shift: int = MAX_MIDLINE_SHIFT_VOX) -> tuple[int, int] | None:
    """(midline index, healthy side: -1 = below it on axis 0, +1 = above) with no tumour voxel on that
    side, nearest the centre; None when the lesion reaches both hemispheres."""
    wt = regions.any(0) if regions.ndim == 4 else regions
    per_x = wt.reshape(wt.shape[0], -1).sum(1)
    centre = wt.shape[0] // 2
    for shift in sorted(range(-max_shift, max_shift + 1), key=abs):
        mid = centre + shift
        if per_x[:mid].sum() == 0:
            return mid, -1
        if per_x[mid:].sum() == 0:
            return mid, +1
    return None


def _smooth_warp(shape: tuple[int, ...], rng: np.random.Generator) -> list[np.ndarray]:
    coords = np.meshgrid(*[np.arange(n, dtype=np.float32) for n in shape], indexing="ij")
    out = []
    for c in coords:
        field = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), WARP_SIGMA_VOX)
        peak = float(np.abs(field).max()) or 1.0
        out.append(c + field / peak * WARP_MAX_VOX)
    return out


def mirrored_healthy(case: TrainCase, seed: int) -> TrainCase | None:
    """A tumour-free brain: the case's healthy hemisphere joined to its warped mirror image.

    Labels are all empty; ``known`` stays the case's (a FLAIR-only patient still says nothing about
    TC / ET, but its empty WT already rules them out, as TC and ET lie inside WT)."""
    split = healthy_split(case.regions)
    if split is None:
        return None
    mid, side = split
    half = case.image[:, :mid] if side < 0 else case.image[:, mid:]
    if half.shape[1] < 8:
        return None
    mirror = half[:, ::-1]
    warp = _smooth_warp(mirror.shape[1:], np.random.default_rng(seed))
    mirror = np.stack([ndimage.map_coordinates(ch, warp, order=1, mode="nearest") for ch in mirror])
    image = np.concatenate([half, mirror] if side < 0 else [mirror, half], axis=1).astype(np.float32)
    regions = np.zeros((case.regions.shape[0],) + image.shape[1:], dtype=bool)
    return replace(case, name=f"{case.name} (healthy hemisphere, mirrored)", source="healthy",
                   image=image, regions=regions)


def healthy_cases(cases: list[TrainCase], seed: int = 0) -> list[TrainCase]:
    """Mirrored healthy brains from every case whose lesion stays on one side of the midline."""
    out = []
    for i, case in enumerate(cases):
        got = mirrored_healthy(case, seed + i)
        if got is not None:
            out.append(got)
    return out
