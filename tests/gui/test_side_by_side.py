"""Side-by-side layout: series in one plane linked by the world cursor (click, scroll), zoom and pan, also
when their grids differ; radiological / neurological toggle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QPointF  # noqa: E402

from brainlens.core.phantom import make_head_phantom  # noqa: E402
from brainlens.core.resample import resample_to_grid  # noqa: E402
from brainlens.core.volume import Study, Volume  # noqa: E402
from brainlens.gui.ortho_view import SIDE_BY_SIDE  # noqa: E402
from brainlens.jobs.tasks import prepare_study  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture
def window(window):
    yield window
    window.set_layout_mode("ortho")  # the layout is remembered in the shared test settings


def two_grids_study() -> Study:
    """FLAIR at 2 mm and T1c on a coarser, shifted 3 mm grid over the same head (one frame of reference)."""
    study = make_head_phantom(shape=(64, 72, 60), spacing_mm=2.0)
    flair, t1ce = study.series[0], study.series[2]
    coarse = t1ce.affine.copy()
    coarse[:3, :3] *= 1.5
    coarse[:3, 3] += 1.0
    shape = (42, 48, 40)
    t1c_coarse = Volume(resample_to_grid(t1ce.data.astype(np.float32), t1ce.affine, shape, coarse, False), coarse,
                        "T1c 3 mm", "t1ce", {"format": "nifti"})
    flair.metadata = {"format": "nifti"}
    return Study([flair, t1c_coarse], Path("two_grids"))


def open_study(qtbot, window, study):
    job = window._start_load(lambda progress, cancel: prepare_study(study, progress, cancel), label="two",
                             source=None)
    with qtbot.waitSignal(job.finished, timeout=20000):
        pass
    assert job.outcome == "result"


def crosshair_world(pane) -> np.ndarray:
    """World (along the plane's axes) where the pane draws its crosshair."""
    ox, oy = pane.world_origin()
    return np.array([pane.vline.value() + ox, pane.hline.value() + oy])


def test_two_series_layout_moves_both_views_with_the_cursor(qtbot, window):
    open_study(qtbot, window, two_grids_study())
    window.set_layout_mode(SIDE_BY_SIDE)
    side = window.ortho.side
    side.plane_combo.setCurrentText("axial")
    assert side.isVisible() and [p.series.source.sequence for p in side.panes] == ["flair", "t1ce"]
    assert all(p.plane == "axial" for p in side.panes)
    flair, t1c = side.panes
    assert not window.ortho.views["axial"].isVisible()
    # click in the FLAIR pane: both panes put their crosshair on that world point
    flair._on_click(QPointF(40.0, 70.0))
    cursor = window.scene_model.cursor_world
    assert np.allclose(crosshair_world(flair), cursor[:2], atol=1.0)
    assert np.allclose(crosshair_world(t1c), cursor[:2], atol=1.5)  # nearest voxel of the 3 mm grid
    # scroll in the T1c pane: the cursor moves one 3 mm slice, and the FLAIR pane follows to the nearest slice
    z0 = cursor[2]
    t1c._scroll(2)
    z1 = window.scene_model.cursor_world[2]
    assert z1 - z0 == pytest.approx(6.0, abs=1.5)
    flair_z = flair.voxel_to_world(np.array([0, 0, flair._slice_index]))[2]
    t1c_z = t1c.voxel_to_world(np.array([0, 0, t1c._slice_index]))[2]
    assert abs(flair_z - z1) <= 1.0 and abs(t1c_z - z1) <= 1.5
    # zoom and pan in one pane: the other shows the same world rectangle
    flair.vb.scaleBy((0.5, 0.5))
    flair.vb.translateBy(x=10.0, y=-5.0)
    a, b = side.world_ranges()
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_series_choice_and_window_per_pane(qtbot, window):
    job = window.open_demo(shape=(48, 56, 48), spacing_mm=3.0)
    with qtbot.waitSignal(job.finished, timeout=20000):
        pass
    window.set_layout_mode(SIDE_BY_SIDE)
    side = window.ortho.side
    assert [p.series.source.sequence for p in side.panes] == ["flair", "t1ce", "t2", "t1"]
    side.set_choice([0, 2])
    assert len(side.panes) == 2
    other = next(p for p in side.panes if p.series is not window.scene_model.base)
    before = window.scene_model.window
    other._on_window_drag(50.0, 0.0)  # its own window; the current series' stays
    assert window.scene_model.window == before and other.levels() != other.series.levels
    window.set_layout_mode("ortho")
    assert side.panes == [] and window.ortho.views["axial"].isVisible()


def test_neurological_toggle_flips_axial_and_coronal(qtbot, window):
    job = window.open_demo(shape=(32, 40, 32), spacing_mm=4.0)
    with qtbot.waitSignal(job.finished, timeout=20000):
        pass
    views = window.ortho.views
    window.reading.act_neuro.trigger()
    assert views["axial"].letters() == ("L", "R", "A", "P") and not views["axial"].vb.xInverted()
    assert views["coronal"].letters() == ("L", "R", "S", "I")
    assert views["sagittal"].letters() == ("A", "P", "S", "I") and views["sagittal"].vb.xInverted()
    assert "neurological" in window.convention_label.text()
    window.reading.act_neuro.trigger()
    assert views["axial"].letters() == ("R", "L", "A", "P") and views["axial"].vb.xInverted()
