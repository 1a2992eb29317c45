"""Source -> display -> source over all 48 axis orientations (as nibabel tests ``orientations``)."""

import itertools

import numpy as np
import pytest

from brainlens.core.geometry import axcodes, canonical_reorientation, reoriented_affine, to_canonical
from brainlens.core.scene import Scene, SeriesDisplay
from brainlens.core.volume import Volume

ORIENTATIONS = [(perm, signs) for perm in itertools.permutations(range(3))
                for signs in itertools.product((1, -1), repeat=3)]


def _volume(perm, signs, shape=(5, 6, 7), spacing=(1.0, 2.0, 3.0)) -> Volume:
    """Voxel axis v runs along world axis perm[v] with direction signs[v]."""
    affine = np.eye(4)
    affine[:3, :3] = 0
    for v in range(3):
        affine[perm[v], v] = signs[v] * spacing[v]
    affine[:3, 3] = [-10.0, 7.0, 3.5]
    data = np.random.default_rng(abs(hash((perm, signs))) % 1000).random(shape).astype(np.float32)
    return Volume(data, affine, "v")


def test_there_are_48_orientations():
    assert len({axcodes(_volume(p, s).affine) for p, s in ORIENTATIONS}) == 48


@pytest.mark.parametrize("perm,signs", ORIENTATIONS)
def test_round_trip_and_world_positions(perm, signs):
    vol = _volume(perm, signs)
    canon, reo = to_canonical(vol)
    assert axcodes(canon.affine) == ("R", "A", "S")
    np.testing.assert_array_equal(reo.invert(canon.data), vol.data)  # source -> display -> source, bit-exact
    np.testing.assert_array_equal(reo.apply(reo.invert(canon.data)), canon.data)
    # every canonical voxel shows the source voxel at the same world position
    ijk = np.array([1, 2, 3])
    world = canon.affine @ np.append(ijk, 1)
    src = np.round(np.linalg.inv(vol.affine) @ world).astype(int)[:3]
    assert canon.data[tuple(ijk)] == vol.data[tuple(src)]
    assert np.allclose(reoriented_affine(vol.affine, canonical_reorientation(vol.affine, vol.shape)), canon.affine)


@pytest.mark.parametrize("perm,signs", ORIENTATIONS[::5])
def test_layer_maps_back_to_its_source_grid(perm, signs):
    vol = _volume(perm, signs)
    scene = Scene()
    scene.set_series([SeriesDisplay.prepare(vol)])
    mask = (vol.data > 0.7).astype(np.uint8) * 4
    layer = scene.add_label_layer("m", mask)
    back = layer.source_volume()
    np.testing.assert_array_equal(back.data, mask)
    assert back.affine.tobytes() == vol.affine.tobytes() and back.shape == vol.shape
