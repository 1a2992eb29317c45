"""Tumour-free training brains for the segmenter: each patient's healthy hemisphere, mirrored (training.mirror).

The segmenter marked tumour in healthy heads because every training patient had one: patches were centred
on the lesion two times in three, and a 128 mm patch of a glioma patient nearly always holds some of it.
Only a case's own training split is mirrored (test patients never reach training), from the cached network
inputs (canonical RAS, cropped to the brain), so axis 0 is left-right.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from brainlens.training.mirror import healthy_side, mirrored
from brainlens.training.seg_data import TrainCase


def healthy_split(regions: np.ndarray) -> tuple[int, int] | None:
    """(midline index, healthy side) of a case's (3, X, Y, Z) or (X, Y, Z) labels; None if both sides have tumour."""
    return healthy_side(regions.any(0) if regions.ndim == 4 else regions)


def mirrored_healthy(case: TrainCase, seed: int) -> TrainCase | None:
    """A tumour-free brain: the case's healthy hemisphere joined to its bent mirror image.

    Labels are all empty; ``known`` stays the case's (a FLAIR-only patient still says nothing about
    TC / ET, but its empty WT already rules them out, as TC and ET lie inside WT)."""
    split = healthy_split(case.regions)
    if split is None:
        return None
    image = mirrored(case.image, *split, np.random.default_rng(seed))
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
