"""Load overlay...: a label map / heatmap onto the open study lands on the right voxels (as is, or resampled
with a warning), label names come from the file's table, and the open dialog takes several files."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

pytest.importorskip("pytestqt")
from gui_helpers import open_and_wait  # noqa: E402
from reading_room_factory import write_mprage  # noqa: E402

from brainlens.gui import main_window as mw  # noqa: E402

pytestmark = pytest.mark.gui
SHAPE = (32, 40, 30)


@pytest.fixture
def study(qtbot, window, tmp_path):
    """The MPRAGE-like DICOM series open in the window; returns (data as stored, affine)."""
    _, data, aff = write_mprage(tmp_path / "dicom", shape=SHAPE)
    open_and_wait(qtbot, window, tmp_path / "dicom")
    return data, aff


def load_overlay(qtbot, window, path):
    job = window.reading.overlays.load(path)
    with qtbot.waitSignal(job.finished, timeout=30000):
        pass
    return job


def world_of(aff, ijk):
    return (aff @ np.append(np.asarray(ijk, float), 1.0))[:3]


def label_at(window, world):
    scene = window.scene_model
    scene.set_cursor_world(world)
    return scene.probe()["labels"]


def test_label_map_on_the_series_grid_lands_on_its_voxels(qtbot, window, study, tmp_path):
    data, aff = study
    labels = np.zeros(data.shape, np.uint8)
    labels[10:14, 20:23, 5:9] = 3
    nib.save(nib.Nifti1Image(labels, aff), tmp_path / "lesion.nii.gz")
    job = load_overlay(qtbot, window, tmp_path / "lesion.nii.gz")
    assert job.outcome == "result", window.reading.overlays.last_error
    layer = window.scene_model.layers[-1]
    assert layer.name == "lesion (overlay)" and layer.fits(window.scene_model.base)
    assert int(layer.data.sum()) == int(labels.sum())
    assert label_at(window, world_of(aff, (11, 21, 6)))[layer.name] == (3, "label 3")  # no tumour names
    assert label_at(window, world_of(aff, (15, 21, 6)))[layer.name][0] == 0
    assert not any("resampled" in n for n in window.reading.overlays.last_notes)
    # and it is drawn: the axial view's item for this layer holds the label in its current slice
    view = window.ortho.views["axial"]
    item = next(it for lay, it in view._layer_items.values() if lay is layer)
    assert item.image is not None and (item.image == 3).sum() > 0


def test_label_map_on_another_grid_is_resampled_with_a_warning(qtbot, window, study, tmp_path):
    data, aff = study
    fine = aff.copy()
    fine[:3, :3] = aff[:3, :3] / 2  # half the voxel size, same origin corner voxel centre
    fine[:3, 3] = world_of(aff, (-0.25, -0.25, -0.25))
    labels = np.zeros(tuple(2 * s for s in data.shape), np.uint8)
    labels[20:28, 40:46, 10:18] = 1  # source voxels 10..13, 20..22, 5..8 again
    nib.save(nib.Nifti1Image(labels, fine), tmp_path / "fine_seg.nii.gz")
    (tmp_path / "fine_seg.json").write_text(json.dumps({"labels": {"1": "hippocampus"}}))
    job = load_overlay(qtbot, window, tmp_path / "fine_seg.nii.gz")
    assert job.outcome == "result", window.reading.overlays.last_error
    layer = window.scene_model.layers[-1]
    assert any("resampled" in n for n in window.reading.overlays.last_notes)
    assert window.statusBar().currentMessage().count("resampled") == 1  # said, not hidden in a tooltip
    assert label_at(window, world_of(aff, (11, 21, 6)))[layer.name] == (1, "hippocampus")
    assert label_at(window, world_of(aff, (9, 21, 6)))[layer.name][0] == 0
    assert int((layer.data == 1).sum()) == 4 * 3 * 4


def test_scheme_in_sidecar_gives_tumour_names_and_lut_gives_its_names(qtbot, window, study, tmp_path):
    data, aff = study
    labels = np.zeros(data.shape, np.uint8)
    labels[5, 5, 5], labels[6, 6, 6] = 4, 2
    nib.save(nib.Nifti1Image(labels, aff), tmp_path / "brats_style.nii.gz")
    (tmp_path / "brats_style.json").write_text(json.dumps({"scheme": "brats"}))
    nib.save(nib.Nifti1Image(labels, aff), tmp_path / "atlas.nii.gz")
    (tmp_path / "atlas.txt").write_text("# FreeSurfer style\n0 Unknown 0 0 0 0\n2 Left-WM 245 245 245 0\n"
                                        "4 Left-Lat-Vent 120 18 134 0\n")
    load_overlay(qtbot, window, tmp_path / "brats_style.nii.gz")
    load_overlay(qtbot, window, tmp_path / "atlas.nii.gz")
    brats, atlas = window.scene_model.layers[-2:]
    assert brats.label_names[4].startswith("enhancing") and brats.label_names[2] == "oedema"
    assert atlas.label_names == {2: "Left-WM", 4: "Left-Lat-Vent"} and atlas.colors[4] == (120, 18, 134)
    row = window.layer_panel.row_for(atlas.name)
    assert row.label_boxes[4].text() == "Left-Lat-Vent"


def test_float_map_becomes_a_heatmap(qtbot, window, study, tmp_path):
    data, aff = study
    heat = np.random.default_rng(0).random(data.shape).astype(np.float32)
    nib.save(nib.Nifti1Image(heat, aff), tmp_path / "prob.nii.gz")
    load_overlay(qtbot, window, tmp_path / "prob.nii.gz")
    layer = window.scene_model.layers[-1]
    assert type(layer).__name__ == "HeatmapLayer"
    assert layer.vmax == pytest.approx(float(heat.max()), rel=1e-5)


def test_overlay_elsewhere_in_space_is_refused(qtbot, window, study, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(mw.QMessageBox, "warning", lambda parent, title, text: shown.append(text))
    data, aff = study
    far = aff.copy()
    far[:3, 3] += 5000.0
    nib.save(nib.Nifti1Image(np.ones(data.shape, np.uint8), far), tmp_path / "far.nii.gz")
    n = len(window.scene_model.layers)
    job = load_overlay(qtbot, window, tmp_path / "far.nii.gz")
    assert job.outcome == "error" and "does not overlap" in window.reading.overlays.last_error
    assert shown == [window.reading.overlays.last_error]  # one line in a dialog
    assert len(window.scene_model.layers) == n


def test_open_dialog_takes_several_files_as_one_study(qtbot, window, tmp_path, monkeypatch):
    aff = np.diag([2.0, 2.0, 2.0, 1.0])
    for name in ("case_t1.nii.gz", "case_flair.nii.gz"):
        nib.save(nib.Nifti1Image(np.random.default_rng(1).random((20, 22, 18)).astype(np.float32), aff),
                 tmp_path / name)
    chosen = [str(tmp_path / "case_t1.nii.gz"), str(tmp_path / "case_flair.nii.gz")]
    monkeypatch.setattr(mw.QFileDialog, "getOpenFileNames", lambda *a, **k: (chosen, ""))
    window.choose_file()
    qtbot.waitUntil(lambda: len(window.scene_model.series) == 2, timeout=20000)
    assert {d.source.sequence for d in window.scene_model.series} == {"t1", "flair"}
