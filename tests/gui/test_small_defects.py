"""The smaller reading-room defects: keys, paging, docks back from the View menu, screenshot of the views,
heatmap colour bar and slider numbers, About with the version, status bar fitting 1024 x 700."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402

from brainlens import __version__  # noqa: E402
from brainlens.gui import main_window as mw  # noqa: E402
from brainlens.gui.view_keys import page_size  # noqa: E402
from brainlens.jobs.tasks import DEMO_HEATMAP_LAYER  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot, window):
    job = window.open_demo(shape=(48, 60, 50), spacing_mm=3.0)
    with qtbot.waitSignal(job.finished, timeout=20000):
        pass
    return window


def test_slice_keys_home_end_page(qtbot, window):
    scene, view = window.scene_model, window.ortho.views["axial"]
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Home)
    assert scene.slice_index("axial") == 0
    qtbot.keyClick(view, Qt.Key.Key_PageUp)
    assert scene.slice_index("axial") == page_size(50) == 5  # a page, not one slice like Up
    qtbot.keyClick(view, Qt.Key.Key_Up)
    assert scene.slice_index("axial") == 6
    qtbot.keyClick(view, Qt.Key.Key_End)
    assert scene.slice_index("axial") == 49
    qtbot.keyClick(view, Qt.Key.Key_PageDown)
    assert scene.slice_index("axial") == 44


def test_plus_minus_zoom_and_space_plays_cine(qtbot, window):
    view = window.ortho.views["axial"]
    width = view.vb.viewRange()[0][1] - view.vb.viewRange()[0][0]
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Plus)
    zoomed = view.vb.viewRange()[0][1] - view.vb.viewRange()[0][0]
    assert zoomed < width * 0.9
    qtbot.keyClick(view, Qt.Key.Key_Minus)
    assert view.vb.viewRange()[0][1] - view.vb.viewRange()[0][0] == pytest.approx(width, rel=0.02)
    qtbot.keyClick(view, Qt.Key.Key_Space)
    assert window.ortho.cine_running
    qtbot.keyClick(view, Qt.Key.Key_Space)
    assert not window.ortho.cine_running


def test_closed_dock_comes_back_from_view_menu(window):
    layers = next(d for d in window.docks if d.windowTitle() == "Layers")
    layers.close()
    assert not layers.isVisible()
    action = next(a for a in window.reading.panels_menu.actions() if a.text() == "Layers")
    action.trigger()
    assert layers.isVisible()
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus.index("&File") < menus.index("&Edit") < menus.index("&View")


def test_screenshot_is_the_views(window, tmp_path):
    img = QImage(str(window.save_screenshot(tmp_path / "views.png")))
    assert (img.width(), img.height()) == (window.ortho.width(), window.ortho.height())


def test_heatmap_colour_bar_and_slider_numbers(window):
    row = window.layer_panel.row_for(DEMO_HEATMAP_LAYER)
    assert row.colour_bar.numbers() == ("0.05", "1")
    row.threshold.setValue(30)
    assert row.colour_bar.numbers() == ("0.3", "1")
    texts = [lbl.text() for lbl in row.findChildren(mw.QLabel)]
    assert "50 %" in texts and "0.3" in texts  # opacity and threshold show their values
    pix = row.colour_bar.bar.pixmap().toImage()
    left, right = pix.pixelColor(2, 5), pix.pixelColor(pix.width() - 3, 5)
    assert left != right  # a gradient, not a flat swatch


def test_about_names_the_version():
    assert __version__ in mw.ABOUT_TEXT


def test_status_bar_fits_at_1024(qtbot, window):
    window.resize(1024, 700)
    window.scene_model.set_cursor_voxel([10, 10, 10])
    qtbot.wait(20)
    bar = window.statusBar()
    assert bar.width() <= 1024
    for widget in (window.convention_label, window.info_label):
        assert widget.geometry().right() <= bar.width()
    # the full text is kept (tooltip) even when the label is narrower than it
    assert window.info_label.toolTip() == window.info_label.full_text


def test_every_shortcut_belongs_to_one_action(window):
    """The AI loop, the reading-room tools and the viewer each add shortcuts: none may be taken twice
    (Qt then fires neither, silently)."""
    from PySide6.QtGui import QAction

    seen: dict[str, str] = {}
    for action in window.findChildren(QAction):
        for seq in action.shortcuts():
            key = seq.toString()
            if key:
                assert key not in seen, f"{key} is both {seen[key]!r} and {action.text()!r}"
                seen[key] = action.text()
    assert len(seen) > 10


def test_status_message_and_cursor_readout_never_overlap(qtbot, window):
    bar = window.statusBar()
    bar.showMessage("Overlay added: resampled to the series grid", 30000)
    window.scene_model.set_cursor_voxel([5, 5, 5])  # the readout changes under the message
    qtbot.wait(20)
    assert not window.info_label.isVisible()
    bar.clearMessage()
    assert window.info_label.isVisible() and window.info_label.text().startswith("Cursor")
