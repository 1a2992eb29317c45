"""Measurements panel: choose the tool (navigate, ruler, ellipse, free-hand), list the study's measurements
with their figures, go to one, delete one; adding and deleting are undoable (Edit > Undo)."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from brainlens.core.annotations import Annotation, AnnotationStore
from brainlens.core.geometry import PLANE_NORMAL_AXIS
from brainlens.core.scene import PLANE_AXES, Scene
from brainlens.gui.measure_tools import MeasureTools
from brainlens.gui.undo_history import UndoHistory

TOOLS = (("Navigate", None), ("Ruler", "ruler"), ("Ellipse", "ellipse"), ("Free-hand", "freehand"))


class MeasurePanel(QWidget):
    def __init__(self, scene: Scene, store: AnnotationStore, tools: MeasureTools, history: UndoHistory,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scene_model, self.store, self.tools, self.history = scene, store, tools, history
        tools.on_added = lambda ann: history.push(f"add {ann.name}", lambda: self._take_back(ann))
        self.tool_buttons: dict[str | None, QToolButton] = {}
        group = QButtonGroup(self)
        row = QHBoxLayout()
        row.setSpacing(2)
        for text, kind in TOOLS:
            button = QToolButton()
            button.setText(text)
            button.setCheckable(True)
            button.setToolTip("Left-drag in a view to draw" if kind else "Left-click / drag moves the cursor")
            button.toggled.connect(lambda on, k=kind: on and self.tools.set_tool(k))
            group.addButton(button)
            row.addWidget(button)
            self.tool_buttons[kind] = button
        self.tool_buttons[None].setChecked(True)
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.itemDoubleClicked.connect(lambda _item: self.go_to_selected())
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self.delete_selected)
        self.go_button = QPushButton("Go to")
        self.go_button.clicked.connect(self.go_to_selected)
        actions = QHBoxLayout()
        actions.addWidget(self.go_button)
        actions.addWidget(self.delete_button)
        actions.addStretch(1)
        hint = QLabel("Measurements stay with the study while it is open.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: gray;")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(row)
        lay.addWidget(self.list, 1)
        lay.addLayout(actions)
        lay.addWidget(hint)
        store.changed.connect(self.rebuild)
        self.rebuild()

    def rebuild(self) -> None:
        self.list.clear()
        for ann in self.store.items:
            self.list.addItem(ann.summary())
        self.delete_button.setEnabled(bool(self.store.items))
        self.go_button.setEnabled(bool(self.store.items))

    def selected(self) -> Annotation | None:
        row = self.list.currentRow()
        return self.store.items[row] if 0 <= row < len(self.store.items) else None

    def delete_selected(self) -> None:
        ann = self.selected()
        if ann is None:
            return
        index = self.store.remove(ann)
        self.history.push(f"delete {ann.name}", lambda: self.store.insert(index, ann))

    def _take_back(self, ann: Annotation) -> None:
        if ann in self.store.items:
            self.store.remove(ann)

    def go_to_selected(self) -> None:
        """Show the measurement's series and move the cursor to its slice, at its centre."""
        ann = self.selected()
        if ann is None or ann.series not in self.scene_model.series:
            return
        index = self.scene_model.series.index(ann.series)
        if index != self.scene_model.current:
            self.scene_model.show_series(index)
        voxel = np.zeros(3)
        h, v = PLANE_AXES[ann.plane]
        voxel[h], voxel[v] = ann.points.mean(axis=0)
        voxel[PLANE_NORMAL_AXIS[ann.plane]] = ann.slice_index
        self.scene_model.set_cursor_voxel(voxel)
