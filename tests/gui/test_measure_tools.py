"""Ruler and ROIs drawn with the mouse on a known-spacing volume: figures, panel list, drawing on the
right slice, delete and undo (and undo of a removed overlay layer)."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QEvent, QPointF, Qt  # noqa: E402
from test_gestures import _mouse, drag  # noqa: E402

from brainlens.gui import main_window as mw  # noqa: E402

pytestmark = pytest.mark.gui
SPACING = (0.8, 1.25, 2.0)


@pytest.fixture
def window(qtbot, tmp_path):
    win = mw.MainWindow()
    qtbot.addWidget(win)
    win.resize(1024, 700)
    win.show()
    qtbot.waitExposed(win)
    data = np.random.default_rng(5).normal(500, 60, (60, 48, 24)).astype(np.float32)
    nib.save(nib.Nifti1Image(data, np.diag([*SPACING, 1.0])), tmp_path / "known_t1.nii.gz")
    job = win.open_path(tmp_path / "known_t1.nii.gz")
    with qtbot.waitSignal(job.finished, timeout=20000):
        pass
    assert job.outcome == "result"
    win.set_layout_mode("axial")
    qtbot.wait(50)
    yield win
    win.close()


def to_viewport(view, x_mm: float, y_mm: float):
    return view.mapFromScene(view.vb.mapViewToScene(QPointF(x_mm, y_mm)))


def draw(window, kind, start_mm, end_mm):
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    # Two synthetic presses within the double-click interval make Qt send the second one as a double click,
    # which starts no drag; a person does not draw two measurements 1 ms apart.
    QTest.qWait(QApplication.styleHints().mouseDoubleClickInterval() + 50)
    window.reading.measure_panel.tool_buttons[kind].click()
    view = window.ortho.views["axial"]
    drag(view.viewport(), to_viewport(view, *start_mm), to_viewport(view, *end_mm), Qt.MouseButton.LeftButton)
    return window.reading.annotations.items[-1]


def test_ruler_drawn_with_the_mouse_reads_mm(window):
    cursor_before = window.scene_model.cursor_world.copy()
    ruler = draw(window, "ruler", (10.0, 20.0), (20.0, 20.0))  # 10 mm along x (12.5 voxels of 0.8 mm)
    # the viewport is pixel-quantised: the ends land within half a screen pixel of where they were aimed
    px_mm = window.ortho.views["axial"].vb.viewPixelSize()[0]
    assert ruler.length_mm() == pytest.approx(10.0, abs=px_mm)
    assert np.allclose(window.scene_model.cursor_world, cursor_before)  # drawing does not move the cursor
    assert window.reading.measure_panel.list.count() == 1
    assert window.reading.measure_panel.list.item(0).text().startswith("Ruler 1:")
    assert len(window.reading.measure_tools.items_on("axial")) == 2  # line + its label on this slice


def test_ellipse_roi_stats_match_numpy(window):
    roi = draw(window, "ellipse", (8.0, 10.0), (24.0, 30.0))
    sl = window.scene_model.base.canonical.data[:, :, roi.slice_index]
    (h0, v0), (h1, v1) = roi.points
    hh, vv = np.meshgrid(np.arange(sl.shape[0]), np.arange(sl.shape[1]), indexing="ij")
    inside = ((hh - (h0 + h1) / 2) / (abs(h1 - h0) / 2)) ** 2 + ((vv - (v0 + v1) / 2) / (abs(v1 - v0) / 2)) ** 2 <= 1
    stats = roi.stats()
    assert stats["n"] == inside.sum() > 50
    assert stats["mean"] == pytest.approx(float(sl[inside].mean()), rel=1e-6)
    assert stats["sd"] == pytest.approx(float(sl[inside].std()), rel=1e-5)
    assert f"mean {stats['mean']:.4g}" in window.reading.measure_panel.list.item(0).text()


def test_freehand_roi_and_slice_visibility(qtbot, window):
    window.reading.measure_panel.tool_buttons["freehand"].click()
    view = window.ortho.views["axial"]
    vp, left = view.viewport(), Qt.MouseButton.LeftButton
    corners = [(8.0, 10.0), (24.0, 10.0), (24.0, 30.0), (8.0, 30.0)]
    _mouse(vp, QEvent.Type.MouseButtonPress, to_viewport(view, *corners[0]), left, left)
    for x, y in corners[1:]:
        qtbot.wait(30)  # pyqtgraph drops mouse moves that come faster than its rate limit
        _mouse(vp, QEvent.Type.MouseMove, to_viewport(view, x, y), Qt.MouseButton.NoButton, left)
    _mouse(vp, QEvent.Type.MouseButtonRelease, to_viewport(view, *corners[0]), left, Qt.MouseButton.NoButton)
    roi = window.reading.annotations.items[-1]
    assert roi.kind == "freehand" and len(roi.points) >= 4
    assert roi.area_mm2() == pytest.approx(16.0 * 20.0, rel=0.05)  # the rectangle walked round
    window.scene_model.move_slice("axial", 1)
    assert window.reading.measure_tools.items_on("axial") == []  # not on this slice
    window.scene_model.move_slice("axial", -1)
    assert len(window.reading.measure_tools.items_on("axial")) == 2


def test_delete_and_undo(window):
    ruler = draw(window, "ruler", (10.0, 20.0), (20.0, 20.0))
    roi = draw(window, "ellipse", (8.0, 10.0), (24.0, 30.0))
    panel = window.reading.measure_panel
    panel.list.setCurrentRow(0)
    panel.delete_button.click()
    assert window.reading.annotations.items == [roi] and panel.list.count() == 1
    assert window.reading.act_undo.text() == "&Undo delete Ruler 1"
    window.reading.act_undo.trigger()
    assert window.reading.annotations.items == [ruler, roi]
    window.reading.act_undo.trigger()  # undoes drawing the ellipse
    assert window.reading.annotations.items == [ruler]
    assert window.reading.measure_tools.items_on("axial")  # the ruler is still drawn


def test_removed_overlay_layer_comes_back_with_undo(qtbot, window):
    base = window.scene_model.base
    window.scene_model.add_label_layer("mask", (base.source.data > 500).astype(np.uint8), base)
    window.scene_model.add_heatmap_layer("map", base.source.data / 1000, base)
    window.layer_panel.row_for("mask").remove.click()
    assert [lay.name for lay in window.scene_model.layers] == ["map"]
    window.reading.act_undo.trigger()
    assert [lay.name for lay in window.scene_model.layers] == ["mask", "map"]
    assert [r.layer.name for r in window.layer_panel.rows] == ["mask", "map"]


def test_one_undo_takes_back_mask_edits_and_measurements_in_order(window):
    base = window.scene_model.base
    mask = window.scene_model.add_label_layer("mask", np.zeros(base.source.shape, np.uint8), base)
    ruler = draw(window, "ruler", (10.0, 20.0), (20.0, 20.0))
    mask.begin_stroke()
    mask.paint(np.arange(50), 2)  # one brush stroke
    mask.end_stroke()
    assert window.reading.act_undo.text() == "&Undo edit of mask"
    window.reading.act_undo.trigger()
    assert not mask.data.any() and window.reading.annotations.items == [ruler]
    window.reading.act_undo.trigger()
    assert window.reading.annotations.items == []
