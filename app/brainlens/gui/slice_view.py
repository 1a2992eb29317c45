"""One plane (axial, coronal or sagittal) of the scene: image + one ImageItem per layer + crosshair.

Display space is the canonical RAS voxel grid scaled by the voxel spacing (mm), so aspect is physical.
Convention: RADIOLOGICAL -- the patient's right is on the screen's left in axial and coronal views;
sagittal views have anterior on the left. Up is anterior (axial) or superior (coronal, sagittal).

Mouse: left click/drag moves the shared cursor, wheel scrolls slices (Ctrl+wheel zooms), middle-drag
or Shift+left-drag pans, right-drag changes window/level. Keys: see gui.view_keys.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtWidgets import QGraphicsView, QLabel, QWidget

from brainlens.core.colors import colormap_lut
from brainlens.core.geometry import PLANE_NORMAL_AXIS
from brainlens.core.patient import view_banner
from brainlens.core.scene import PLANE_AXES, HeatmapLayer, LabelLayer, Layer, Scene, SeriesDisplay
from brainlens.core.window_level import display_bytes
from brainlens.gui.plane_image import PlaneImage
from brainlens.gui.view_corners import ViewCorners
from brainlens.gui.view_keys import handle_key

# screen letters (left, right, top, bottom) per plane for the radiological convention
ORIENTATION_LETTERS = {
    "axial": ("R", "L", "A", "P"),
    "coronal": ("R", "L", "S", "I"),
    "sagittal": ("A", "P", "S", "I"),
}
CONVENTION = "radiological (R on left)"
ORIENTATION_UNKNOWN = "orientation unknown"
_GREY = colormap_lut("gray")


def label_outline(sl: np.ndarray) -> np.ndarray:
    """Keep only label pixels that touch a different value (4-neighbourhood), for outline mode."""
    edge = np.zeros(sl.shape, dtype=bool)
    edge[1:, :] |= sl[1:, :] != sl[:-1, :]
    edge[:-1, :] |= sl[:-1, :] != sl[1:, :]
    edge[:, 1:] |= sl[:, 1:] != sl[:, :-1]
    edge[:, :-1] |= sl[:, :-1] != sl[:, 1:]
    return np.where(edge, sl, 0).astype(np.uint8)


class _PlaneViewBox(pg.ViewBox):
    """ViewBox whose mouse gestures drive the scene instead of pyqtgraph's defaults."""

    clicked = Signal(QPointF)  # view (mm) coordinates
    scrolled = Signal(int)
    window_dragged = Signal(float, float)  # screen pixels dx, dy
    stroke = Signal(bool)  # a left drag started (True) / ended (False): one brush stroke

    def __init__(self) -> None:
        super().__init__(lockAspect=True, enableMenu=False, invertX=True)
        self.tool_handler = None  # a drawing tool (ruler, ROI) takes left-drags first when it returns True

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 -- pyqtgraph API
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.clicked.emit(self.mapToView(ev.pos()))
        else:
            ev.ignore()

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802
        if self.tool_handler is not None and self.tool_handler(ev):
            return
        button = ev.button()
        shift = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if button == Qt.MouseButton.LeftButton and shift:  # pan without a middle button (trackpads)
            super().mouseDragEvent(ev, axis)
        elif button == Qt.MouseButton.LeftButton:
            ev.accept()
            if ev.isStart():
                self.stroke.emit(True)
            self.clicked.emit(self.mapToView(ev.pos()))
            if ev.isFinish():
                self.stroke.emit(False)
        elif button == Qt.MouseButton.RightButton:
            ev.accept()
            delta = ev.screenPos() - ev.lastScreenPos()
            self.window_dragged.emit(float(delta.x()), float(delta.y()))
        else:  # middle button: pyqtgraph's pan
            super().mouseDragEvent(ev, axis)

    def wheelEvent(self, ev, axis=None) -> None:  # noqa: N802
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(ev, axis)
            return
        ev.accept()
        delta = ev.delta() if hasattr(ev, "delta") else ev.angleDelta().y()
        if delta:
            self.scrolled.emit(1 if delta > 0 else -1)


class SliceView(pg.GraphicsView):
    """Shows one plane of ``scene``; listens to the scene and writes user gestures back to it."""

    activated = Signal(str)  # this plane took focus or a click
    hovered = Signal(object)  # canonical voxel (np.ndarray) under the mouse, or None
    cine_key = Signal()  # Space in this view: start / stop cine (the ortho view owns the player)

    def __init__(self, scene: Scene, plane: str, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="k")
        self.scene_model = scene
        self.plane = plane
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(160, 160)
        # minimal updates left stale bits of the moved crosshair in the margins; a slice view is cheap to
        # repaint whole
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.vb = _PlaneViewBox()
        self.setCentralItem(self.vb)
        self.image = PlaneImage()
        self.image.setLookupTable(_GREY)
        self.vb.addItem(self.image)
        self._layer_items: dict[int, tuple[Layer, PlaneImage]] = {}
        pen = pg.mkPen((90, 230, 120, 170), width=1)
        self.vline = pg.InfiniteLine(angle=90, movable=False, pen=pen)
        self.hline = pg.InfiniteLine(angle=0, movable=False, pen=pen)
        for line in (self.vline, self.hline):
            line.setZValue(100)
            self.vb.addItem(line, ignoreBounds=True)
        self._slice_index: int | None = None
        self._drawn_window: tuple[float, float] = (0.0, 1.0)
        self.tool = None  # an editing tool (gui.brush.BrushTool) that may take left clicks instead of the cursor
        self._inverted = False
        self.letter_texts = ORIENTATION_LETTERS[plane]  # left, right, top, bottom (see gui.convention)
        self._letters = [self._overlay_label(t) for t in self.letter_texts]
        self.corners = ViewCorners(self)  # patient / study / plane+slice; the title is its bottom-left
        self.vb.clicked.connect(self._on_click)
        self.vb.scrolled.connect(lambda step: self._scroll(step))
        self.vb.window_dragged.connect(self._on_window_drag)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        scene.series_changed.connect(self._on_series)
        scene.cursor_changed.connect(self._on_cursor)
        scene.window_changed.connect(self._on_window)
        scene.layers_changed.connect(self._on_layers)
        self._on_series()  # a view created after a study was opened starts from the scene's state

    # ---- overlays ------------------------------------------------------------------------------------
    def _overlay_label(self, text: str, bold: bool = True) -> QLabel:
        label = QLabel(text, self)
        weight = "bold" if bold else "normal"
        label.setStyleSheet(f"color: #ffd54a; font-weight: {weight}; font-size: 13px; background: transparent;")
        label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        label.adjustSize()
        return label

    def letters(self) -> tuple[str, str, str, str]:
        return tuple(lbl.text() for lbl in self._letters)  # type: ignore[return-value]

    def resizeEvent(self, ev) -> None:  # noqa: N802
        super().resizeEvent(ev)
        if hasattr(self, "corners"):  # pyqtgraph calls this from its own __init__
            self._place_overlays()

    def _place_overlays(self) -> None:
        w, h = self.width(), self.height()
        left, right, top, bottom = self._letters
        m = 6
        left.move(m, (h - left.height()) // 2)
        right.move(w - right.width() - m, (h - right.height()) // 2)
        top.move((w - top.width()) // 2, m)
        bottom.move((w - bottom.width()) // 2, h - bottom.height() - m)
        self.corners.place((top.width() if top.text() else 0, bottom.width() if bottom.text() else 0))

    # ---- what is shown (a side-by-side pane pins its own series and window) ----------------------------
    def shown(self) -> SeriesDisplay | None:
        return self.scene_model.base

    def levels(self) -> tuple[float, float]:
        return self.scene_model.window

    def cursor_voxel(self) -> np.ndarray:
        """The world cursor as (float) canonical voxel coordinates of the series shown."""
        aff = self.shown().canonical.affine  # type: ignore[union-attr]
        return (np.linalg.inv(aff) @ np.append(self.scene_model.cursor_world, 1.0))[:3]

    def voxel_to_world(self, voxel: np.ndarray) -> np.ndarray:
        return (self.shown().canonical.affine @ np.append(voxel, 1.0))[:3]  # type: ignore[union-attr]

    # ---- geometry ------------------------------------------------------------------------------------
    def _spacing(self) -> tuple[float, float]:
        sp = self.shown().canonical.spacing  # type: ignore[union-attr]
        h, v = PLANE_AXES[self.plane]
        return sp[h], sp[v]

    def _rect(self, shape2d: tuple[int, int]) -> QRectF:
        sh, sv = self._spacing()
        return QRectF(-sh / 2, -sv / 2, shape2d[0] * sh, shape2d[1] * sv)

    def view_to_voxel(self, point: QPointF) -> np.ndarray:
        """Canonical voxel coordinates (float) of a point in this view; the slice axis is the cursor's."""
        v = self.cursor_voxel()
        sh, sv = self._spacing()
        h, vert = PLANE_AXES[self.plane]
        v[h], v[vert] = point.x() / sh, point.y() / sv
        return v

    # ---- scene listeners -----------------------------------------------------------------------------
    def orientation_known(self) -> bool:
        """False for plain 2D pictures (PNG/JPG): their axes and pixel size are not anatomical facts."""
        base = self.shown()
        return base is None or base.source.metadata.get("format") != "image"

    def _refresh_annotations(self) -> None:
        """Letters, patient banner and crosshair follow what is on show (nothing at all when empty)."""
        base = self.shown()
        known = self.orientation_known()
        for label, text in zip(self._letters, self.letter_texts):
            label.setText(text if base is not None and known else "")
            label.adjustSize()
        left, right = view_banner(base.source.metadata, base.source.name) if base is not None else ("", "")
        self.corners.set_text("top_left", left)
        self.corners.set_text("top_right", right)
        self.corners.set_text("bottom_right", "" if known else f"{ORIENTATION_UNKNOWN}\nunits: pixels")
        if base is None:
            self.corners.set_text("bottom_left", "")
        for line in (self.vline, self.hline):
            line.setVisible(base is not None)
        self._place_overlays()

    def _on_series(self) -> None:
        self._slice_index = None
        self._on_layers()
        self._refresh_annotations()
        if self.shown() is None:
            self.image.clear()
            return
        self._on_window()
        self._on_cursor()
        self.reset_view()

    def reset_view(self) -> None:
        if self.shown() is not None:
            self.vb.autoRange(items=[self.image], padding=0.02)

    def _on_window(self) -> None:
        if self.scene_model.inverted != self._inverted:
            self._inverted = self.scene_model.inverted
            self.image.setLookupTable(_GREY[::-1] if self._inverted else _GREY)
        if self.shown() is not None and self._slice_index is not None:
            self._redraw_base()

    def _on_cursor(self) -> None:
        base = self.shown()
        if base is None:
            return
        v = np.clip(np.round(self.cursor_voxel()), 0, np.array(base.canonical.shape) - 1)
        idx = int(v[PLANE_NORMAL_AXIS[self.plane]])
        if idx != self._slice_index:
            self._slice_index = idx
            self._redraw_slice()
        h, vert = PLANE_AXES[self.plane]
        sh, sv = self._spacing()
        self.vline.setPos(v[h] * sh)
        self.hline.setPos(v[vert] * sv)
        n = base.canonical.shape[PLANE_NORMAL_AXIS[self.plane]]
        title = f"{self.plane.capitalize()}  {idx + 1}/{n}" if self.orientation_known() else "2D image"
        if title != self.corners.text("bottom_left"):
            self.corners.set_text("bottom_left", title, short=f"{self.plane[:3].capitalize()} {idx + 1}/{n}")
            bottom = self._letters[3]
            self.corners.place((0, bottom.width() if bottom.text() else 0), only="bottom_left")

    def _slice(self, arr: np.ndarray) -> np.ndarray:
        """A view of the plane (no copy: the renderer reads it once, through its lookup table)."""
        index: list = [slice(None)] * 3
        index[PLANE_NORMAL_AXIS[self.plane]] = self._slice_index or 0
        return arr[tuple(index)]

    def _redraw_slice(self) -> None:
        if self._redraw_base():
            for layer, item in self._layer_items.values():
                self._draw_layer(layer, item)

    def _redraw_base(self) -> bool:
        """Window the plane to bytes here (the renderer then only looks them up) and show it."""
        base = self.shown()
        if base is None:
            return False
        sl = self._slice(base.canonical.data)
        self._drawn_window = self.levels()
        self.image.setImage(display_bytes(sl, *self._drawn_window))
        self.image.setRect(self._rect(sl.shape))
        return True

    def shown_window(self) -> tuple[float, float]:
        """The window (low, high) the grey image on show was drawn with."""
        return self._drawn_window

    @staticmethod
    def _style_layer(layer: Layer, item: PlaneImage) -> None:
        """Display state that does not depend on the slice: set when the layer changes, not per slice."""
        item.setVisible(layer.visible)
        item.setOpacity(layer.opacity)
        item.setLookupTable(layer.lut())  # type: ignore[attr-defined]

    def _draw_layer(self, layer: Layer, item: PlaneImage) -> None:
        if not layer.visible:  # hidden layers are not sliced; showing one redraws it
            return
        sl = self._slice(layer.data)
        if isinstance(layer, LabelLayer):  # label values index the lookup table directly
            shown = label_outline(sl) if layer.outline else np.asfortranarray(sl)
        else:  # a heatmap's levels run from its threshold (transparent) to its maximum
            shown = display_bytes(sl, *layer.levels)  # type: ignore[attr-defined]
        item.setImage(shown)
        item.setRect(self._rect(sl.shape))

    def _on_layers(self) -> None:
        for layer, item in self._layer_items.values():
            layer.changed.disconnect(self._on_layer_changed)
            self.vb.removeItem(item)
        self._layer_items.clear()
        base = self.shown()
        for z, layer in enumerate(self.scene_model.layers):
            if not isinstance(layer, (LabelLayer, HeatmapLayer)) or not layer.fits(base):
                continue
            item = PlaneImage()
            item.setZValue(10 + z)
            self.vb.addItem(item)
            self._layer_items[id(layer)] = (layer, item)
            layer.changed.connect(self._on_layer_changed)
            self._style_layer(layer, item)
            if self._slice_index is not None:
                self._draw_layer(layer, item)

    def _on_layer_changed(self, layer: Layer) -> None:
        entry = self._layer_items.get(id(layer))
        if entry is not None:
            self._style_layer(*entry)
            if self._slice_index is not None:
                self._draw_layer(*entry)

    # ---- user gestures -------------------------------------------------------------------------------
    def _on_click(self, point: QPointF) -> None:
        if self.shown() is None:
            return
        self.activated.emit(self.plane)
        if self.tool is not None and self.tool.press(self, point):
            return
        self.scene_model.set_cursor_world(self.voxel_to_world(self.view_to_voxel(point)))

    def _scroll(self, step: int) -> None:
        """Whole slices of the series shown (its own spacing, also in a side-by-side pane)."""
        if self.shown() is None:
            return
        self.activated.emit(self.plane)
        v = self.cursor_voxel()
        axis = PLANE_NORMAL_AXIS[self.plane]
        v[axis] = np.clip(np.round(v[axis]) + step, 0, self.shown().canonical.shape[axis] - 1)  # type: ignore
        self.scene_model.set_cursor_world(self.voxel_to_world(v))

    def _on_window_drag(self, dx: float, dy: float) -> None:
        # right/left widens/narrows the window, down/up darkens/brightens (centre moves up/down)
        # a drag across the whole view moves by one robust intensity range (scene clamps to the data)
        self.scene_model.adjust_window(dy / max(self.height(), 1), dx / max(self.width(), 1))

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        if (self.scene_model.base is None or self.shown() is not self.scene_model.base
                or not self.vb.sceneBoundingRect().contains(scene_pos)):
            self.hovered.emit(None)  # the status bar probes the current series only
            return
        v = np.round(self.view_to_voxel(self.vb.mapSceneToView(scene_pos))).astype(int)
        shape = np.array(self.scene_model.base.canonical.shape)
        self.hovered.emit(v if np.all((v >= 0) & (v < shape)) else None)

    def keyPressEvent(self, ev) -> None:  # noqa: N802
        if not handle_key(self, ev.key()):  # slices, pages, first/last, zoom (gui.view_keys)
            super().keyPressEvent(ev)

    def focusInEvent(self, ev) -> None:  # noqa: N802
        super().focusInEvent(ev)
        self.activated.emit(self.plane)

    def leaveEvent(self, ev) -> None:  # noqa: N802
        super().leaveEvent(ev)
        self.hovered.emit(None)

    def disconnect_scene(self) -> None:
        """Stop listening (the window is closing); the scene may outlive this view in tests."""
        s = self.scene_model
        s.series_changed.disconnect(self._on_series)
        s.cursor_changed.disconnect(self._on_cursor)
        s.window_changed.disconnect(self._on_window)
        s.layers_changed.disconnect(self._on_layers)
