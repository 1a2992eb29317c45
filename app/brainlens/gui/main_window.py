"""The main window: ortho view in the centre, study browser and layer docks, menus, status bar.

All loading goes through the job runner; the window only applies finished results. A failed load shows
one line in a dialog and leaves the study that was open untouched.
"""

from __future__ import annotations

import html
import logging
import os
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QDoubleSpinBox,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QWidget,
)

from brainlens import __version__
from brainlens.core.patient import study_patient
from brainlens.core.scene import WINDOW_PRESETS, Scene
from brainlens.gui.activity import ActivityArea
from brainlens.gui.ai_ui import install_ai
from brainlens.gui.elided_label import ElidedLabel
from brainlens.gui.layer_panel import LayerPanel
from brainlens.gui.layout_box import LayoutBox
from brainlens.gui.ortho_view import LAYOUTS, OrthoView
from brainlens.gui.reading_room import ReadingRoom
from brainlens.gui.screenshot import grab_to_png
from brainlens.gui.settings import add_recent, open_settings, recent_studies
from brainlens.gui.slice_view import CONVENTION
from brainlens.gui.study_browser import StudyBrowser
from brainlens.jobs.runner import JobHandle, JobRunner, one_line
from brainlens.jobs.tasks import LoadedStudy, demo_study, load_study

log = logging.getLogger("brainlens.gui")
CONTROLS_HELP = (
    "Left click or drag: move the cursor (all three planes follow)\n"
    "Wheel, Up/Down: previous/next slice    PgUp/PgDn: a page of slices    Home/End: first/last slice\n"
    "Right drag: window/level (left-right: width, up-down: level)\n"
    "Ctrl+wheel or +/-: zoom    Middle drag or Shift+left drag: pan    R: reset view\n"
    "C or Space: cine (play through the slices of the last used plane)\n"
    "Measurements panel: ruler, ellipse and free-hand ROI (left-drag); Ctrl+Z undoes\n"
    f"Display convention: {CONVENTION}; sagittal views show anterior on the left.")
ABOUT_TEXT = (f"<b>BrainLens {__version__}</b> - brain MRI viewer with on-device AI.<br>"
              "Not a medical device: results are for research and education.")
OPEN_FILTER = ("Images (*.dcm *.DCM *.ima *.nii *.nii.gz *.hdr *.mgz *.nrrd *.nhdr *.png *.jpg *.jpeg *.tif "
               "*.tiff *.bmp);;All files (*)")


class MainWindow(QMainWindow):
    def __init__(self, show_dialogs: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.show_dialogs = show_dialogs  # False in screenshot mode: errors are returned, not shown
        self.settings = open_settings()
        self.scene_model = Scene()
        self.runner = JobRunner(parent=self)
        self.loaded: LoadedStudy | None = None
        self.load_job: JobHandle | None = None
        self.last_error: str | None = None
        self.setWindowTitle("BrainLens")
        self.setAcceptDrops(True)
        self.ortho = OrthoView(self.scene_model, self)
        self.setCentralWidget(self.ortho)
        self.browser = StudyBrowser(self.scene_model)
        self.layer_panel = LayerPanel(self.scene_model)
        self.docks = [self._dock("Study", self.browser, Qt.DockWidgetArea.LeftDockWidgetArea),
                      self._dock("Layers", self.layer_panel, Qt.DockWidgetArea.RightDockWidgetArea)]
        self._build_status()
        self._build_actions()
        self._build_toolbar()
        self._build_menus()
        self.analysis = install_ai(self)  # AI menu, toolbar, results dock, brush: see gui/ai_ui.py
        self.reading = ReadingRoom(self)  # measurements, overlays, W/L entry, tags, display convention
        for view in self.ortho.views.values():
            view.hovered.connect(self._on_hover)
        self.scene_model.cursor_changed.connect(lambda: self._show_probe(None))
        self.scene_model.window_changed.connect(self._on_window_changed)
        self._restore()

    # ---- construction --------------------------------------------------------------------------------
    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        dock.setWidget(widget)
        dock.setMinimumWidth(260)
        self.addDockWidget(area, dock)
        return dock

    def _build_status(self) -> None:
        bar = self.statusBar()
        self.info_label = ElidedLabel("Open a study: File > Open, or drop files or a folder here")
        self.info_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.activity = ActivityArea(self.runner)  # follows every job: loads, AI, exports
        self.progress, self.cancel_button = self.activity.progress, self.activity.cancel_button
        bar.addWidget(self.info_label, 1)
        # QStatusBar hides it under a message but leaves it free to reappear on a relayout, drawing both texts
        # over each other; an explicit hide / show keeps them apart
        bar.messageChanged.connect(lambda message: self.info_label.setVisible(not message))
        self.convention_label = QLabel(f"Display: {CONVENTION}")
        bar.addPermanentWidget(self.convention_label)
        bar.addPermanentWidget(self.activity)

    def _action(self, text: str, slot, shortcut: str | QKeySequence | None = None, checkable: bool = False
                ) -> QAction:
        act = QAction(text, self)
        if shortcut:
            act.setShortcut(QKeySequence(shortcut))
        act.setCheckable(checkable)
        act.triggered.connect(slot)
        return act

    def _build_actions(self) -> None:
        self.act_open_file = self._action("Open &file...", self.choose_file, QKeySequence.StandardKey.Open)
        self.act_open_folder = self._action("Open f&older...", self.choose_folder, "Ctrl+Shift+O")
        self.act_demo = self._action("Open &demo phantom (synthetic)", self.open_demo, "Ctrl+D")
        self.act_screenshot = self._action("Save &screenshot...", self.choose_screenshot)
        self.act_quit = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.act_reset = self._action("&Reset view", self.ortho.reset_views, "R")
        self.act_cine = self._action("&Cine", lambda on: self.ortho.set_cine(on), "C", checkable=True)
        self.ortho.cine_changed.connect(self.act_cine.setChecked)

    def _build_toolbar(self) -> None:
        tb = self.toolbar = self.addToolBar("Main")
        tb.setObjectName("toolbar_main")
        tb.addAction(self.act_open_file)
        tb.addAction(self.act_open_folder)
        tb.addSeparator()
        tb.addWidget(QLabel(" Layout "))
        self.layout_combo = LayoutBox(self.ortho, self.set_layout_mode)
        tb.addWidget(self.layout_combo)
        tb.addWidget(QLabel(" Window "))
        self.preset_combo = QComboBox()
        self.preset_combo.addItems([*WINDOW_PRESETS, "Custom"])
        self.preset_combo.setToolTip("Window/level preset (right-drag in a view to adjust)")
        self.preset_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.preset_combo.setMinimumContentsLength(12)  # the list opens wider; the toolbar stays on screen
        self.preset_combo.textActivated.connect(self._on_preset)
        tb.addWidget(self.preset_combo)
        tb.addAction(self.act_reset)
        tb.addSeparator()
        tb.addAction(self.act_cine)
        self.fps = QDoubleSpinBox()
        self.fps.setRange(1, 30)
        self.fps.setValue(10)
        self.fps.setSuffix(" fps")
        self.fps.valueChanged.connect(lambda v: self.ortho.set_cine(self.ortho.cine_running, v))
        tb.addWidget(self.fps)

    def _build_menus(self) -> None:
        menu = self.file_menu = self.menuBar().addMenu("&File")
        for act in (self.act_open_file, self.act_open_folder, self.act_demo):
            menu.addAction(act)
        self.recent_menu = menu.addMenu("Open &recent")
        self._fill_recent()
        menu.addSeparator()
        menu.addAction(self.act_screenshot)
        menu.addSeparator()
        menu.addAction(self.act_quit)
        view = self.view_menu = self.menuBar().addMenu("&View")
        for mode in LAYOUTS:
            view.addAction(self._action(f"{mode.capitalize()} layout", lambda _=False, m=mode:
                                        self.set_layout_mode(m)))
        view.addSeparator()
        view.addAction(self.act_reset)
        view.addAction(self.act_cine)
        help_menu = self.help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self._action("&Mouse and keys", lambda: QMessageBox.information(
            self, "Mouse and keys", CONTROLS_HELP)))
        help_menu.addAction(self._action("&About BrainLens", lambda: QMessageBox.about(
            self, "About BrainLens", ABOUT_TEXT)))

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        items = recent_studies(self.settings)
        for path in items:
            self.recent_menu.addAction(self._action(path, lambda _=False, p=path: self.open_path(p)))
        self.recent_menu.setEnabled(bool(items))

    # ---- settings ------------------------------------------------------------------------------------
    def _restore(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 900)
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        mode = str(self.settings.value("view/layout", "ortho"))
        self.set_layout_mode(mode if mode in LAYOUTS else "ortho")

    def set_layout_mode(self, mode: str) -> None:
        self.ortho.set_layout_mode(mode)
        if self.show_dialogs:
            self.settings.setValue("view/layout", mode)
        self.layout_combo.show_mode()

    def closeEvent(self, ev) -> None:  # noqa: N802
        if self.show_dialogs:  # a screenshot run must not change the user's saved layout
            self.settings.setValue("window/geometry", self.saveGeometry())
            self.settings.setValue("window/state", self.saveState())
            self.settings.sync()
        self.runner.cancel_all()
        self.runner.wait(3000)
        self.analysis.engine.close()
        self.ortho.disconnect_scene()
        self.reading.disconnect_scene()
        super().closeEvent(ev)

    # ---- opening -------------------------------------------------------------------------------------
    def choose_file(self) -> None:
        start = str(self.settings.value("paths/last_dir", str(Path.home())))
        paths, _ = QFileDialog.getOpenFileNames(self, "Open image(s) of one study", start, OPEN_FILTER)
        if paths:
            self.open_path(paths if len(paths) > 1 else paths[0])

    def choose_folder(self) -> None:
        start = str(self.settings.value("paths/last_dir", str(Path.home())))
        path = QFileDialog.getExistingDirectory(self, "Open DICOM or NIfTI folder", start)
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path | list[str]) -> JobHandle:
        """Open a file or folder (or several files of one study) on the job runner."""
        if isinstance(path, list):
            first = Path(path[0])
            self.settings.setValue("paths/last_dir", str(first.parent))
            return self._start_load(load_study, [str(p) for p in path], label=f"{len(path)} files", source=None)
        raw, path = os.fspath(path), Path(path)  # raw: Path("") would silently become the current folder
        # os.path.isdir, unlike Path.is_dir, never raises (over-long or odd names are the loader's to report)
        self.settings.setValue("paths/last_dir", str(path if os.path.isdir(path) else path.parent))
        return self._start_load(load_study, raw, label=path.name or raw or "(empty path)", source=path)

    def open_demo(self, **phantom: object) -> JobHandle:
        """The synthetic phantom (``phantom`` may set ``shape`` / ``spacing_mm``, e.g. smaller in tests)."""
        return self._start_load(demo_study, label="synthetic phantom", source=None, **phantom)

    def _start_load(self, func, *args, label: str, source: Path | None, **kwargs: object) -> JobHandle:
        if self.load_job is not None and not self.load_job.done:
            self.load_job.cancel()  # the newer request wins; the old result will be ignored
        self.last_error = None
        job = self.runner.submit(func, *args, name=f"open {label}", **kwargs)
        self.load_job = job
        job.result.connect(lambda loaded: self._on_loaded(job, loaded, source))
        job.error.connect(lambda msg: self._on_load_error(job, label, msg))
        job.cancelled.connect(lambda: self._finish_job(job, f"Opening {label} cancelled"))
        self._set_busy(True, f"Opening {label}...")
        return job

    def cancel_load(self) -> None:
        if self.load_job is not None:
            self.load_job.cancel()

    def _set_busy(self, busy: bool, message: str = "") -> None:
        if message:
            self.statusBar().showMessage(message, 0 if busy else 5000)

    def _finish_job(self, job: JobHandle, message: str) -> None:
        if job is self.load_job:
            self._set_busy(False, message)

    def _on_load_error(self, job: JobHandle, label: str, message: str) -> None:
        if job is not self.load_job:
            return
        self.last_error = message
        self._finish_job(job, f"Could not open {label}")
        if self.show_dialogs:
            QMessageBox.warning(self, "Could not open study", message)

    def _on_loaded(self, job: JobHandle, loaded: LoadedStudy, source: Path | None) -> None:
        if job is not self.load_job:
            return
        self._finish_job(job, "")
        try:
            self._show_study(loaded, source)
        except Exception as exc:  # a bug here must not leave a traceback as the only trace of the failure
            log.exception("showing the loaded study failed")
            self._on_load_error(job, loaded.study.source.name, one_line(exc))

    def _show_study(self, loaded: LoadedStudy, source: Path | None) -> None:
        sibling = self.loaded is not None and loaded in self.loaded.subjects
        self.loaded = loaded
        scene = self.scene_model
        scene.set_series(loaded.displays, current=loaded.initial)
        self.reading.study_shown(loaded, sibling)
        for spec in loaded.layers:
            ref = loaded.displays[spec.reference]
            add = scene.add_label_layer if spec.kind == "label" else scene.add_heatmap_layer
            add(spec.name, spec.data, ref, **spec.display)
        if not loaded.subjects:  # the scene holds them now; keep them only to show this subject again
            loaded.layers = []
        synthetic = any(d.source.metadata.get("synthetic") for d in loaded.displays)
        name = "Synthetic phantom (not patient data)" if synthetic else loaded.study.source.name
        self.setWindowTitle(f"BrainLens - {name}")
        warnings = "".join(f"<br><span style='color:#c80'>&#9888; {html.escape(w)}</span>"
                           for w in loaded.study.warnings)
        patient = study_patient([d.source.metadata for d in loaded.displays])
        who = "<br>".join(html.escape(line) for line in (*patient.patient_lines(), patient.study_line()) if line)
        self.browser.set_header(f"<b>{html.escape(name)}</b><br>{who}<br>{len(loaded.displays)} series{warnings}")
        if loaded.focus_world is not None:  # start on the lesion / labelled region, not the volume centre
            scene.set_cursor_world(loaded.focus_world)
        if source is not None:
            add_recent(self.settings, source)
            self._fill_recent()
        self.statusBar().clearMessage()
        if self.analysis.is_single_image():  # a dropped/opened PNG or JPG is classified at once
            self.analysis.classify_slice()

    # ---- status --------------------------------------------------------------------------------------
    def _on_hover(self, voxel) -> None:
        self._show_probe(voxel)

    def _show_probe(self, voxel) -> None:
        info = self.scene_model.probe(voxel)
        if not info:
            return
        i, j, k = info["source_voxel"]
        x, y, z = info["world_mm"]
        where = "Mouse" if voxel is not None else "Cursor"
        text = (f"{where}  voxel [{i}, {j}, {k}] (file grid)   RAS ({x:.1f}, {y:.1f}, {z:.1f}) mm   "
                f"value {info['value']:.6g}")
        if self.scene_model.base.source.metadata.get("format") == "image":  # no anatomy, no mm: pixels only
            text = f"{where}  pixel (x {i}, y {j})   value {info['value']:.6g}   orientation unknown"
        for name, (value, label_name) in info["labels"].items():
            if value:
                text += f"   {name}: {value} ({label_name})"
        self.info_label.setText(text)

    def _on_window_changed(self) -> None:
        self.preset_combo.blockSignals(True)
        self.preset_combo.setCurrentText(self.scene_model.preset)
        self.preset_combo.blockSignals(False)

    def _on_preset(self, name: str) -> None:
        if name in WINDOW_PRESETS:
            self.scene_model.apply_preset(name)

    # ---- drag and drop -------------------------------------------------------------------------------
    def dragEnterEvent(self, ev) -> None:  # noqa: N802
        if ev.mimeData().hasUrls() and any(u.isLocalFile() for u in ev.mimeData().urls()):
            ev.acceptProposedAction()
        else:
            ev.ignore()

    def dropEvent(self, ev) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in ev.mimeData().urls() if u.isLocalFile()]
        if not paths:
            return
        ev.acceptProposedAction()
        # one study at a time: several dropped files are read together as one study
        self.open_path(paths if len(paths) > 1 else paths[0])

    # ---- screenshots ---------------------------------------------------------------------------------
    def wait_for_load(self, timeout_ms: int = 300_000) -> bool:
        """Block (running the event loop) until the current load job has finished."""
        job = self.load_job
        if job is None or job.done:
            return True
        done = job.wait(timeout_ms)
        QApplication.processEvents()
        return done

    def save_screenshot(self, path: str | Path, whole_window: bool = False) -> Path:
        """Grab the views (or the whole window) to a PNG (written to a temp file first, then moved)."""
        return grab_to_png(self if whole_window else self.ortho, path)

    def choose_screenshot(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save screenshot", "brainlens.png", "PNG (*.png)")
        if path:
            try:
                self.save_screenshot(path)
            except OSError as exc:
                QMessageBox.warning(self, "Could not save screenshot", str(exc))
