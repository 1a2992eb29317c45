"""The viewer on a real BraTS case (skipped when ../shared/data is absent)."""

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from brainlens.gui.main_window import MainWindow  # noqa: E402

CASE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "brats" / "Brats18_CBICA_ABM_1"
pytestmark = [pytest.mark.gui, pytest.mark.realdata,
              pytest.mark.skipif(not CASE.is_dir(), reason=f"{CASE} not available")]


def test_brats_case_opens_with_its_segmentation_as_layer(qtbot, tmp_path):
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    job = win.open_path(CASE)
    with qtbot.waitSignal(job.finished, timeout=120000):
        pass
    assert job.outcome == "result", win.last_error
    scene = win.scene_model
    assert sorted(s.source.sequence for s in scene.series) == ["flair", "t1", "t1ce", "t2"]
    assert scene.base.source.sequence == "flair"
    (layer,) = scene.layers
    assert layer.name.endswith("(from file)") and set(layer.present) <= {1, 2, 4}
    # the cursor starts inside the tumour and the status bar says so
    assert layer.data[tuple(scene.cursor_voxel())] > 0
    # LPS on disk -> displayed canonical RAS, and the label is where the file says in world space
    assert np.all(np.diag(scene.base.canonical.affine)[:3] > 0)
    info = scene.probe()
    src = info["source_voxel"]
    assert info["value"] == pytest.approx(float(scene.base.source.data[src]))
    win.save_screenshot(tmp_path / "brats.png")
    assert (tmp_path / "brats.png").stat().st_size > 50_000
    win.close()
