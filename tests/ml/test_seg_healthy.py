"""Tumour-free training brains from the healthy hemisphere (training.seg_healthy)."""

from __future__ import annotations

import numpy as np

from brainlens.training.seg_data import ALL_KNOWN, TrainCase
from brainlens.training.seg_healthy import healthy_cases, healthy_split, mirrored_healthy


def _case(lesion_x: slice) -> TrainCase:
    rng = np.random.default_rng(0)
    image = rng.normal(size=(4, 40, 30, 20)).astype(np.float32)
    regions = np.zeros((3, 40, 30, 20), dtype=bool)
    regions[0, lesion_x, 10:20, 5:15] = True
    return TrainCase("P", "brats", image, regions, ALL_KNOWN)


def test_the_side_without_lesion_is_mirrored_and_labelled_empty():
    case = _case(slice(25, 35))  # lesion in the upper half of axis 0
    assert healthy_split(case.regions) == (20, -1)
    healthy = mirrored_healthy(case, seed=1)
    assert healthy is not None and healthy.source == "healthy"
    assert healthy.image.shape == (4, 40, 30, 20) and not healthy.regions.any()
    np.testing.assert_array_equal(healthy.image[:, :20], case.image[:, :20])  # the real healthy half kept
    # the joined half is the mirror image, bent a little (not an exact copy: no symmetry shortcut)
    mirror = healthy.image[:, 20:][:, ::-1]
    assert not np.array_equal(mirror, case.image[:, :20])
    assert np.corrcoef(mirror.ravel(), case.image[:, :20].ravel())[0, 1] > 0.2


def test_split_moves_off_centre_to_clear_a_lesion_near_the_midline():
    mid, side = healthy_split(_case(slice(18, 30)).regions)
    assert side == -1 and mid == 18  # two voxels off centre


def test_a_lesion_across_the_midline_gives_no_healthy_brain():
    case = _case(slice(5, 35))
    assert healthy_split(case.regions) is None
    assert healthy_cases([case, _case(slice(2, 8))]) and len(healthy_cases([case])) == 0
