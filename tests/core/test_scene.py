"""The Qt-free scene: canonical display arrays, one shared cursor, window/level, overlay layers."""

import numpy as np
import pytest

from brainlens.core.colors import colormap_lut, label_lut
from brainlens.core.scene import HeatmapLayer, LabelLayer, Scene, SeriesDisplay, percentile_levels
from brainlens.core.volume import Volume


def lps_volume(shape=(20, 24, 16), spacing=(1.0, 2.0, 3.0)):
    data = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    aff = np.diag([-spacing[0], -spacing[1], spacing[2], 1.0])
    aff[:3, 3] = [10.0, 20.0, -5.0]
    return Volume(data, aff, "test", "t1")


@pytest.fixture
def scene():
    s = Scene()
    s.set_series([SeriesDisplay.prepare(lps_volume())])
    return s


def test_display_is_canonical_ras(scene):
    base = scene.base
    assert base.canonical.shape == (20, 24, 16)
    # canonical axes run R, A, S: the affine diagonal is positive
    assert np.all(np.diag(base.canonical.affine)[:3] > 0)
    # the same world point has the same value in source and canonical grids
    src_ijk = np.array([3, 5, 7])
    world = base.source.affine @ np.append(src_ijk, 1)
    can_ijk = np.round(np.linalg.inv(base.canonical.affine) @ world)[:3].astype(int)
    assert base.canonical.data[tuple(can_ijk)] == base.source.data[tuple(src_ijk)]


def test_one_cursor_drives_every_plane(scene):
    events = []
    scene.cursor_changed.connect(lambda: events.append(scene.cursor_voxel().tolist()))
    scene.set_cursor_voxel([4, 6, 8])
    assert [scene.slice_index(p) for p in ("sagittal", "coronal", "axial")] == [4, 6, 8]
    scene.move_slice("axial", 3)
    assert scene.slice_index("axial") == 11 and scene.slice_index("sagittal") == 4
    scene.move_slice("axial", 100)  # clamps to the grid
    assert scene.slice_index("axial") == 15
    assert events[-1] == [4, 6, 15]


def test_probe_reports_source_voxel_world_and_value(scene):
    scene.set_cursor_voxel([0, 0, 0])
    info = scene.probe()
    base = scene.base
    src = info["source_voxel"]
    assert info["value"] == base.source.data[src]
    world = base.source.affine @ np.append(src, 1)
    np.testing.assert_allclose(info["world_mm"], world[:3])


def test_window_level_presets_and_drag(scene):
    lo, hi = scene.window
    assert (lo, hi) == scene.base.levels
    scene.adjust_window(0.1, 0.0)
    assert scene.window[0] > lo and scene.preset == "Custom"
    scene.apply_preset("Full range")
    assert scene.window == pytest.approx((0.0, float(scene.base.source.data.max())))
    assert percentile_levels(np.zeros((4, 4, 4)), 1, 99) == (0.0, 1.0)  # constant image still valid


def test_label_and_heatmap_layers_live_on_the_canonical_grid(scene):
    base = scene.base
    mask = np.zeros(base.source.shape, dtype=np.uint8)
    mask[2, 3, 4] = 4
    layer = scene.add_label_layer("mask", mask)
    assert isinstance(layer, LabelLayer) and layer.fits(base)
    assert layer.present == (4,)
    idx = np.argwhere(layer.data == 4)[0]
    # the label sits where the source said, in world space
    np.testing.assert_allclose(base.canonical.affine @ np.append(idx, 1), base.source.affine @ [2, 3, 4, 1])
    changes = []
    layer.changed.connect(changes.append)
    layer.update(hidden_labels=frozenset({4}), opacity=3.0)
    assert changes == [layer] and layer.opacity == 1.0
    assert layer.lut()[4, 3] == 0
    with pytest.raises(AttributeError):
        layer.update(colour="red")
    heat = scene.add_heatmap_layer("heat", np.ones(base.source.shape) * 0.5, threshold=0.1, visible=False)
    assert isinstance(heat, HeatmapLayer) and heat.levels == (0.1, 0.5) and not heat.visible
    with pytest.raises(ValueError):
        scene.add_label_layer("wrong", np.zeros((3, 3, 3)))
    scene.set_series([SeriesDisplay.prepare(lps_volume(shape=(8, 8, 8)))])
    assert scene.layers == []


def test_luts_are_uint8_and_at_most_256():
    lut = label_lut()
    assert lut.shape == (256, 4) and lut.dtype == np.uint8 and lut[0, 3] == 0 and lut[1, 3] == 255
    hot = colormap_lut("hot", transparent_below=True)
    assert hot.shape == (256, 4) and hot[0, 3] == 0 and hot[255, 3] == 255
    with pytest.raises(ValueError):
        colormap_lut("nope")
