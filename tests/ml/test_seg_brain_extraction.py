"""Brain extraction: strips the synthetic phantom's skull and scalp, leaves stripped images as they are."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from brainlens.core.brain_extraction import brain_mask, is_skull_stripped, otsu_threshold
from brainlens.core.phantom import make_head_phantom_with_labels


def test_otsu_separates_two_modes() -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(10, 1, 1000), rng.normal(50, 2, 1000)])
    assert 15 < otsu_threshold(values) < 45


def test_phantom_with_skull_is_stripped() -> None:
    study, labels = make_head_phantom_with_labels(shape=(80, 96, 80), spacing_mm=2.0)
    t2 = study.by_sequence()["t2"]
    assert not is_skull_stripped(t2.data)
    mask = brain_mask(t2.data, t2.spacing)
    head = ndimage.binary_fill_holes(t2.data > 0.1 * t2.data.max())
    lesion = labels.data > 0
    assert (mask & lesion).sum() == lesion.sum()  # the tumour stays inside the brain mask
    # The outer 2 voxels (4 mm) of the head are scalp: the brain mask keeps (almost) none of them.
    rim = head & ~ndimage.binary_erosion(head, iterations=2)
    assert (mask & rim).sum() / rim.sum() < 0.05
    assert 0.3 < mask.sum() / head.sum() < 0.85


def test_already_stripped_image_is_left_as_is() -> None:
    rng = np.random.default_rng(2)
    shape = (60, 70, 50)
    zz, yy, xx = np.indices(shape)
    brain = ((zz - 30) / 25) ** 2 + ((yy - 35) / 30) ** 2 + ((xx - 25) / 20) ** 2 < 1
    data = np.where(brain, rng.normal(400, 60, shape), 0).astype(np.float32)
    data[brain & (((zz - 30) / 6) ** 2 + ((yy - 35) / 6) ** 2 + ((xx - 25) / 6) ** 2 < 1)] = 0  # dark cyst
    assert is_skull_stripped(data)
    mask = brain_mask(data, (1.0, 1.0, 1.0))
    assert np.array_equal(mask, brain)  # foreground kept, the internal dark cyst filled


def test_blank_image_gives_empty_mask() -> None:
    assert not brain_mask(np.zeros((20, 20, 20), np.float32)).any()
