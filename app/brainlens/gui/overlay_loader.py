"""File > Load overlay...: a label map or heatmap file onto the study that is open (job runner), fitted to
the grid of the series on show; what had to be done to fit it is said where the reader sees it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox

from brainlens.jobs.overlay import OverlayResult, load_overlay
from brainlens.jobs.runner import JobHandle, JobRunner

OVERLAY_FILTER = "Label maps and heatmaps (*.nii *.nii.gz *.mgz *.nrrd *.nhdr *.dcm *.png *.tif *.tiff);;All files (*)"


class OverlayLoader:
    """Owned by the main window; adds finished overlays to ``window.scene_model`` on the GUI thread."""

    def __init__(self, window: QMainWindow, runner: JobRunner) -> None:
        self.window = window
        self.runner = runner
        self.job: JobHandle | None = None
        self.last_notes: list[str] = []
        self.last_error: str | None = None

    def choose(self) -> None:
        if self.window.scene_model.base is None:
            self._tell("Load overlay", "Open a study first; an overlay is drawn on the series on show.")
            return
        start = str(self.window.settings.value("paths/last_dir", str(Path.home())))
        path, _ = QFileDialog.getOpenFileName(self.window, "Load overlay onto this study", start, OVERLAY_FILTER)
        if path:
            self.load(path)

    def load(self, path: str | Path) -> JobHandle:
        base = self.window.scene_model.base
        if base is None:
            raise RuntimeError("no series on show")
        self.last_error, self.last_notes = None, []
        job = self.runner.submit(load_overlay, str(path), base.source, name=f"overlay {Path(path).name}")
        self.job = job
        job.result.connect(lambda result: self._apply(job, base, result))
        job.error.connect(lambda msg: self._failed(Path(path).name, msg))
        self.window.statusBar().showMessage(f"Loading overlay {Path(path).name}...")
        return job

    def _apply(self, job: JobHandle, base, result: OverlayResult) -> None:
        scene = self.window.scene_model
        if job is not self.job or base not in scene.series:  # another study was opened meanwhile
            return
        add = scene.add_label_layer if result.kind == "label" else scene.add_heatmap_layer
        add(result.name, result.data, base, **result.display)
        self.last_notes = result.warnings
        text = f"Overlay {result.name} added" + (": " + "; ".join(result.warnings) if result.warnings else "")
        self.window.statusBar().showMessage(text, 30000)  # in view, not in a tooltip; no modal interruption

    def _failed(self, name: str, message: str) -> None:
        self.last_error = message
        self.window.statusBar().showMessage(f"Could not load overlay {name}", 10000)
        self._tell("Could not load overlay", message, warning=True)

    def _tell(self, title: str, text: str, warning: bool = False) -> None:
        if not self.window.show_dialogs:
            return
        (QMessageBox.warning if warning else QMessageBox.information)(self.window, title, text)
