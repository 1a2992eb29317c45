"""Label editing: a stroke is one undo step, undo/redo restore exactly, measurements follow the edits."""

import numpy as np

from brainlens.core.label_edit import brush_indices, fill_hole_indices
from brainlens.core.measurements import measure_labels
from brainlens.core.scene import Scene, SeriesDisplay
from brainlens.core.volume import Volume


def _scene_with_mask():
    vol = Volume(np.zeros((20, 22, 18), np.float32), np.diag([-1.0, -1.5, 2.0, 1.0]), "t1")
    scene = Scene()
    scene.set_series([SeriesDisplay.prepare(vol)])
    mask = np.zeros(vol.shape, np.uint8)
    mask[5:10, 5:10, 5:9] = 2
    layer = scene.add_label_layer("seg", mask, origin={"kind": "automatic", "model": "m", "version": "1"})
    return scene, layer


def _whole_ml(layer) -> float:
    vol = layer.source_volume()
    return measure_labels(vol.data, vol.affine)["regions"]["whole_tumor"]["volume_ml"]


def test_stroke_is_one_undo_step_and_undo_restores_volume():
    scene, layer = _scene_with_mask()
    before, original = _whole_ml(layer), layer.data.copy()
    events = []
    layer.changed.connect(events.append)
    sp = layer.source.spacing  # canonical spacing is a permutation; use the canonical one below
    spacing = tuple(float(s) for s in np.linalg.norm(layer.affine[:3, :3], axis=0))
    assert sorted(spacing) == sorted(sp)
    layer.begin_stroke()
    for x in (14, 15, 16):  # three dabs of one drag
        assert layer.paint(brush_indices(layer.data.shape, spacing, "axial", np.array([x, 15, 12]), 2.0), 4)
    layer.end_stroke()
    assert len(layer.history.undo_stack) == 1 and layer.edited and 4 in layer.present
    after = _whole_ml(layer)
    assert after > before
    assert layer.undo()
    np.testing.assert_array_equal(layer.data, original)
    assert _whole_ml(layer) == before and 4 not in layer.present
    assert layer.redo() and _whole_ml(layer) == after
    assert not layer.redo()  # nothing left to redo
    assert events  # views were told every time


def test_erase_and_paint_back_in_one_stroke_leaves_no_step():
    _, layer = _scene_with_mask()
    idx = np.flatnonzero(layer.data.reshape(-1))[:5]
    layer.begin_stroke()
    layer.erase(idx)
    layer.paint(idx, 2)
    layer.end_stroke()
    assert layer.history.undo_stack == [] and not layer.edited


def test_brush_is_round_in_millimetres_and_fill_hole_fills_enclosed_voxels():
    idx = brush_indices((30, 30, 10), (1.0, 2.0, 3.0), "axial", np.array([15, 15, 4]), 4.0)
    ijk = np.array(np.unravel_index(idx, (30, 30, 10))).T
    assert set(ijk[:, 2]) == {4}
    assert np.ptp(ijk[:, 0]) == 8 and np.ptp(ijk[:, 1]) == 4  # 4 mm reach = 4 voxels in x, 2 in y
    labels = np.zeros((9, 9, 3), np.uint8)
    labels[2:7, 2:7, 1] = 1
    labels[4, 4, 1] = 0
    holes = fill_hole_indices(labels, "axial", 1, 1)
    assert list(holes) == [np.ravel_multi_index((4, 4, 1), labels.shape)]
    assert fill_hole_indices(labels, "axial", 0, 1).size == 0
