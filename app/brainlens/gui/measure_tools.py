"""Ruler and ROI tools on the slice views: a left-drag draws while a tool is chosen (Shift+drag still pans),
and every view draws the study's measurements that lie on its current slice."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt

from brainlens.core.annotations import Annotation, AnnotationStore
from brainlens.core.scene import Scene
from brainlens.gui.slice_view import SliceView

_PEN = pg.mkPen((80, 200, 255), width=2)
_DRAFT_PEN = pg.mkPen((255, 255, 255), width=1, style=Qt.PenStyle.DashLine)
MIN_DRAG_VOXELS = 0.5  # shorter drags are clicks, not measurements


class MeasureTools:
    """Owns the current tool (None = navigate) and the drawn items of every view."""

    def __init__(self, scene: Scene, store: AnnotationStore, views: dict[str, SliceView],
                 on_added: Callable[[Annotation], None] | None = None) -> None:
        self.scene_model, self.store, self.views = scene, store, views
        self.tool: str | None = None
        self.on_added = on_added
        self._items: dict[str, list[pg.GraphicsObject]] = {p: [] for p in views}
        self._shown: dict[str, tuple] = {}
        self._draft: list[np.ndarray] = []
        self._draft_item: pg.PlotCurveItem | None = None
        for view in views.values():
            view.vb.tool_handler = lambda ev, v=view: self._drag(v, ev)
        scene.cursor_changed.connect(self.refresh)
        scene.series_changed.connect(self.refresh)
        store.changed.connect(lambda: self.refresh(force=True))

    def set_tool(self, kind: str | None) -> None:
        self.tool = kind
        cursor = Qt.CursorShape.ArrowCursor if kind is None else Qt.CursorShape.CrossCursor
        for view in self.views.values():
            view.viewport().setCursor(cursor)

    # ---- drawing a new measurement ---------------------------------------------------------------------
    @staticmethod
    def _voxel(view: SliceView, point: QPointF) -> np.ndarray:
        sp = view._spacing()
        return np.array([point.x() / sp[0], point.y() / sp[1]])

    def _drag(self, view: SliceView, ev) -> bool:
        shift = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if self.tool is None or self.scene_model.base is None or shift or ev.button() != Qt.MouseButton.LeftButton:
            return False
        ev.accept()
        here = self._voxel(view, view.vb.mapToView(ev.pos()))
        if ev.isStart():
            self._draft = [self._voxel(view, view.vb.mapToView(ev.buttonDownPos())), here]
        elif self.tool == "freehand":
            self._draft.append(here)
        else:
            self._draft[-1] = here
        self._draw_draft(view)
        if ev.isFinish():
            self.finish(view, np.array(self._draft))
        return True

    def _draft_outline(self, view: SliceView) -> np.ndarray:
        ann = Annotation(self.tool, view.plane, 0, np.array(self._draft), self.scene_model.base)  # type: ignore
        return ann.outline()

    def _draw_draft(self, view: SliceView) -> None:
        if self._draft_item is None:
            self._draft_item = pg.PlotCurveItem(pen=_DRAFT_PEN)
            self._draft_item.setZValue(200)
        if self._draft_item.getViewBox() is not view.vb:
            if self._draft_item.getViewBox() is not None:
                self._draft_item.getViewBox().removeItem(self._draft_item)
            view.vb.addItem(self._draft_item, ignoreBounds=True)
        mm = self._draft_outline(view) * view._spacing()
        self._draft_item.setData(mm[:, 0], mm[:, 1])

    def finish(self, view: SliceView, points: np.ndarray) -> Annotation | None:
        """Store the measurement drawn in ``view`` (voxel points); too small a gesture is dropped."""
        if self._draft_item is not None and self._draft_item.getViewBox() is not None:
            self._draft_item.getViewBox().removeItem(self._draft_item)
        self._draft = []
        span = np.ptp(points, axis=0) if len(points) else np.zeros(2)
        if self.tool is None or float(np.max(span)) < MIN_DRAG_VOXELS:
            return None
        ann = Annotation(self.tool, view.plane, self.scene_model.slice_index(view.plane), points,
                         self.scene_model.base)  # type: ignore[arg-type]
        self.store.add(ann)
        if self.on_added is not None:
            self.on_added(ann)
        return ann

    # ---- showing the stored ones ------------------------------------------------------------------------
    def refresh(self, force: bool = False) -> None:
        for plane, view in self.views.items():
            base = self.scene_model.base
            key = (id(base), self.scene_model.slice_index(plane) if base is not None else -1)
            if force or self._shown.get(plane) != key:
                self._shown[plane] = key
                self._redraw(plane, view)

    def _redraw(self, plane: str, view: SliceView) -> None:
        for item in self._items[plane]:
            view.vb.removeItem(item)
        self._items[plane] = []
        base = self.scene_model.base
        if base is None:
            return
        sp = view._spacing()
        for ann in self.store.on_slice(base, plane, self.scene_model.slice_index(plane)):
            mm = ann.outline() * sp
            curve = pg.PlotCurveItem(mm[:, 0], mm[:, 1], pen=_PEN)
            curve.setZValue(150)
            label = pg.TextItem(ann.short_label(), color=(80, 200, 255), anchor=(0.5, 1))
            top = mm[np.argmax(mm[:, 1])]
            label.setPos(float(mm[:, 0].mean()) if ann.kind != "ruler" else float(top[0]), float(top[1]))
            label.setZValue(151)
            for item in (curve, label):
                view.vb.addItem(item, ignoreBounds=True)
                self._items[plane].append(item)

    def items_on(self, plane: str) -> list[pg.GraphicsObject]:
        return list(self._items[plane])

    def disconnect_scene(self) -> None:
        self.scene_model.cursor_changed.disconnect(self.refresh)
        self.scene_model.series_changed.disconnect(self.refresh)

