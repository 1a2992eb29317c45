"""The AI loop in the window (offscreen): segment -> mask on screen, cancel, brush + undo, exports, PDF,
a dropped PNG classified with Grad-CAM, headless --run/--export, and torch never on the GUI start-up path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDropEvent  # noqa: E402

from brainlens.core.measurements import measure_labels  # noqa: E402
from brainlens.core.phantom import make_head_phantom, phantom_label_map  # noqa: E402
from brainlens.gui import main_window as mw  # noqa: E402
from brainlens.gui.export import EXPORT_NAMES, start_export  # noqa: E402
from brainlens.jobs import ai_tasks  # noqa: E402

pytestmark = pytest.mark.gui
SMALL = {"shape": (48, 56, 48), "spacing_mm": 2.5}
REPO = Path(__file__).resolve().parents[2]


def _model_or_skip(name: str) -> None:
    """The bundled model is listed (a missing one is a failure, not a skip; the name is kept for callers)."""
    from brainlens.ml.registry import get_entry

    assert get_entry(name).name == name


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("BRAINLENS_SETTINGS_DIR", str(tmp_path / "settings"))  # recent studies etc. stay here
    win = mw.MainWindow(show_dialogs=False)
    qtbot.addWidget(win)
    win.resize(1300, 850)
    win.show()
    yield win
    win.close()


def _open_phantom(qtbot, win, clear_layers: bool = True):
    job = win.open_demo(**SMALL)
    with qtbot.waitSignal(job.finished, timeout=30000):
        pass
    if clear_layers:  # the demo's ground-truth overlay would hide what the AI adds
        for layer in list(win.scene_model.layers):
            win.scene_model.remove_layer(layer)
    win.settings.setValue("ai/device", "cpu")
    win.settings.setValue("ai/uncertainty", "fast")
    return win.analysis


def _coloured_pixels(widget) -> int:
    img = widget.grab().toImage().convertToFormat(widget.grab().toImage().Format.Format_RGB888)
    arr = np.frombuffer(img.constBits(), np.uint8, img.sizeInBytes()).reshape(img.height(), img.bytesPerLine())
    rgb = arr[:, : img.width() * 3].reshape(img.height(), img.width(), 3).astype(int)
    return int(((rgb.max(-1) - rgb.min(-1)) > 60).sum())


def _inject_truth_segmentation(c) -> None:
    """The phantom's ground truth through the same result path the segmenter uses (no model needed)."""
    sd = c.scene.base
    truth = phantom_label_map(sd.source)
    doc = measure_labels(truth.data, sd.source.affine)
    doc.update(sequences_used=["flair", "t1", "t1ce", "t2"], missing_sequences=[], device="cpu")
    for r in doc["regions"].values():
        r["volume_ml_range"] = [r["volume_ml"] * 0.9, r["volume_ml"] * 1.1]
    unc = np.zeros(sd.source.shape, np.float32)
    unc[truth.data > 0] = 0.5
    seg = ai_tasks.Segmentation(truth, sd.source.with_data(unc), sd.source, doc,
                                {"kind": "automatic", "model": "truth", "version": "0"}, 0.0)
    c._show_segmentation(seg)
    c.settle()  # the uncertainty layer follows a moment later


def test_segmentation_job_ends_with_the_mask_visible(qtbot, window):
    _model_or_skip("segresnet_brats_2mm")
    c = _open_phantom(qtbot, window)
    axial = window.ortho.views["axial"]
    before = _coloured_pixels(axial)  # crosshair and orientation letters only
    job = c.segment()
    with qtbot.waitSignal(job.finished, timeout=300000):
        pass
    assert job.outcome == "result", c.last_error
    assert c.seg_layer is not None and c.seg_layer in c.scene.layers and c.seg_layer.fits(c.scene.base)
    assert c.measurements["regions"]["whole_tumor"]["volume_ml"] > 1
    assert c.seg_layer.origin["kind"] == "automatic" and c.seg_layer.origin["model"]
    qtbot.wait(50)
    assert _coloured_pixels(axial) > before + 300  # the mask is drawn over the slice on show
    assert c.results_panel.seg_text.isVisible() and "Whole tumour" in c.results_panel.seg_text.text()
    assert "AI device: cpu" in c.device_label.text()


def test_cancel_mid_run_leaves_no_layer_and_no_file(qtbot, window, tmp_path):
    _model_or_skip("segresnet_brats_2mm")
    c = _open_phantom(qtbot, window)
    job = c.segment()
    with qtbot.waitSignal(job.progress, timeout=120000, check_params_cb=lambda f, m: "window" in m):
        pass
    t0 = time.monotonic()
    with qtbot.waitSignal(job.cancelled, timeout=2000):
        window.activity.cancel_button.click()
    assert time.monotonic() - t0 < 1.0
    qtbot.wait(100)
    assert c.seg_layer is None and c.scene.layers == [] and c.measurements is None
    # an export cancelled before it writes leaves the folder empty: the pool's threads are held busy
    # until the cancel is in, so a fast export cannot finish first on a loaded machine
    _inject_truth_segmentation(c)
    release = threading.Event()
    holders = [c.runner.submit(release.wait, 30, name="hold") for _ in range(c.runner.max_threads)]
    out = tmp_path / "out"
    export = start_export(c, out)
    export.cancel()
    release.set()
    assert export.wait(10000) and all(h.wait(10000) for h in holders)
    assert export.outcome == "cancelled"
    assert not out.exists() or list(out.iterdir()) == []


def test_brush_stroke_changes_volume_and_undo_restores_it(qtbot, window):
    c = _open_phantom(qtbot, window)
    _inject_truth_segmentation(c)
    before = c.measurements["regions"]["whole_tumor"]["volume_ml"]
    view = window.ortho.views["axial"]
    c.brush.set_mode("brush")
    c.brush.radius_mm = 6.0
    base = c.scene.base
    sp = base.canonical.spacing
    corner = QPointF(3 * sp[0], 3 * sp[1])  # far from the lesion, inside the grid
    pos = view.mapFromScene(view.vb.mapViewToScene(corner))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    c.remeasure()
    after = c.measurements["regions"]["whole_tumor"]["volume_ml"]
    assert after > before and c.measurements["edited"] and c.seg_layer.edited
    assert c.mask_volume().metadata["edited"] is True
    window.analysis.actions["undo"].trigger()
    c.remeasure()
    assert c.measurements["regions"]["whole_tumor"]["volume_ml"] == pytest.approx(before)
    window.analysis.actions["redo"].trigger()
    c.remeasure()
    assert c.measurements["regions"]["whole_tumor"]["volume_ml"] == pytest.approx(after)


def test_export_writes_all_files_and_the_pdf_has_the_table(qtbot, window, tmp_path):
    pypdf = pytest.importorskip("pypdf")
    from brainlens.core.annotations import Annotation

    c = _open_phantom(qtbot, window)
    _inject_truth_segmentation(c)
    k = c.scene.slice_index("axial")
    ruler = Annotation("ruler", "axial", k, np.array([[4.0, 10.0], [8.0, 10.0]]), c.scene.base, name="Ruler 1")
    window.reading.annotations.add(ruler)  # 4 voxels of 2.5 mm: 10 mm
    job = start_export(c, tmp_path / "out")
    with qtbot.waitSignal(job.finished, timeout=30000):
        pass
    assert job.outcome == "result", c.last_error
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert names == {EXPORT_NAMES[k] for k in ("json", "csv", "mask", "pdf", "png")}
    assert any("DICOM SEG" in n and "only offered for DICOM" in n for n in c.export_notes)
    doc = json.loads((tmp_path / "out" / "measurements.json").read_text())
    assert doc["mask_origin"]["model"] == "truth" and doc["edited"] is False
    (kept,) = doc["reader_measurements"]
    assert kept["kind"] == "ruler" and kept["length_mm"] == pytest.approx(10.0) and kept["slice"] == k + 1
    ends = np.array(kept["points_ras_mm"])
    assert np.linalg.norm(ends[1] - ends[0]) == pytest.approx(10.0)  # the same length in world millimetres
    mask = nib.load(str(tmp_path / "out" / "mask.nii.gz"))
    assert mask.shape == c.scene.base.source.shape
    np.testing.assert_allclose(mask.affine, c.scene.base.source.affine, atol=1e-5)
    pages = pypdf.PdfReader(str(tmp_path / "out" / "report.pdf")).pages
    text = " ".join(" ".join(page.extract_text().split()) for page in pages)  # Qt's PDF spaces read as tabs
    whole = doc["regions"]["whole_tumor"]["volume_ml"]
    assert "Whole tumour" in text and "Enhancing tumour" in text and f"{whole:.2f} ml" in text
    assert "Research use only" in text
    assert "Reader measurements" in text and "Ruler 1: 10.0 mm" in text


def test_png_drop_shows_probabilities_and_a_heatmap(qtbot, window, tmp_path):
    _model_or_skip("brainresnet")
    from PIL import Image

    from brainlens.core.phantom import phantom_slice

    window.settings.setValue("ai/device", "cpu")
    path = tmp_path / "slice.png"
    Image.fromarray(phantom_slice()).save(path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    ev = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                    Qt.KeyboardModifier.NoModifier)
    window.dropEvent(ev)
    qtbot.waitUntil(lambda: window.analysis.slice_result is not None, timeout=120000)
    c = window.analysis
    probs = c.slice_result.result["probabilities"]
    assert set(probs) == {"glioma", "meningioma", "notumor", "pituitary"}
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-3)
    bars = c.results_panel.bars
    assert all(bars[k].isVisible() for k in probs) and max(b.value() for b in bars.values()) > 0
    assert c.cam_layer is not None and c.cam_layer.visible and float(c.cam_layer.data.max()) > 0
    view = window.ortho.views[window.ortho.mode if window.ortho.mode != "ortho" else "axial"]
    qtbot.wait(50)
    shown = _coloured_pixels(view)
    c.cam_layer.update(visible=False)
    qtbot.wait(50)
    assert shown > _coloured_pixels(view) + 100  # the heatmap is what colours the image


def test_headless_run_segment_and_export(qapp, tmp_path, monkeypatch):
    _model_or_skip("segresnet_brats_2mm")
    monkeypatch.setenv("BRAINLENS_SETTINGS_DIR", str(tmp_path / "settings"))
    from brainlens.cli import main

    study = tmp_path / "study"
    study.mkdir()
    for vol in make_head_phantom(orientation="LPS", **SMALL).series:
        nib.save(nib.Nifti1Image(vol.data, vol.affine), str(study / f"case_{vol.sequence}.nii.gz"))
    shot, out = tmp_path / "shot.png", tmp_path / "export"
    assert main([str(study), "--run", "segment", "--screenshot", str(shot), "--export", str(out)]) == 0
    assert shot.exists()
    assert {p.name for p in out.iterdir()} == {EXPORT_NAMES[k] for k in ("json", "csv", "mask", "pdf", "png")}
    mask = nib.load(str(out / "mask.nii.gz"))
    src = nib.load(str(study / "case_flair.nii.gz"))
    assert mask.shape == src.shape and mask.affine.tobytes() == src.affine.tobytes()
    assert np.asanyarray(mask.dataobj).any()


def test_window_load_and_a_segmentation_do_not_import_torch_in_the_viewer():
    """The AI runs in its own process: after a whole segmentation the viewer has still not imported torch."""
    _model_or_skip("segresnet_brats_2mm")
    code = ("import os, sys; os.environ['QT_QPA_PLATFORM']='offscreen'\n"
            "from PySide6.QtWidgets import QApplication; app = QApplication([])\n"
            "from brainlens.gui.main_window import MainWindow\n"
            "w = MainWindow(show_dialogs=False); w.show(); w.open_demo(shape=(32, 40, 32), spacing_mm=4.0)\n"
            "w.wait_for_load(); app.processEvents()\n"
            "heavy = lambda: sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'monai', 'torchvision')"
            " or (m.startswith('brainlens.ml') and m != 'brainlens.ml'))\n"
            "print(heavy())\n"
            "w.settings.setValue('ai/device', 'cpu'); w.settings.setValue('ai/uncertainty', 'fast')\n"
            "c = w.analysis; c.wait(c.segment(confirm=False))\n"
            "print(c.seg_layer is not None and c.seg_layer.data.any(), c.last_error)\n"
            "print(heavy())\n"
            "w.close()\n")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600,
                          cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    after_load, segmented, after_segment = proc.stdout.strip().splitlines()[-3:]
    assert after_load == "[]"
    assert segmented == "True None", proc.stderr
    assert after_segment == "[]"


def test_dicom_study_export_includes_a_seg_on_the_source_images(qtbot, window, tmp_path):
    hd = pytest.importorskip("highdicom")
    from brainlens.io.dicom_write import write_series

    flair = make_head_phantom(orientation="LPS", **SMALL).by_sequence()["flair"]
    write_series(flair.data, flair.affine, tmp_path / "dicom", description="FLAIR")
    job = window.open_path(tmp_path / "dicom")
    with qtbot.waitSignal(job.finished, timeout=60000):
        pass
    c = window.analysis
    sd = c.scene.base
    assert sd.source.metadata["format"] == "dicom"
    mask = np.zeros(sd.source.shape, np.uint8)
    mask[20:28, 20:30, 20:26] = 2
    mask[22:26, 23:27, 22:24] = 4
    doc = measure_labels(mask, sd.source.affine)
    doc.update(sequences_used=["flair"], missing_sequences=["t1", "t1ce", "t2"])
    c._show_segmentation(ai_tasks.Segmentation(sd.source.with_data(mask), sd.source.with_data(
        np.zeros(mask.shape, np.float32)), sd.source, doc, {"kind": "automatic", "model": "m", "version": "1"}, 0.0))
    export = start_export(c, tmp_path / "out")
    with qtbot.waitSignal(export.finished, timeout=60000):
        pass
    assert export.outcome == "result", c.last_error
    seg = hd.seg.segread(str(tmp_path / "out" / "mask_seg.dcm"))
    refs = {r.ReferencedSOPInstanceUID for s in seg.ReferencedSeriesSequence for r in s.ReferencedInstanceSequence}
    assert len(refs) == sd.source.shape[2]  # the SEG references every image of the source series
    assert int(seg.NumberOfFrames) == 6 + 2  # oedema on 6 slices, enhancing on 2 (empty frames omitted)


def test_colour_png_is_flagged_from_its_own_pixels(qtbot, window, tmp_path):
    _model_or_skip("brainresnet")
    from PIL import Image

    window.settings.setValue("ai/device", "cpu")
    rgb = np.zeros((160, 160, 3), np.uint8)
    rgb[:, :80] = (220, 30, 30)
    rgb[:, 80:] = (30, 60, 220)
    Image.fromarray(rgb).save(tmp_path / "photo.png")
    window.open_path(tmp_path / "photo.png")
    qtbot.waitUntil(lambda: window.analysis.slice_result is not None, timeout=120000)
    result = window.analysis.slice_result.result
    assert result["ood"] and result["ood_reason"] == "colour"  # the viewer greys it; the classifier saw colour
    assert "does not look like" in window.analysis.results_panel.class_text.text()


def test_a_brush_drag_is_one_undo_step_and_leaves_the_cursor(qtbot, window):
    from test_gestures import drag

    c = _open_phantom(qtbot, window)
    _inject_truth_segmentation(c)
    view = window.ortho.views["axial"]
    cursor = c.scene.cursor_voxel().copy()
    original = c.seg_layer.data.copy()
    window.analysis.actions["eraser"].trigger()
    assert c.brush.mode == "eraser" and window.analysis.actions["eraser"].isChecked()
    sp = c.scene.base.canonical.spacing
    start, end = (view.mapFromScene(view.vb.mapViewToScene(QPointF(x * sp[0], cursor[1] * sp[1])))
                  for x in (cursor[0] - 6, cursor[0] + 6))
    drag(view.viewport(), start, end, Qt.MouseButton.LeftButton)
    assert len(c.seg_layer.history.undo_stack) == 1  # the whole drag
    assert np.count_nonzero(c.seg_layer.data) < np.count_nonzero(original)
    assert (c.scene.cursor_voxel() == cursor).all()  # painting does not move the cursor
    window.analysis.actions["undo"].trigger()
    np.testing.assert_array_equal(c.seg_layer.data, original)


def test_review_uncertain_and_lesion_list_move_the_cursor(qtbot, window):
    c = _open_phantom(qtbot, window)
    _inject_truth_segmentation(c)
    panel = c.results_panel
    assert panel.review.isVisible() and panel.lesions.count() >= 1
    window.ortho.active_plane = "axial"
    unc = c.unc_layer.data
    per_slice = unc.sum(axis=(0, 1))
    first = panel.review_next()
    assert first == int(np.argmax(per_slice)) and c.scene.slice_index("axial") == first
    second = panel.review_next()
    assert second != first and per_slice[second] <= per_slice[first]
    c.scene.set_cursor_voxel([0, 0, 0])
    item = panel.lesions.item(0)
    panel.lesions.itemClicked.emit(item)
    target = c.scene.world_to_voxel(item.data(Qt.ItemDataRole.UserRole))
    np.testing.assert_allclose(c.scene.cursor_voxel(), np.clip(np.round(target), 0, None), atol=1)


def test_an_empty_mask_says_no_tumour_detected(qtbot, window):
    c = _open_phantom(qtbot, window)
    sd = c.scene.base
    empty = np.zeros(sd.source.shape, np.uint8)
    doc = measure_labels(empty, sd.source.affine)
    doc.update(sequences_used=["flair"], missing_sequences=["t1", "t1ce", "t2"])
    c._show_segmentation(ai_tasks.Segmentation(sd.source.with_data(empty), sd.source.with_data(
        np.zeros(empty.shape, np.float32)), sd.source, doc, {"kind": "automatic", "model": "m", "version": "1"}, 0.0))
    text = c.results_panel.seg_text.text()
    assert "No tumour detected" in text and "missing: T1, T1c, T2" in text


def _nothing_cut_off_at_the_narrowest_dock(qtbot, window, c) -> None:
    """The side panels wrap and never scroll sideways, so a row wider than the dock is cut off at the right
    (it was: a label name, a colour bar row). Checked at the docks' minimum width with the scroll bar shown."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QDockWidget, QScrollArea

    assert c.results_panel.bar_widget.isVisible() and c.seg_layer is not None and c.unc_layer is not None
    for panel in (window.layer_panel, c.results_panel):
        dock = next(d for d in window.findChildren(QDockWidget) if d.isAncestorOf(panel))
        window.resizeDocks([dock], [dock.minimumWidth()], Qt.Orientation.Horizontal)
        scroll = panel.findChild(QScrollArea)
        scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        qtbot.wait(50)
        assert dock.width() == dock.minimumWidth()
        assert scroll.widget().width() <= scroll.viewport().width(), type(panel).__name__


def test_the_finding_and_the_segmenters_warnings_stay_in_the_panel_and_reach_the_report(qtbot, window):
    from brainlens.gui.report import report_html

    c = _open_phantom(qtbot, window)
    _inject_truth_segmentation(c)
    doubt = "possible false alarm: the tumour-type classifier calls the slices through 1 kept component(s)"
    c.segmentation.doc.update(uncertain=True, warnings=[doubt, "no T1c: enhancing tumour cannot be assessed"])
    c.remeasure()
    for text in (c.results_panel.seg_text.text(), report_html(c)):
        assert "possible false alarm" in text and "no T1c" in text and "samples disagree" in text
    _nothing_cut_off_at_the_narrowest_dock(qtbot, window, c)
    sd = c.scene.base
    empty = np.zeros(sd.source.shape, np.uint8)
    doc = measure_labels(empty, sd.source.affine)
    doc.update(sequences_used=["t1"], missing_sequences=["flair", "t1ce", "t2"], tumour_detected=False,
               warnings=["missing sequence(s): FLAIR, T1c, T2"])
    c._show_segmentation(ai_tasks.Segmentation(sd.source.with_data(empty), sd.source.with_data(
        np.zeros(empty.shape, np.float32)), sd.source, doc, {"kind": "automatic", "model": "m", "version": "1"}, 0.0))
    for text in (c.results_panel.seg_text.text(), report_html(c)):
        assert "No tumour detected" in text and "missing sequence(s): FLAIR, T1c, T2" in text
        assert "samples disagree" not in text


def test_a_heatmap_changed_after_the_layer_panel_was_rebuilt_reaches_no_deleted_widget(qtbot, window):
    c = _open_phantom(qtbot, window)
    _inject_truth_segmentation(c)
    c.scene.raise_layer(c.seg_layer)  # rebuilds the layer panel: the old rows are deleted
    qtbot.wait(20)
    c.unc_layer.update(visible=True, threshold=0.1)  # must not call into a deleted row's colour bar
    assert window.layer_panel.row_for(c.unc_layer.name).visible.isChecked()


def test_gradcam_of_every_slice_covers_the_plane_and_toggles(qtbot, window):
    c = _open_phantom(qtbot, window)
    window.ortho.active_plane = "axial"
    job = c.gradcam_plane()
    assert c.wait(job) and job.outcome == "result", c.last_error
    layer = c.plane_cam_layer
    assert layer is not None and layer in c.scene.layers and layer.visible and layer.fits(c.scene.base)
    per_slice = layer.data.max(axis=(0, 1))
    assert (per_slice > 0).sum() >= 3, "attention on several axial slices, not only the one on show"
    assert 0.0 <= layer.data.min() and layer.data.max() <= 1.0
    c.toggle_gradcam()
    assert not layer.visible
    c.toggle_gradcam()
    assert layer.visible
