"""The reader's tools, installed into the main window in one place: measurements (panel, drawing tools,
Edit > Undo), Load overlay, numeric window/level, DICOM tags, radiological / neurological display, the
subject picker of a multi-subject folder, and the View > Panels menu that brings closed docks back."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMainWindow

from brainlens.core.annotations import AnnotationStore
from brainlens.core.scene import LabelLayer
from brainlens.gui.convention import NEUROLOGICAL, RADIOLOGICAL
from brainlens.gui.measure_panel import MeasurePanel
from brainlens.gui.measure_tools import MeasureTools
from brainlens.gui.overlay_loader import OverlayLoader
from brainlens.gui.subject_picker import SubjectPicker
from brainlens.gui.tag_viewer import TagViewer
from brainlens.gui.undo_history import UndoHistory
from brainlens.gui.window_controls import WindowControls
from brainlens.jobs.tasks import LoadedStudy


class ReadingRoom:
    """Owned by the main window (``window.reading``); the window calls ``study_shown`` after each study."""

    def __init__(self, window: QMainWindow) -> None:
        w = self.window = window
        scene = w.scene_model
        self.history = UndoHistory(w)
        self.annotations = AnnotationStore()
        self.measure_tools = MeasureTools(scene, self.annotations, w.ortho.views)
        self.measure_panel = MeasurePanel(scene, self.annotations, self.measure_tools, self.history)
        self.overlays = OverlayLoader(w, w.runner)
        self.window_controls = WindowControls(scene)
        self.subject_picker = SubjectPicker(lambda one: w._show_study(one, None))
        w.browser.layout().insertWidget(0, self.subject_picker)
        w.layer_panel.remove_layer = self.remove_layer
        scene.layers_changed.connect(self._follow_mask_edits)
        measure_dock = w._dock("Measurements", self.measure_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.docks = [*w.docks, measure_dock]
        w.tabifyDockWidget(w.docks[-1], measure_dock)  # beside Layers: both get the full height at 1024 x 700
        w.docks[-1].raise_()
        self._install_actions()

    def _install_actions(self) -> None:
        w = self.window
        self.act_overlay = w._action("Load o&verlay...", self.overlays.choose, "Ctrl+Alt+O")
        self.act_undo = w._action("&Undo", self.history.undo, QKeySequence.StandardKey.Undo)
        self.act_tags = w._action("DICOM &tags...", self.show_tags, "Ctrl+I")
        self.act_neuro = w._action("&Neurological display (R on right)", self.set_neurological, "Ctrl+N",
                                   checkable=True)
        w.file_menu.insertAction(w.act_demo, self.act_overlay)
        edit = w.menuBar().addMenu("&Edit")
        w.menuBar().insertMenu(w.view_menu.menuAction(), edit)
        edit.addAction(self.act_undo)
        w.view_menu.addAction(self.act_neuro)
        w.view_menu.addAction(self.act_tags)
        w.view_menu.addSeparator()
        self.panels_menu = w.view_menu.addMenu("&Panels")  # a closed dock comes back from here
        for dock in self.docks:
            self.panels_menu.addAction(dock.toggleViewAction())
        w.toolbar.insertWidget(w.act_reset, self.window_controls)
        self.history.changed.connect(self._on_history)
        self._on_history()

    # ---- what the window calls -------------------------------------------------------------------------
    def study_shown(self, loaded: LoadedStudy, sibling: bool) -> None:
        """Measurements and undo steps belong to what was opened (all its subjects, if several)."""
        if not sibling:
            self.annotations.clear()
            self.history.clear()
        self.subject_picker.set_current(loaded)

    def disconnect_scene(self) -> None:
        self.window_controls.disconnect_scene()
        self.measure_tools.disconnect_scene()

    # ---- actions -----------------------------------------------------------------------------------------
    def _on_history(self) -> None:
        self.act_undo.setText(self.history.next_text())
        self.act_undo.setEnabled(self.history.next_text() != "&Undo")

    def _follow_mask_edits(self) -> None:
        """Mask edits (brush strokes, fills) join the one Edit > Undo (Ctrl+Z), in the order they happened."""
        for layer in self.window.scene_model.layers:
            if isinstance(layer, LabelLayer):
                layer.stepped.connect(self._on_mask_step)

    def _on_mask_step(self, layer: LabelLayer) -> None:
        self.history.push(f"edit of {layer.name}", layer.undo)

    def remove_layer(self, layer) -> None:
        """The layer panel's remove button: undoable (Edit > Undo puts the layer back where it was)."""
        scene = self.window.scene_model
        index = scene.remove_layer(layer)
        self.history.push(f"remove layer {layer.name}", lambda: scene.insert_layer(index, layer))

    def set_neurological(self, on: bool) -> None:
        self.window.ortho.set_convention(not on)
        self.window.convention_label.setText(f"Display: {NEUROLOGICAL if on else RADIOLOGICAL}")
        self.act_neuro.setChecked(on)

    def show_tags(self) -> TagViewer:
        """The searchable DICOM header of the series on show (non-modal: it can stay open while reading)."""
        dialog = TagViewer(self.window.scene_model.base, self.window)
        dialog.show()
        return dialog
