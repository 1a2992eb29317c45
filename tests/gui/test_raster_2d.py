"""A plain 2D picture (PNG/JPG) shows no anatomical letters or millimetres: "orientation unknown", pixel
units, and a layout box that says what is on screen. An empty window draws no crosshair and no letters."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PIL import Image  # noqa: E402

from brainlens.gui.layout_box import FLAT  # noqa: E402

pytestmark = pytest.mark.gui


def wait(qtbot, job):
    with qtbot.waitSignal(job.finished, timeout=20000):
        pass
    assert job.outcome == "result"


def test_empty_window_draws_no_crosshair_or_letters(window):
    for view in window.ortho.views.values():
        assert not view.vline.isVisible() and not view.hline.isVisible()
        assert view.letters() == ("", "", "", "")
        assert view.corners.text("top_left") == ""


def test_jpg_says_orientation_unknown_and_pixels(qtbot, window, tmp_path):
    img = (np.random.default_rng(0).random((60, 80)) * 255).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "scan.jpg")
    wait(qtbot, window.open_path(tmp_path / "scan.jpg"))
    view = window.ortho.views["axial"]
    assert view.letters() == ("", "", "", "")
    assert "orientation unknown" in view.corners.text("bottom_right")
    assert view.corners.text("bottom_left") == "2D image"
    assert view.vline.isVisible()
    window._show_probe(np.array([80 - 1 - 5, 60 - 1 - 7, 0]))  # shown upright: canonical axes run the other way
    text = window.info_label.text()
    assert "pixel (x 5, y 7)" in text and "mm" not in text and "RAS" not in text
    assert f"value {window.scene_model.base.source.data[5, 7, 0]}" in text
    assert window.layout_combo.currentText() == FLAT and not window.layout_combo.isEnabled()
    job = window.open_demo(shape=(32, 40, 32), spacing_mm=4.0)
    wait(qtbot, job)
    assert window.layout_combo.currentText() == window.ortho.preferred == window.ortho.mode
    assert window.layout_combo.isEnabled()
    assert window.layout_combo.findText(FLAT) < 0
    assert view.letters() == ("R", "L", "A", "P") and view.corners.text("bottom_right") == ""
