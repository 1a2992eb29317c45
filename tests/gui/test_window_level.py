"""Window/level: right-drag scaled to the image's robust range and clamped, numeric W/L, invert, tissue
presets (on the MPRAGE-like DICOM series)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from gui_helpers import open_and_wait  # noqa: E402
from reading_room_factory import write_mprage  # noqa: E402

from brainlens.core import window_level  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot, window, tmp_path):
    write_mprage(tmp_path / "s", shape=(48, 56, 44), spacing_mm=3.0)
    open_and_wait(qtbot, window, tmp_path / "s")
    return window


def test_short_drag_moves_a_little_and_no_drag_leaves_the_data(window):
    scene, axial = window.scene_model, window.ortho.views["axial"]
    robust = scene.base.levels[1] - scene.base.levels[0]
    lo, hi = scene.window
    axial.vb.window_dragged.emit(20.0, 0.0)  # a short drag to the right
    assert scene.window[1] - scene.window[0] == pytest.approx(hi - lo + 20 / axial.width() * robust)
    assert scene.window[1] - scene.window[0] < (hi - lo) * 1.2  # not saturated
    for _ in range(50):  # drag far down and right: level and width stay inside what the image holds
        axial.vb.window_dragged.emit(400.0, 400.0)
    dlo, dhi = scene.base.data_range
    assert dlo <= sum(scene.window) / 2 <= dhi
    assert scene.window[1] - scene.window[0] <= 2 * (dhi - dlo) + 1e-6
    for _ in range(50):
        axial.vb.window_dragged.emit(-400.0, -400.0)
    assert scene.window[1] - scene.window[0] > 0 and sum(scene.window) / 2 >= dlo
    assert axial.shown_window() == pytest.approx(scene.window)


def test_numeric_width_and_level(qtbot, window):
    controls = window.reading.window_controls
    controls.width_spin.setValue(400)
    controls.level_spin.setValue(300)
    assert window.scene_model.window == pytest.approx((100.0, 500.0))
    assert window.scene_model.preset == "Custom"
    for view in window.ortho.views.values():
        assert view.shown_window() == pytest.approx((100.0, 500.0))
    window.scene_model.adjust_window(0.0, 0.1)  # a drag updates the numbers
    lo, hi = window.scene_model.window
    assert controls.width_spin.value() == pytest.approx(hi - lo, abs=1)


def test_invert_flips_the_grey_scale(window):
    axial = window.ortho.views["axial"]
    assert tuple(axial.image.lut[0][:3]) == (0, 0, 0)
    window.reading.window_controls.invert.setChecked(True)
    assert window.scene_model.inverted
    assert tuple(axial.image.lut[0][:3]) == (255, 255, 255) and tuple(axial.image.lut[-1][:3]) == (0, 0, 0)
    window.reading.window_controls.invert.setChecked(False)
    assert tuple(axial.image.lut[0][:3]) == (0, 0, 0)


def test_tissue_presets_ignore_the_air(window):
    scene = window.scene_model
    data = scene.base.canonical.data
    assert np.mean(data < 0.08 * np.percentile(data, 99)) > 0.3  # an MR box is largely air
    auto = window_level.preset_levels(data, "Auto (1-99.5 %)")
    brain = window_level.preset_levels(data, "Brain (tissue 1-99.5 %)")
    assert brain[0] > auto[0] + 0.05 * (auto[1] - auto[0])  # black point at tissue, not at air
    window.preset_combo.textActivated.emit("Grey/white contrast (tissue 15-99 %)")
    assert scene.preset.startswith("Grey/white") and scene.window[0] > brain[0]
