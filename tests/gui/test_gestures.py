"""Real mouse gestures on a slice view (events sent to the viewport): wheel, right-drag, left-drag, hover."""

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QMouseEvent, QWheelEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from brainlens.gui.main_window import MainWindow  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture
def loaded(qtbot):
    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    job = win.open_demo(shape=(64, 80, 64), spacing_mm=2.5)
    with qtbot.waitSignal(job.finished, timeout=20000):
        pass
    yield win
    win.close()


def _mouse(widget, kind, pos, button, buttons, mods=Qt.KeyboardModifier.NoModifier):
    ev = QMouseEvent(kind, QPointF(pos), widget.mapToGlobal(QPointF(pos)), button, buttons, mods)
    QApplication.sendEvent(widget, ev)


def drag(widget, start: QPoint, end: QPoint, button, mods=Qt.KeyboardModifier.NoModifier) -> None:
    _mouse(widget, QEvent.Type.MouseButtonPress, start, button, button, mods)
    for t in range(1, 11):
        p = start + (end - start) * (t / 10)
        _mouse(widget, QEvent.Type.MouseMove, p, Qt.MouseButton.NoButton, button, mods)
    _mouse(widget, QEvent.Type.MouseButtonRelease, end, button, Qt.MouseButton.NoButton, mods)


def centre(view) -> QPoint:
    return view.viewport().rect().center()


def test_wheel_scrolls_slices(loaded):
    scene, view = loaded.scene_model, loaded.ortho.views["coronal"]
    before = scene.slice_index("coronal")
    vp = view.viewport()
    pos = QPointF(centre(view))
    ev = QWheelEvent(pos, vp.mapToGlobal(pos), QPoint(0, 0), QPoint(0, 120), Qt.MouseButton.NoButton,
                     Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(vp, ev)
    assert scene.slice_index("coronal") == before + 1


def test_right_drag_changes_window(loaded):
    scene, view = loaded.scene_model, loaded.ortho.views["axial"]
    width = scene.window[1] - scene.window[0]
    drag(view.viewport(), centre(view), centre(view) + QPoint(80, 0), Qt.MouseButton.RightButton)
    # a drag across the whole view widens by one robust intensity range (1-99.5 %), so 80 px by 80/width of it
    robust = scene.base.levels[1] - scene.base.levels[0]
    assert scene.window[1] - scene.window[0] == pytest.approx(width + 80 / view.width() * robust, rel=0.02)
    assert loaded.preset_combo.currentText() == "Custom"


def test_left_drag_moves_cursor_to_where_the_mouse_ends(loaded):
    scene, view = loaded.scene_model, loaded.ortho.views["axial"]
    end = centre(view) + QPoint(-60, 40)
    drag(view.viewport(), centre(view), end, Qt.MouseButton.LeftButton)
    moved = scene.cursor_voxel()
    end_view = view.vb.mapSceneToView(view.mapToScene(end))
    assert moved[0] == round(end_view.x() / 2.5) and moved[1] == round(end_view.y() / 2.5)
    # radiological display: moving the mouse left goes to the patient's right (larger canonical i),
    # moving it down goes posterior (smaller j)
    start_view = view.vb.mapSceneToView(view.mapToScene(centre(view)))
    assert end_view.x() > start_view.x() and end_view.y() < start_view.y()


def test_shift_drag_pans_without_moving_the_cursor(loaded):
    scene, view = loaded.scene_model, loaded.ortho.views["sagittal"]
    cursor = scene.cursor_voxel().copy()
    before = view.vb.viewRange()[0]
    drag(view.viewport(), centre(view), centre(view) + QPoint(50, 0), Qt.MouseButton.LeftButton,
         Qt.KeyboardModifier.ShiftModifier)
    after = view.vb.viewRange()[0]
    assert abs(after[0] - before[0]) > 5  # the view moved (mm)
    assert (scene.cursor_voxel() == cursor).all()


def test_hover_shows_voxel_under_mouse(loaded, qtbot):
    view = loaded.ortho.views["axial"]
    _mouse(view.viewport(), QEvent.Type.MouseMove, centre(view) + QPoint(5, 5), Qt.MouseButton.NoButton,
           Qt.MouseButton.NoButton)
    assert loaded.info_label.text().startswith("Mouse")
