"""The AI menu, toolbar, shortcuts, results dock, brush controls and device label, wired to the controller.

``install_ai(window)`` is the one call the main window makes; everything AI-specific lives here and in
``gui.analysis``, so ``main_window.py`` stays small.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFileDialog, QLabel, QMenu

from brainlens.core.labels import TUMOUR_LABELS
from brainlens.gui.analysis import AnalysisController
from brainlens.gui.brush import BrushTool
from brainlens.gui.export import start_export
from brainlens.gui.rano_overlay import RanoOverlay
from brainlens.gui.results_panel import ResultsPanel
from brainlens.gui.settings_dialog import SettingsDialog

PRELOAD_DELAY_MS = 1500  # after the first window is painted and a study had a chance to start loading
SHORTCUTS = {"classify_slice": "Ctrl+L", "classify_study": "Ctrl+Shift+L", "gradcam_plane": "Ctrl+Shift+G",
             "segment": "Ctrl+T", "export": "Ctrl+E",
             "brush": "B", "eraser": "E", "fill": "F", "undo": None, "redo": "Ctrl+Shift+Z",
             "toggle_mask": "M", "toggle_outline": "O", "toggle_uncertainty": "U", "toggle_cam": "G",
             "review": "N"}


def _action(window, text: str, slot, key=None, checkable: bool = False, tip: str = "") -> QAction:
    act = QAction(text, window)
    if key is not None:
        act.setShortcut(QKeySequence(key))
    act.setCheckable(checkable)
    act.setToolTip(f"{tip or text} ({QKeySequence(key).toString()})" if key is not None else (tip or text))
    act.triggered.connect(slot)
    return act


def _toggle(controller, attr: str, setting: str):
    def flip() -> None:
        layer = getattr(controller, attr)
        if layer is not None:
            layer.update(**{setting: not getattr(layer, setting)})
    return flip


def install_ai(window) -> AnalysisController:
    c = AnalysisController(window)
    c.results_panel = ResultsPanel(c)
    window._dock("Results", c.results_panel, Qt.DockWidgetArea.RightDockWidgetArea)
    c.brush = BrushTool(c, window.ortho.views.values())
    c.rano_overlay = RanoOverlay(c, window.ortho.views["axial"])
    a = {
        "classify_slice": _action(window, "Classify &slice", c.classify_slice, SHORTCUTS["classify_slice"],
                                  tip="Tumour type of the slice on show, with Grad-CAM"),
        "classify_study": _action(window, "Classify s&tudy", c.classify_study, SHORTCUTS["classify_study"],
                                  tip="Study verdict: axial slices, or the segmented tumour's slices"),
        "gradcam_plane": _action(window, "&Grad-CAM of every slice", c.gradcam_plane, SHORTCUTS["gradcam_plane"],
                                 tip="Where the classifier looks, on every slice of the active plane"),
        "segment": _action(window, "Segment &tumour", c.segment, SHORTCUTS["segment"],
                           tip="3D tumour mask, uncertainty and measurements"),
        "export": _action(window, "&Export results...", lambda: choose_export(c), SHORTCUTS["export"]),
        "settings": _action(window, "AI se&ttings...", lambda: SettingsDialog(window.settings, window).exec()),
        "brush": _action(window, "&Brush", lambda on: c.brush.set_mode("brush" if on else "off"),
                         SHORTCUTS["brush"], checkable=True, tip="Paint the chosen label"),
        "eraser": _action(window, "&Eraser", lambda on: c.brush.set_mode("eraser" if on else "off"),
                          SHORTCUTS["eraser"], checkable=True, tip="Erase labels"),
        "fill": _action(window, "&Fill hole", c.brush.fill_hole, SHORTCUTS["fill"],
                        tip="Fill holes of the chosen label on this slice"),
        "undo": _action(window, "&Undo edit", lambda: c.seg_layer is not None and c.seg_layer.undo(),
                        SHORTCUTS["undo"]),
        "redo": _action(window, "&Redo edit", lambda: c.seg_layer is not None and c.seg_layer.redo(),
                        SHORTCUTS["redo"]),
        "toggle_mask": _action(window, "Show/hide &mask", _toggle(c, "seg_layer", "visible"), SHORTCUTS["toggle_mask"]),
        "toggle_outline": _action(window, "Mask &outline", _toggle(c, "seg_layer", "outline"),
                                  SHORTCUTS["toggle_outline"]),
        "toggle_uncertainty": _action(window, "Show/hide &uncertainty", _toggle(c, "unc_layer", "visible"),
                                      SHORTCUTS["toggle_uncertainty"]),
        "toggle_cam": _action(window, "Show/hide &Grad-CAM", c.toggle_gradcam, SHORTCUTS["toggle_cam"]),
        "review": _action(window, "Review &next uncertain slice", c.results_panel.review_next, SHORTCUTS["review"]),
    }
    c.actions = a
    c.brush.mode_changed.connect(lambda mode: (a["brush"].setChecked(mode == "brush"),
                                               a["eraser"].setChecked(mode == "eraser")))
    menu = QMenu("&AI", window)
    for key in ("classify_slice", "classify_study", "gradcam_plane", "segment", None, "review", "toggle_mask",
                "toggle_outline", "toggle_uncertainty", "toggle_cam", None, "export", "settings"):
        menu.addSeparator() if key is None else menu.addAction(a[key])
    edit = QMenu("&Edit mask", window)
    for key in ("brush", "eraser", "fill", None, "undo", "redo"):
        edit.addSeparator() if key is None else edit.addAction(a[key])
    window.menuBar().insertMenu(window.help_menu.menuAction(), menu)
    window.menuBar().insertMenu(window.help_menu.menuAction(), edit)
    tb = window.addToolBar("AI")
    tb.setObjectName("toolbar_ai")
    for key in ("classify_slice", "classify_study", "segment", "export"):
        tb.addAction(a[key])
    tb.addSeparator()
    tb.addAction(a["brush"])
    tb.addAction(a["eraser"])
    c.label_combo = QComboBox()
    for lab in TUMOUR_LABELS:
        c.label_combo.addItem(lab.name, lab.value)
    c.label_combo.setCurrentIndex(len(TUMOUR_LABELS) - 1)
    c.label_combo.currentIndexChanged.connect(lambda i: setattr(c.brush, "label", int(c.label_combo.itemData(i))))
    tb.addWidget(c.label_combo)
    c.size_spin = QDoubleSpinBox()
    c.size_spin.setRange(0.5, 50.0)
    c.size_spin.setValue(c.brush.radius_mm)
    c.size_spin.setSuffix(" mm")
    c.size_spin.setToolTip("Brush radius (millimetres)")
    c.size_spin.valueChanged.connect(lambda v: setattr(c.brush, "radius_mm", float(v)))
    tb.addWidget(c.size_spin)
    tb.addAction(a["fill"])
    device = QLabel(f"AI device: {c.device} (not started)")
    device.setToolTip("Where the models run (AI > AI settings)")
    window.statusBar().addPermanentWidget(device)
    c.device_changed.connect(lambda text: device.setText(f"AI device: {text}"))
    c.device_label = device
    # interactive: start the AI process and load the models before the first Segment (tests set
    # BRAINLENS_NO_PRELOAD)
    if window.show_dialogs and not os.environ.get("BRAINLENS_NO_PRELOAD"):
        QTimer.singleShot(PRELOAD_DELAY_MS, c.preload)
    return c


def choose_export(controller) -> None:
    start = str(controller.settings.value("paths/export_dir", str(Path.home())))
    folder = QFileDialog.getExistingDirectory(controller.window, "Export results to folder", start)
    if folder:
        controller.settings.setValue("paths/export_dir", folder)
        start_export(controller, Path(folder))
