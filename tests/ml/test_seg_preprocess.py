"""Segmenter preprocessing: the 2 mm network grid, resample-and-back alignment (oblique too), z-scoring."""

from __future__ import annotations

import numpy as np
import pytest

from brainlens.core.volume import Volume
from brainlens.ml.seg_model import CHANNELS
from brainlens.ml.seg_preprocess import network_grid, preprocess, resample, to_source, zscore


def _rotation(deg_x: float, deg_z: float) -> np.ndarray:
    ax, az = np.radians(deg_x), np.radians(deg_z)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ rx


def _oblique_affine(shape: tuple[int, int, int], spacing: tuple[float, float, float]) -> np.ndarray:
    aff = np.eye(4)
    # LPS-like storage (two flipped axes), 1.1 x 0.9 x 1.5 mm voxels, rotated 17 deg and 11 deg.
    aff[:3, :3] = _rotation(17, 11) @ np.diag([-1, -1, 1]) @ np.diag(spacing)
    aff[:3, 3] = -(aff[:3, :3] @ (np.array(shape) - 1) / 2) + np.array([3.0, -7.0, 12.0])
    return aff


def _sphere_world(shape, affine, centre_mm, radius_mm) -> np.ndarray:
    ijk = np.indices(shape).reshape(3, -1)
    xyz = affine[:3, :3] @ ijk + affine[:3, 3:4]
    return (np.linalg.norm(xyz - np.asarray(centre_mm)[:, None], axis=0) <= radius_mm).reshape(shape)


def test_network_grid_is_2mm_and_ras() -> None:
    shape = (70, 80, 40)
    aff = _oblique_affine(shape, (1.1, 0.9, 1.5))
    grid_aff, grid_shape = network_grid(Volume(np.zeros(shape, np.float32), aff), 2.0)
    assert np.allclose(np.linalg.norm(grid_aff[:3, :3], axis=0), 2.0)
    # Axes run along +R, +A, +S (closest-canonical), whatever the storage order was.
    assert all(grid_aff[a, a] > 0 for a in range(3))
    # The grid covers the same extent as the source (within one output voxel).
    extent_src = np.array(shape) * np.array([1.1, 0.9, 1.5])
    assert np.all(np.abs(np.array(grid_shape) * 2.0 - extent_src) <= 2.0)


def test_resample_and_back_keeps_mask_aligned_under_oblique_affine() -> None:
    shape, spacing = (90, 100, 60), (1.1, 0.9, 1.5)
    aff = _oblique_affine(shape, spacing)
    centre = np.array([10.0, -15.0, 18.0])
    mask = _sphere_world(shape, aff, centre, 14.0)
    head = _sphere_world(shape, aff, [3.0, -7.0, 12.0], 40.0)
    image = np.where(head, 100.0, 0.0).astype(np.float32) + 50 * mask
    ref = Volume(image, aff, sequence="flair")
    prep = preprocess({"flair": ref}, "flair")
    assert prep.image.shape[0] == len(CHANNELS)
    # Forward the mask the same way the image went, then bring it back onto the oblique source grid.
    fwd = resample(mask.astype(np.float32), aff, prep.grid.cropped_affine, prep.grid.cropped_shape, order=1)
    back = to_source(fwd, prep.grid) > 0.5
    assert back.shape == shape
    dice = 2 * (back & mask).sum() / (back.sum() + mask.sum())
    assert dice > 0.9, dice
    # Centroid in world mm lines up within a millimetre.
    c_back = aff[:3, :3] @ np.argwhere(back).mean(0) + aff[:3, 3]
    c_true = aff[:3, :3] @ np.argwhere(mask).mean(0) + aff[:3, 3]
    assert np.linalg.norm(c_back - c_true) < 1.0
    # And the lesion is bright in the network input where the mask is (the image went the same way).
    flair = prep.image[0]
    assert flair[fwd > 0.5].mean() > flair[(fwd < 0.01) & prep.brain].mean() + 1.0


def test_missing_sequences_are_zero_channels_and_brain_is_zscored() -> None:
    rng = np.random.default_rng(0)
    shape = (60, 60, 40)
    aff = np.diag([1.0, 1.0, 1.0, 1.0])
    head = _sphere_world(shape, aff, [30, 30, 20], 18)
    data = np.where(head, rng.normal(300, 40, shape), 0).astype(np.float32)
    prep = preprocess({"t1ce": Volume(data, aff, sequence="t1ce")}, "t1ce")
    assert prep.present == ("t1ce",)
    for c, name in enumerate(CHANNELS):
        if name != "t1ce":
            assert not prep.image[c].any()
    inside = prep.image[CHANNELS.index("t1ce")][prep.brain]
    assert abs(float(inside.mean())) < 0.05 and abs(float(inside.std()) - 1) < 0.05


def test_zscore_clips_and_zeroes_outside() -> None:
    ch = np.zeros((10, 10, 10), np.float32)
    ch[2:8, 2:8, 2:8] = np.linspace(0, 1, 216).reshape(6, 6, 6)
    ch[5, 5, 5] = 1e6
    mask = ch > 0
    out = zscore(ch, mask)
    assert out.max() == pytest.approx(5.0)
    assert not out[~mask].any()
