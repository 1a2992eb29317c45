"""The viewer end to end (offscreen): load the phantom through the job runner, move the shared cursor,
window/level, layers, layouts, errors, drag and drop, cine, grabbing to PNG."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDropEvent, QImage  # noqa: E402

from brainlens.core.labels import LABEL_NAMES  # noqa: E402
from brainlens.core.window_level import display_bytes  # noqa: E402
from brainlens.gui import main_window as mw  # noqa: E402
from brainlens.jobs.tasks import DEMO_HEATMAP_LAYER, DEMO_LABEL_LAYER  # noqa: E402

pytestmark = pytest.mark.gui
SMALL = {"shape": (64, 80, 64), "spacing_mm": 2.5}


@pytest.fixture
def window(qtbot):
    win = mw.MainWindow()
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    yield win
    win.close()


def open_demo(qtbot, win):
    job = win.open_demo(**SMALL)
    with qtbot.waitSignal(job.finished, timeout=20000):
        pass
    assert job.outcome == "result"
    return job


def click_view(qtbot, view, x_mm: float, y_mm: float) -> None:
    scene_pt = view.vb.mapViewToScene(QPointF(x_mm, y_mm))
    pos = view.mapFromScene(scene_pt)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def test_phantom_loads_with_layers_and_browser(qtbot, window):
    open_demo(qtbot, window)
    scene = window.scene_model
    assert len(scene.series) == 4 and scene.base.source.sequence == "flair"
    assert [layer.name for layer in scene.layers] == [DEMO_LABEL_LAYER, DEMO_HEATMAP_LAYER]
    assert scene.layers[0].visible and not scene.layers[1].visible
    assert "Synthetic" in window.windowTitle()
    assert len(window.browser.rows()) == 4
    # the demo starts with the cursor on the lesion, and the status bar names the label there
    value = int(scene.layers[0].data[tuple(scene.cursor_voxel())])
    assert value > 0
    assert f"{DEMO_LABEL_LAYER}: {value} ({LABEL_NAMES[value]})" in window.info_label.text()
    # clicking another series in the browser shows it
    window.browser.list.setCurrentRow(2)
    assert scene.base.source.sequence == "t1ce"


def test_orientation_letters_and_physical_aspect(qtbot, window):
    open_demo(qtbot, window)
    views = window.ortho.views
    assert views["axial"].letters() == ("R", "L", "A", "P")
    assert views["coronal"].letters() == ("R", "L", "S", "I")
    assert views["sagittal"].letters() == ("A", "P", "S", "I")
    # image rect is in mm: width = voxels x spacing, and x runs right-to-left (radiological)
    rect = views["axial"].image.mapRectToParent(views["axial"].image.boundingRect())
    assert rect.width() == pytest.approx(64 * 2.5) and rect.height() == pytest.approx(80 * 2.5)
    assert views["axial"].vb.xInverted()


def test_click_moves_cursor_in_all_planes(qtbot, window):
    open_demo(qtbot, window)
    scene, views = window.scene_model, window.ortho.views
    k = scene.slice_index("axial")
    click_view(qtbot, views["axial"], 20 * 2.5, 55 * 2.5)  # canonical voxel i=20, j=55
    i, j, k2 = scene.cursor_voxel()
    assert abs(i - 20) <= 1 and abs(j - 55) <= 1 and k2 == k
    assert views["sagittal"]._slice_index == i and views["coronal"]._slice_index == j
    # crosshairs of the other planes follow the same world point
    assert views["coronal"].vline.value() == pytest.approx(i * 2.5)
    assert views["sagittal"].vline.value() == pytest.approx(j * 2.5)
    assert views["coronal"].hline.value() == pytest.approx(k * 2.5)
    # the coronal slice shown is the canonical array at that j, windowed to grey levels
    np.testing.assert_array_equal(views["coronal"].image.image,
                                  display_bytes(scene.base.canonical.data[:, j, :], *scene.window))
    # keyboard scroll moves the axial slice only
    views["axial"].setFocus()
    qtbot.keyClick(views["axial"], Qt.Key.Key_Up)
    assert scene.slice_index("axial") == k + 1 and tuple(scene.cursor_voxel()[:2]) == (i, j)
    assert "voxel" in window.info_label.text() and "RAS" in window.info_label.text()


def test_window_level_presets_and_right_drag(qtbot, window):
    open_demo(qtbot, window)
    scene, axial = window.scene_model, window.ortho.views["axial"]
    auto = scene.window
    assert axial.shown_window() == pytest.approx(auto)
    window.preset_combo.textActivated.emit("Full range")
    assert scene.window[0] == pytest.approx(float(scene.base.canonical.data.min()))
    axial.vb.window_dragged.emit(60.0, 0.0)  # what a right-drag to the right emits
    assert scene.preset == "Custom" and window.preset_combo.currentText() == "Custom"
    assert axial.shown_window() == pytest.approx(scene.window)
    assert scene.window[1] - scene.window[0] > auto[1] - auto[0]


def test_toggle_layers_from_panel(qtbot, window):
    open_demo(qtbot, window)
    label_row = window.layer_panel.row_for(DEMO_LABEL_LAYER)
    heat_row = window.layer_panel.row_for(DEMO_HEATMAP_LAYER)
    items = [v._layer_items[id(label_row.layer)][1] for v in window.ortho.views.values()]
    assert all(item.isVisible() for item in items)
    label_row.visible.click()
    assert not label_row.layer.visible and not any(item.isVisible() for item in items)
    heat_row.visible.click()
    heat_item = window.ortho.views["axial"]._layer_items[id(heat_row.layer)][1]
    assert heat_row.layer.visible and heat_item.isVisible() and heat_item.image is not None
    label_row.visible.click()
    label_row.outline.click()
    outline = window.ortho.views["axial"]._layer_items[id(label_row.layer)][1].image
    filled = window.ortho.views["axial"]._slice(label_row.layer.data)
    assert 0 < np.count_nonzero(outline) < np.count_nonzero(filled)
    label_row.label_boxes[2].click()
    assert 2 in label_row.layer.hidden_labels
    label_item = window.ortho.views["coronal"]._layer_items[id(label_row.layer)][1]
    assert label_item.lut[2, 3] == 0 and label_item.lut[4, 3] == 255  # hidden label is transparent
    label_row.opacity.setValue(20)
    assert label_row.layer.opacity == pytest.approx(0.2) and label_item.opacity() == pytest.approx(0.2)
    heat_row.threshold.setValue(50)
    assert heat_row.layer.threshold == pytest.approx(0.5)
    heat_values = window.ortho.views["axial"]._slice(heat_row.layer.data)
    np.testing.assert_array_equal(heat_item.image, display_bytes(heat_values, 0.5, 1.0))
    assert np.all(heat_item.image[heat_values <= 0.5] == 0) and heat_item.lut[0, 3] == 0  # below: transparent


def test_grab_to_png_is_not_trivial(qtbot, window, tmp_path):
    open_demo(qtbot, window)
    path = window.save_screenshot(tmp_path / "shot.png")
    img = QImage(str(path))  # "Save screenshot" grabs the views, not the panels and menus around them
    assert img.width() == window.ortho.width() and img.height() == window.ortho.height()
    assert img.width() < window.width()
    axial = window.ortho.views["axial"].grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    ptr = axial.constBits()
    arr = np.frombuffer(ptr, np.uint8, axial.sizeInBytes()).reshape(axial.height(), axial.bytesPerLine())
    rgb = arr[:, : axial.width() * 3].reshape(axial.height(), axial.width(), 3).astype(int)
    assert rgb.std() > 20  # a head, not a blank view
    greenish = (rgb[..., 1] > rgb[..., 0] + 40) & (rgb[..., 1] > rgb[..., 2] + 40)
    assert greenish.sum() > 100  # the oedema overlay is drawn


def test_bad_input_shows_one_line_and_keeps_study(qtbot, window, tmp_path, monkeypatch):
    open_demo(qtbot, window)
    before = window.scene_model.series
    title = window.windowTitle()
    shown = []
    monkeypatch.setattr(mw.QMessageBox, "warning", lambda parent, t, text: shown.append(text))
    junk = tmp_path / "not_an_image.nii"
    junk.write_bytes(b"this is not a NIfTI file at all")
    job = window.open_path(junk)
    with qtbot.waitSignal(job.finished, timeout=20000):
        pass
    assert job.outcome == "error"
    assert len(shown) == 1 and shown[0] and "\n" not in shown[0] and "Traceback" not in shown[0]
    assert window.scene_model.series is before and window.windowTitle() == title
    assert not window.progress.isVisible()
    assert junk.read_bytes() == b"this is not a NIfTI file at all"  # nothing of the user's was touched


def test_layout_toggle_persists(qtbot, window):
    window.set_layout_mode("axial")
    views = window.ortho.views
    assert views["axial"].isVisible() and not views["coronal"].isVisible()
    window.close()
    again = mw.MainWindow()
    qtbot.addWidget(again)
    again.show()
    assert again.ortho.mode == "axial" and again.layout_combo.currentText() == "axial"
    again.set_layout_mode("ortho")
    assert all(v.isVisible() for v in again.ortho.views.values())


def test_drop_folder_anywhere_opens_it(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtGui import QDragEnterEvent
    from PySide6.QtWidgets import QApplication

    opened = []
    monkeypatch.setattr(window, "open_path", opened.append)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path))])
    # dropped on a slice view, the events travel up to the window
    target = window.ortho.views["axial"].viewport()
    enter = QDragEnterEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, drop)
    assert opened == [str(tmp_path)]
    # several files are opened together as one study
    files = [tmp_path / "a.dcm", tmp_path / "b.dcm"]
    mime.setUrls([QUrl.fromLocalFile(str(f)) for f in files])
    window.dropEvent(QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier))
    assert opened[-1] == [str(f) for f in files]


def test_cine_plays_through_slices(qtbot, window):
    open_demo(qtbot, window)
    scene = window.scene_model
    start = scene.slice_index("axial")
    window.ortho.set_cine(True, fps=30)
    qtbot.waitUntil(lambda: scene.slice_index("axial") != start, timeout=3000)
    window.act_cine.trigger()
    assert not window.ortho.cine_running


def test_cancel_button_stops_a_load_and_keeps_study(qtbot, window):
    import time

    open_demo(qtbot, window)
    before = window.scene_model.series

    def slow_load():
        while True:
            time.sleep(0.02)
            yield 0.3, "reading"

    job = window._start_load(slow_load, label="slow study", source=None)
    qtbot.waitSignal(job.progress, timeout=5000).wait()
    assert window.progress.isVisible() and window.cancel_button.isVisible()
    t0 = time.monotonic()
    with qtbot.waitSignal(job.cancelled, timeout=1000):
        window.cancel_button.click()
    assert time.monotonic() - t0 < 1.0
    # the activity bar hides on the runner's job_finished, queued right after `cancelled`: on a loaded
    # machine it is a later event-loop pass
    qtbot.waitUntil(lambda: not window.progress.isVisible(), timeout=2000)
    assert window.scene_model.series is before


def test_recent_studies_are_remembered(qtbot, window, tmp_path):
    from brainlens.gui.settings import add_recent, recent_studies

    for name in ("a", "b", "a"):
        add_recent(window.settings, tmp_path / name)
    # other tests share the settings file: only the order of what this test added is checked
    assert recent_studies(window.settings)[:2] == [str(tmp_path / "a"), str(tmp_path / "b")]
    window._fill_recent()
    assert [a.text() for a in window.recent_menu.actions()][:2] == [str(tmp_path / "a"), str(tmp_path / "b")]
    assert window.settings.fileName().startswith(os.environ["BRAINLENS_SETTINGS_DIR"])


def test_single_slice_image_shows_one_plane_then_ortho_again(qtbot, window):
    from pathlib import Path

    from brainlens.core.volume import Study, Volume
    from brainlens.jobs.tasks import prepare_study

    flat = Volume(np.random.default_rng(0).random((40, 30)), np.diag([-1.0, -1.0, 1.0, 1.0]), "photo",
                  warnings=["pixel spacing unknown for a plain image: 1 mm assumed"])

    job = window._start_load(lambda progress, cancel: prepare_study(Study([flat], Path("photo.png")), progress,
                                                                    cancel), label="photo", source=None)
    with qtbot.waitSignal(job.finished, timeout=10000):
        pass
    assert window.ortho.mode == "axial" and window.ortho.preferred == "ortho"
    assert not window.ortho.views["coronal"].isVisible()
    # the warning itself is in the row (not only in a tooltip)
    assert any("pixel spacing unknown" in lbl.text() for lbl in window.browser.rows()[0].findChildren(mw.QLabel))
    open_demo(qtbot, window)
    assert window.ortho.mode == "ortho" and window.ortho.views["coronal"].isVisible()


def test_sequence_override_is_stored_on_the_volume(qtbot, window):
    open_demo(qtbot, window)
    row = window.browser.rows()[1]
    vol = window.scene_model.series[1].source
    assert row.combo.currentText() == vol.sequence == "t1"
    row.combo.setCurrentText("t2")
    assert vol.sequence == "t2" and window.scene_model.series[1].canonical.sequence == "t2"
    row.combo.setCurrentText("unknown")
    assert vol.sequence is None


def test_heatmap_colormap_and_layer_removal(qtbot, window):
    open_demo(qtbot, window)
    heat_row = window.layer_panel.row_for(DEMO_HEATMAP_LAYER)
    heat_row.visible.click()
    item = window.ortho.views["axial"]._layer_items[id(heat_row.layer)][1]
    before = item.lut.copy()
    heat_row.colormap.setCurrentText("cool")
    assert heat_row.layer.colormap == "cool" and not np.array_equal(item.lut, before)
    heat_row.remove.click()
    assert [layer.name for layer in window.scene_model.layers] == [DEMO_LABEL_LAYER]
    assert [r.layer.name for r in window.layer_panel.rows] == [DEMO_LABEL_LAYER]
    assert all(len(v._layer_items) == 1 for v in window.ortho.views.values())
