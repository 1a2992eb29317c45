"""The analysis controller: run classify slice / classify study / segment / export from the window.

Every run goes through the window's one job runner (the activity area follows it); the AI itself runs in
this controller's AI process (jobs.ai_process), where the models are loaded once and stay. Results become
scene layers (mask, uncertainty, Grad-CAM) and a results document the results panel and the exports read.
A cancelled or failed job leaves no layer and no file; an error is one line (a dialog in the window,
``last_error`` headless).
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, QTimer, Signal
from PySide6.QtWidgets import QMessageBox

from brainlens.core.labels import LABEL_COLORS, LABEL_NAMES
from brainlens.core.plain import plain
from brainlens.core.scene import HeatmapLayer, LabelLayer, SeriesDisplay
from brainlens.core.volume import SEQUENCES, Volume
from brainlens.jobs import ai_tasks
from brainlens.jobs.ai_process import AIEngine
from brainlens.jobs.runner import JobHandle

log = logging.getLogger("brainlens.gui")
TITLES = {"flair": "FLAIR", "t1": "T1", "t1ce": "T1c", "t2": "T2"}
JOB_NAMES = {"preload": "Preparing AI",
             "classify_slice": "Classify slice", "classify_study": "Classify study", "segment": "Segment tumour",
             "gradcam_plane": "Grad-CAM of every slice",
             "export": "Export"}
SEG_LAYER = "Tumour segmentation"
UNC_LAYER = "Segmentation uncertainty (bits)"
CAM_LAYER = "Grad-CAM (classifier attention)"
STUDY_CAM_LAYER = "Grad-CAM of the study's driving slices"
PLANE_CAM_LAYER = "Grad-CAM of every {plane} slice"
CAM_ATTRS = ("cam_layer", "study_cam_layer", "plane_cam_layer")  # the controller's attention-map layers
RESULT_STEP_DELAY_MS = 1
PRELOAD_AFTER_CANCEL_MS = 500
MEASURE_DELAY_MS = 150  # edits are measured once the brush pauses, not per dab


class AnalysisController(QObject):
    results_changed = Signal()  # classification, segmentation or measurements changed
    device_changed = Signal(str)

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.scene = window.scene_model
        self.runner = window.runner
        self.settings = window.settings
        self.engine = AIEngine()  # the AI runs in its own process (see jobs.ai_process); models stay loaded there
        self.jobs: dict[str, JobHandle] = {}
        self.last_error: str | None = None
        self.device_text = ""
        self.notes: list[str] = []
        self.export_notes: list[str] = []
        self.exported: list[Path] = []
        self.slice_result: ai_tasks.SliceClassification | None = None
        self.study_result: ai_tasks.StudyClassification | None = None
        self.segmentation: ai_tasks.Segmentation | None = None
        self.measurements: dict[str, Any] | None = None  # of the mask as it is now (edits included)
        self.seg_layer: LabelLayer | None = None
        self.unc_layer: HeatmapLayer | None = None
        self.cam_layer: HeatmapLayer | None = None
        self.study_cam_layer: HeatmapLayer | None = None
        self.plane_cam_layer: HeatmapLayer | None = None
        self._measured_state: tuple = ()
        self._measure_timer = QTimer(self)
        self._measure_timer.setSingleShot(True)
        self._measure_timer.setInterval(MEASURE_DELAY_MS)
        self._measure_timer.timeout.connect(self.remeasure)
        self.scene.series_changed.connect(self._on_series_changed)
        self.scene.layers_changed.connect(self._on_layers_changed)
        self._study_series: list[SeriesDisplay] | None = None
        self._pending_steps = 0  # parts of a result still to be shown in a later event-loop turn

    # ---- settings ------------------------------------------------------------------------------------
    @property
    def device(self) -> str:
        return str(self.settings.value("ai/device", "auto"))

    @property
    def samples(self) -> int:
        return ai_tasks.SAMPLES.get(str(self.settings.value("ai/uncertainty", "fast")), ai_tasks.SAMPLES["fast"])

    @property
    def classifier_name(self) -> str:
        from brainlens.ml.classifier_default import default_classifier  # manifest JSON only, no torch

        return str(self.settings.value("ai/classifier", "") or default_classifier())

    # ---- study bookkeeping ---------------------------------------------------------------------------
    def _on_series_changed(self) -> None:
        if self.scene.series is not self._study_series:  # a new study: earlier results do not apply
            self._study_series = self.scene.series
            for job in self.jobs.values():
                job.cancel()
            self.slice_result = self.study_result = self.segmentation = self.measurements = None
            self.seg_layer = self.unc_layer = self.cam_layer = self.study_cam_layer = self.plane_cam_layer = None
            self.results_changed.emit()

    def _on_layers_changed(self) -> None:
        layers = self.scene.layers
        if self.seg_layer is not None and self.seg_layer not in layers:
            self.seg_layer, self.segmentation, self.measurements = None, None, None
            self.results_changed.emit()
        if self.unc_layer is not None and self.unc_layer not in layers:
            self.unc_layer = None
        for attr in CAM_ATTRS:
            if getattr(self, attr) is not None and getattr(self, attr) not in layers:
                setattr(self, attr, None)

    def sequence_assignment(self) -> dict[str, SeriesDisplay]:
        """First series of each sequence type as assigned in the study panel (auto-detected, editable)."""
        found: dict[str, SeriesDisplay] = {}
        for sd in self.scene.series:
            seq = sd.source.sequence
            if seq in SEQUENCES and seq not in found and not sd.is_label and min(sd.source.shape) > 1:
                found[seq] = sd
        return found

    def missing_sequences(self) -> list[str]:
        found = self.sequence_assignment()
        return [TITLES[s] for s in SEQUENCES if s not in found]

    # ---- running jobs --------------------------------------------------------------------------------
    def _submit(self, kind: str, func, *args, on_result, **kwargs) -> JobHandle:
        old = self.jobs.get(kind)
        if old is not None and not old.done:
            old.cancel()  # the newer request wins; the old result is ignored
        self.last_error = None
        job = self.runner.submit(func, *args, name=JOB_NAMES[kind], **kwargs)
        self.jobs[kind] = job
        job.result.connect(lambda value: self._apply(job, kind, on_result, value))
        job.error.connect(lambda message: self._error(job, kind, message))
        job.cancelled.connect(lambda: self._cancelled(kind))
        return job

    def _cancelled(self, kind: str) -> None:
        self.window.statusBar().showMessage(f"{JOB_NAMES[kind]} cancelled", 5000)
        # A task that did not stop at once was stopped with the AI process: have the models ready again.
        if kind != "export" and self.window.show_dialogs and not self.engine.running \
                and not os.environ.get("BRAINLENS_NO_PRELOAD"):
            QTimer.singleShot(PRELOAD_AFTER_CANCEL_MS, self.preload)

    def _apply(self, job: JobHandle, kind: str, on_result, value) -> None:
        if self.jobs.get(kind) is not job or job.abort.is_set():
            return
        try:
            on_result(value)
        except Exception as exc:  # noqa: BLE001 -- one line for the user, the traceback for the log
            log.exception("showing the %s result failed", kind)
            self._error(job, kind, f"internal error: {type(exc).__name__}: {exc}")

    def _error(self, job: JobHandle, kind: str, message: str) -> None:
        if self.jobs.get(kind) is not job:
            return
        self.last_error = message
        self.window.statusBar().showMessage(f"{JOB_NAMES[kind]} failed: {message}", 8000)
        if self.window.show_dialogs:
            QMessageBox.warning(self.window, f"{JOB_NAMES[kind]} failed", message)

    def _note_device(self, text: str, notes: list[str]) -> None:
        self.device_text = text
        self.notes = list(notes)
        self.device_changed.emit(text)
        for note in notes:
            self.window.statusBar().showMessage(note, 10000)

    def _require_study(self) -> SeriesDisplay | None:
        base = self.scene.base
        if base is None:
            self._fail("Open a study first (File > Open)")
        return base

    def _fail(self, message: str) -> None:
        self.last_error = message
        if self.window.show_dialogs:
            QMessageBox.information(self.window, "BrainLens", message)

    def preload(self) -> JobHandle:
        """Import torch and load the models on a worker soon after start-up (see ai_tasks.preload)."""
        return self._submit("preload", self.engine.run, "preload", device=self.device,
                            classifier=self.classifier_name, on_result=lambda text: self._note_device(text, []))

    # ---- classification ------------------------------------------------------------------------------
    def is_single_image(self) -> bool:
        base = self.scene.base
        return base is not None and base.source.metadata.get("format") == "image"

    def classify_slice(self) -> JobHandle | None:
        base = self._require_study()
        if base is None:
            return None
        plane = self.window.ortho.active_plane if min(base.canonical.shape) > 1 else self._flat_plane(base)
        index = self.scene.slice_index(plane)
        original = None
        if self.is_single_image() and base.source.metadata.get("source_paths"):
            original = Path(base.source.metadata["source_paths"][0])  # the file's own (colour) pixels
        return self._submit("classify_slice", self.engine.run, "classify_slice", base.source, base.reorientation,
                            plane, index, device=self.device, model_name=self.classifier_name, original=original,
                            on_result=lambda r: self._show_slice_result(base, r))

    @staticmethod
    def _flat_plane(base: SeriesDisplay) -> str:
        from brainlens.core.geometry import PLANE_NORMAL_AXIS

        return next((p for p, a in PLANE_NORMAL_AXIS.items() if base.canonical.shape[a] == 1), "axial")

    def _show_slice_result(self, base: SeriesDisplay, res: ai_tasks.SliceClassification) -> None:
        self.slice_result = res
        self._show_attention("cam_layer", CAM_LAYER, res.heatmap, base)
        self._note_device(res.device, res.notes)
        self.results_changed.emit()

    def classify_study(self) -> JobHandle | None:
        """The study verdict on the series on show; it looks at the segmented tumour's slices when there is one."""
        base = self._require_study()
        if base is None:
            return None
        mask = None
        if self.seg_layer is not None and self.seg_layer.source is base.source:
            mask = self.seg_layer.source_data()
        return self._submit("classify_study", self.engine.run, "classify_study", base.source, device=self.device,
                            model_name=self.classifier_name, segmentation=mask,
                            on_result=lambda r: self._show_study_result(base, r))

    def _show_study_result(self, base: SeriesDisplay, res: ai_tasks.StudyClassification) -> None:
        self.study_result = res
        self._show_attention("study_cam_layer", STUDY_CAM_LAYER, res.heatmap, base)
        self._note_device(res.device, res.notes)
        self.results_changed.emit()

    def gradcam_plane(self) -> JobHandle | None:
        """Grad-CAM on every slice of the active plane (slices called "no tumour" stay empty)."""
        base = self._require_study()
        if base is None:
            return None
        plane = self.window.ortho.active_plane if min(base.canonical.shape) > 1 else self._flat_plane(base)
        return self._submit("gradcam_plane", self.engine.run, "plane_gradcam", base.source, plane,
                            device=self.device, model_name=self.classifier_name,
                            on_result=lambda r: self._show_plane_cam(base, r))

    def _show_plane_cam(self, base: SeriesDisplay, res: ai_tasks.PlaneGradCAM) -> None:
        self._show_attention("plane_cam_layer", PLANE_CAM_LAYER.format(plane=res.plane), res.heatmap, base)
        self._note_device(res.device, res.notes)
        self.window.statusBar().showMessage(f"Grad-CAM of {res.slices} {res.plane} slices ({res.model}); "
                                            "slices called 'no tumour' are left empty", 8000)
        self.results_changed.emit()

    def _show_attention(self, attr: str, name: str, heatmap: np.ndarray | None, base: SeriesDisplay) -> None:
        """A Grad-CAM map as layer ``attr`` (replacing its earlier one): one attention map on screen at a
        time, drawn under the mask so the mask stays readable."""
        old = getattr(self, attr)
        if old is not None and old in self.scene.layers:
            self.scene.remove_layer(old)
        for other in CAM_ATTRS:
            layer = getattr(self, other)
            if other != attr and layer is not None:
                layer.update(visible=False)
        if heatmap is not None and base in self.scene.series:
            setattr(self, attr, self.scene.add_heatmap_layer(name, heatmap, base, below=self.seg_layer,
                                                             colormap="inferno", threshold=0.3, vmax=1.0,
                                                             opacity=0.45))

    def toggle_gradcam(self) -> None:
        """Hide the attention map on show, or show the latest one (slice, study or every-slice map)."""
        maps = [m for m in (getattr(self, a) for a in CAM_ATTRS) if m is not None]
        shown = [m for m in maps if m.visible]
        if shown:
            for m in shown:
                m.update(visible=False)
        elif maps:
            latest = max(maps, key=self.scene.layers.index)
            latest.update(visible=True)

    # ---- segmentation --------------------------------------------------------------------------------
    def segment(self, confirm: bool = True) -> JobHandle | None:
        if self._require_study() is None:
            return None
        found = self.sequence_assignment()
        if not found:
            self._fail("No series is assigned FLAIR, T1, T1c or T2: set the sequence of each series in the "
                       "Study panel, then segment again")
            return None
        missing = self.missing_sequences()
        if missing and confirm and self.window.show_dialogs:
            used = ", ".join(f"{TITLES[k]} = {sd.source.name or '?'}" for k, sd in found.items())
            answer = QMessageBox.question(
                self.window, "Segment tumour",
                f"Sequences: {used}.\nMissing: {', '.join(missing)} (accuracy is lower without them).\n"
                "Change assignments in the Study panel. Segment now?")
            if answer != QMessageBox.StandardButton.Yes:
                return None
        volumes = {k: sd.source for k, sd in found.items()}
        def show(seg: ai_tasks.Segmentation) -> None:
            if seg.reference is None:  # the AI process does not send our own series back
                seg = replace(seg, reference=volumes[seg.reference_sequence])
            self._show_segmentation(seg)

        return self._submit("segment", self.engine.run, "segment_study", volumes, device=self.device,
                            samples=self.samples, on_result=show)

    def _show_segmentation(self, seg: ai_tasks.Segmentation) -> None:
        ref = next((i for i, sd in enumerate(self.scene.series) if sd.source is seg.reference), None)
        if ref is None:
            return  # the study changed while the job ran
        for layer in (self.seg_layer, self.unc_layer):
            if layer is not None and layer in self.scene.layers:
                self.scene.remove_layer(layer)
        reference = self.scene.series[ref]
        if self.scene.base is None or not np.allclose(self.scene.base.canonical.affine, reference.canonical.affine) \
                or self.scene.base.canonical.shape != reference.canonical.shape:
            self.scene.show_series(ref)
        name = f"{SEG_LAYER} ({seg.origin.get('model', '')} {seg.origin.get('version', '')})".replace(" ()", "")
        present = {"present": seg.labels_present} if seg.labels_present else {}
        self.seg_layer = self.scene.add_label_layer(name, seg.mask.data, reference, origin=dict(seg.origin),
                                                    label_names=dict(LABEL_NAMES), colors=dict(LABEL_COLORS),
                                                    opacity=0.5, **present)
        # The uncertainty map starts hidden: it goes on a moment later so that showing a result never holds
        # the window for longer than one of its halves takes. A real (1 ms) timer, not a 0 ms one: Qt runs
        # zero-delay calls before it next looks at input and other timers, which would join the halves again.
        self._pending_steps += 1
        QTimer.singleShot(RESULT_STEP_DELAY_MS, lambda: self._add_uncertainty_layer(seg, reference))
        self.seg_layer.changed.connect(self._on_mask_changed)
        self.segmentation = seg
        self.measurements = dict(seg.doc)
        self._measured_state = self._edit_state()
        self._note_device(str(seg.doc.get("device", "")), seg.notes)
        lesions = seg.doc["regions"]["whole_tumor"]["lesions"]
        rano = seg.doc.get("rano")
        if rano:  # the middle of the RANO diameter: on the lesion and on the slice the diameters are drawn
            mid = np.mean(rano["longest_endpoints_ijk"], axis=0)
            self.scene.set_cursor_world((seg.reference.affine @ np.append(mid, 1.0))[:3])
        elif lesions:
            self.scene.set_cursor_world(lesions[0]["centroid_ras_mm"])
        self.results_changed.emit()

    def _add_uncertainty_layer(self, seg: ai_tasks.Segmentation, reference: SeriesDisplay) -> None:
        self._pending_steps -= 1
        if self.segmentation is not seg or reference not in self.scene.series:
            return  # replaced or closed in between
        unc = seg.uncertainty.data
        vmax = seg.uncertainty_max
        if vmax is None:
            vmax = float(np.nanmax(unc)) if unc.size and np.isfinite(unc).any() else 1.0
        self.unc_layer = self.scene.add_heatmap_layer(UNC_LAYER, unc, reference, below=self.seg_layer,
                                                      colormap="hot", threshold=0.3 * vmax, vmax=max(vmax, 1e-3),
                                                      opacity=0.45, visible=False)  # under the mask
        self.results_changed.emit()

    # ---- edits -> measurements -----------------------------------------------------------------------
    def _edit_state(self) -> tuple:
        h = self.seg_layer.history if self.seg_layer is not None else None
        return () if h is None else (len(h.undo_stack), len(h.redo_stack),
                                     id(h.undo_stack[-1]) if h.undo_stack else 0)

    def _on_mask_changed(self, layer: LabelLayer) -> None:
        if layer is self.seg_layer and self._edit_state() != self._measured_state:
            self._measure_timer.start()

    def remeasure(self) -> None:
        """Measure the mask as edited (the shared core measurements); ranges stay the model's."""
        layer, seg = self.seg_layer, self.segmentation
        if layer is None or seg is None:
            return
        from brainlens.core.measurements import measure_labels  # scipy: kept off the start-up path

        self._measure_timer.stop()
        self._measured_state = self._edit_state()
        measured = measure_labels(layer.source_data(), seg.reference.affine)
        doc = dict(seg.doc)
        regions = {}
        for key, region in measured["regions"].items():
            region["volume_ml_range"] = seg.doc["regions"][key].get("volume_ml_range")
            regions[key] = region
        detected = regions["whole_tumor"]["volume_ml"] > 0
        doc.update(regions=regions, rano=measured["rano"], edited=layer.edited, tumour_detected=detected,
                   finding="tumour detected" if detected else "no tumour detected")
        self.measurements = plain(doc)
        self.results_changed.emit()

    def mask_volume(self) -> Volume | None:
        """The mask as it is now, on the source grid, saying where it came from and whether it was edited."""
        if self.seg_layer is None:
            return None
        vol = self.seg_layer.source_volume("tumour mask")
        vol.metadata.update(is_label=True, origin=dict(self.seg_layer.origin), edited=self.seg_layer.edited,
                            label_names=dict(LABEL_NAMES))
        return vol

    # ---- headless / waiting --------------------------------------------------------------------------
    def run(self, what: str) -> JobHandle | None:
        """``--run classify|segment``: the same actions as the menu (classify: study + slice, or the image)."""
        if what == "segment":
            return self.segment(confirm=False)
        if what == "classify":
            if self.is_single_image():
                return self.classify_slice()
            job = self.classify_study()
            if job is not None:
                self.wait(job)
                # explain the slice on show when a tumour was segmented there, else the most convincing one
                if self.seg_layer is None and self.study_result is not None \
                        and self.study_result.summary.get("driving_slices"):
                    self._cursor_to_slice(self.study_result.plane, self.study_result.summary["driving_slices"][0])
                return self.classify_slice()
            return job
        raise ValueError(f"unknown run {what!r}; choose classify or segment")

    def _cursor_to_slice(self, plane: str, index: int) -> None:
        from brainlens.core.geometry import PLANE_NORMAL_AXIS

        v = self.scene.cursor_voxel().astype(float)
        v[PLANE_NORMAL_AXIS[plane]] = index
        self.scene.set_cursor_voxel(v)
        self.window.ortho.active_plane = plane

    def wait(self, job: JobHandle | None, timeout_ms: int = 900_000) -> bool:
        """Run the event loop until ``job`` has finished and its result is on screen (headless runs, tests)."""
        if job is None:
            return True
        done = job.wait(timeout_ms)
        self.settle()
        return done

    def settle(self) -> None:
        """Let the parts of a result that are shown a moment later (see _show_segmentation) appear now."""
        while self._pending_steps > 0:
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
