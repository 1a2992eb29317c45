"""Brush, eraser and fill-hole on the segmentation layer, on any plane, with a circle cursor in mm.

The tool hooks into each SliceView (``view.tool``): while a brush or the eraser is active, left clicks and
drags paint instead of moving the cursor. A drag is one stroke, so one undo step (``LabelLayer.begin_stroke``
/ ``end_stroke``); the layer keeps the history, this tool only turns gestures into voxel indices.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, Signal
from PySide6.QtWidgets import QGraphicsEllipseItem

from brainlens.core.label_edit import brush_indices, fill_hole_indices
from brainlens.core.labels import ENHANCING

MODES = ("off", "brush", "eraser")


class BrushTool(QObject):
    mode_changed = Signal(str)

    def __init__(self, controller, views) -> None:
        super().__init__(controller)
        self.controller = controller
        self.mode = "off"
        self.label = ENHANCING
        self.radius_mm = 3.0
        self.views = list(views)
        self._circles: dict[str, QGraphicsEllipseItem] = {}
        for view in self.views:
            view.tool = self
            view.vb.stroke.connect(self._on_stroke)
            circle = QGraphicsEllipseItem()
            circle.setPen(pg.mkPen((255, 255, 255, 200), width=0))
            circle.setZValue(200)
            circle.setVisible(False)
            view.vb.addItem(circle, ignoreBounds=True)
            self._circles[view.plane] = circle
            view.scene().sigMouseMoved.connect(lambda pos, v=view: self._follow(v, pos))

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        self.mode = mode
        if mode == "off":
            for circle in self._circles.values():
                circle.setVisible(False)
        self.mode_changed.emit(mode)

    def _spacing(self) -> tuple[float, float, float]:
        layer = self.controller.seg_layer
        return tuple(float(s) for s in np.linalg.norm(layer.affine[:3, :3], axis=0))  # type: ignore[return-value]

    def press(self, view, point: QPointF) -> bool:
        """Paint (or erase) a disc at ``point``; False when no tool is active (the click moves the cursor)."""
        layer = self.controller.seg_layer
        if self.mode == "off":
            return False
        if layer is None or not layer.fits(self.controller.scene.base):
            self.controller.window.statusBar().showMessage("Nothing to edit: segment the tumour first", 5000)
            return True
        voxel = view.view_to_voxel(point)
        idx = brush_indices(layer.data.shape, self._spacing(), view.plane, voxel, self.radius_mm)
        layer.paint(idx, 0 if self.mode == "eraser" else self.label)
        return True

    def _on_stroke(self, starting: bool) -> None:
        layer = self.controller.seg_layer
        if self.mode == "off" or layer is None:
            return
        if starting:
            layer.begin_stroke()
        else:
            layer.end_stroke()

    def fill_hole(self) -> bool:
        """Fill the holes of the current label on the active plane's slice through the cursor (one step)."""
        layer = self.controller.seg_layer
        if layer is None:
            return False
        plane = self.controller.window.ortho.active_plane
        idx = fill_hole_indices(layer.data, plane, self.controller.scene.slice_index(plane), self.label)
        return layer.paint(idx, self.label) if idx.size else False

    def _follow(self, view, scene_pos) -> None:
        circle = self._circles[view.plane]
        if self.mode == "off" or not view.vb.sceneBoundingRect().contains(scene_pos):
            circle.setVisible(False)
            return
        p = view.vb.mapSceneToView(scene_pos)
        r = self.radius_mm
        circle.setRect(p.x() - r, p.y() - r, 2 * r, 2 * r)
        circle.setVisible(True)
