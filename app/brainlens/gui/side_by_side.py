"""Side-by-side reading: two to four series of the study in one plane (e.g. FLAIR beside T1c), linked by the
scene's world cursor (click, scroll), and by zoom and pan (through world coordinates, so series on
different grids stay aligned). Each pane keeps its own window/level; the current series follows the
toolbar's."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QMenu, QToolButton, QVBoxLayout, QWidget

from brainlens.core.geometry import PLANES
from brainlens.core.scene import PLANE_AXES, Scene, SeriesDisplay
from brainlens.core.window_level import dragged_window
from brainlens.gui.convention import apply_convention
from brainlens.gui.slice_view import SliceView

MAX_PANES = 4
SEQUENCE_ORDER = ("flair", "t1ce", "t2", "t1")  # what a tumour reader puts side by side first


class SeriesPane(SliceView):
    """A slice view pinned to one series of the study."""

    series: SeriesDisplay | None = None

    def __init__(self, scene: Scene, plane: str, series: SeriesDisplay, parent: QWidget | None = None) -> None:
        super().__init__(scene, plane, parent)
        self.series = series
        self._own_window = series.levels
        self._on_series()

    def shown(self) -> SeriesDisplay | None:
        s = self.series
        return s if s is not None and any(s is x for x in self.scene_model.series) else None

    def levels(self) -> tuple[float, float]:
        return self.scene_model.window if self.series is self.scene_model.base else self._own_window

    def _on_window_drag(self, dx: float, dy: float) -> None:
        if self.series is self.scene_model.base or self.series is None:
            super()._on_window_drag(dx, dy)
            return
        self._own_window = dragged_window(self._own_window, dy / max(self.height(), 1), dx / max(self.width(), 1),
                                          self.series.data_range, self.series.levels)
        self._on_window()

    def world_origin(self) -> tuple[float, float]:
        """World mm (along the plane's two axes) of this pane's display origin, to link pan and zoom."""
        h, v = PLANE_AXES[self.plane]
        origin = self.series.canonical.affine[:3, 3]  # type: ignore[union-attr]
        return float(origin[h]), float(origin[v])


def default_choice(series: list[SeriesDisplay]) -> list[int]:
    """Up to four image series, FLAIR / T1c / T2 / T1 first, then the rest in study order."""
    ranked = sorted(range(len(series)), key=lambda i: (
        SEQUENCE_ORDER.index(series[i].source.sequence) if series[i].source.sequence in SEQUENCE_ORDER else 9, i))
    return ranked[:MAX_PANES]


class SideBySide(QWidget):
    panes_changed = Signal()

    def __init__(self, scene: Scene, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scene_model = scene
        self.plane = "axial"
        self.chosen: list[int] = []
        self.panes: list[SeriesPane] = []
        self._linking = False
        self.radiological = True
        self.active = False  # panes exist only while the layout is on screen (hidden panes cost redraws)
        self._for_series: list[SeriesDisplay] | None = None
        self.plane_combo = QComboBox()
        self.plane_combo.addItems(PLANES)
        self.plane_combo.currentTextChanged.connect(self.set_plane)
        self.series_button = QToolButton()
        self.series_button.setText("Series...")
        self.series_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.series_button.setToolTip("Choose the series shown side by side (two to four)")
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        bar.addWidget(QLabel("Side by side:"))
        bar.addWidget(self.plane_combo)
        bar.addWidget(self.series_button)
        bar.addStretch(1)
        self._grid = QGridLayout()
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addLayout(bar)
        lay.addLayout(self._grid, 1)
        scene.series_changed.connect(self._on_series_changed)

    # ---- choice --------------------------------------------------------------------------------------
    def _on_series_changed(self) -> None:
        if self._for_series is not self.scene_model.series:  # a new study: default choice
            self._for_series = self.scene_model.series
            self.set_choice(default_choice(self.scene_model.series))

    def set_active(self, on: bool) -> None:
        if on != self.active:
            self.active = on
            self._rebuild()

    def set_plane(self, plane: str) -> None:
        if plane != self.plane:
            self.plane = plane
            self.plane_combo.setCurrentText(plane)
            self._rebuild()

    def set_choice(self, indices: list[int]) -> None:
        n = len(self.scene_model.series)
        self.chosen = [i for i in dict.fromkeys(indices) if 0 <= i < n][:MAX_PANES]
        self._fill_series_menu()
        self._rebuild()

    def _toggle(self, index: int, on: bool) -> None:
        chosen = [i for i in self.chosen if i != index] + ([index] if on else [])
        if chosen:  # at least one pane stays
            self.set_choice(chosen)

    def _fill_series_menu(self) -> None:
        menu = QMenu(self)
        for i, sd in enumerate(self.scene_model.series):
            act = menu.addAction(sd.source.name or f"Series {i + 1}")
            act.setCheckable(True)
            act.setChecked(i in self.chosen)
            act.toggled.connect(lambda on, idx=i: self._toggle(idx, on))
        self.series_button.setMenu(menu)

    # ---- panes ---------------------------------------------------------------------------------------
    def _rebuild(self) -> None:
        for pane in self.panes:
            self._grid.removeWidget(pane)
            pane.disconnect_scene()
            pane.deleteLater()
        self.panes = [SeriesPane(self.scene_model, self.plane, self.scene_model.series[i], self)
                      for i in self.chosen] if self.active else []
        cols = 2 if len(self.panes) == 4 else max(1, len(self.panes))
        for n, pane in enumerate(self.panes):
            apply_convention(pane, self.radiological)
            self._grid.addWidget(pane, n // cols, n % cols)
            pane.vb.sigRangeChanged.connect(lambda vb, rng, *_, src=pane: self._link_range(src))
        self.panes_changed.emit()

    def _link_range(self, source: SeriesPane) -> None:
        """Show the same world rectangle in every pane as in ``source`` (zoom and pan linked)."""
        if self._linking or source.shown() is None:
            return
        self._linking = True
        try:
            (x0, x1), (y0, y1) = source.vb.viewRange()
            ox, oy = source.world_origin()
            for pane in self.panes:
                if pane is source or pane.shown() is None:
                    continue
                px, py = pane.world_origin()
                pane.vb.setRange(xRange=(x0 + ox - px, x1 + ox - px), yRange=(y0 + oy - py, y1 + oy - py),
                                 padding=0)
        finally:
            self._linking = False

    def set_convention(self, radiological: bool) -> None:
        self.radiological = radiological
        for pane in self.panes:
            apply_convention(pane, radiological)

    def reset_views(self) -> None:
        for pane in self.panes:
            pane.reset_view()
        if self.panes:
            self._link_range(self.panes[0])

    def world_ranges(self) -> list[np.ndarray]:
        """Per pane, the world rectangle on show [[x0, x1], [y0, y1]] (for tests and screenshots)."""
        out = []
        for pane in self.panes:
            ox, oy = pane.world_origin()
            (x0, x1), (y0, y1) = pane.vb.viewRange()
            out.append(np.array([[x0 + ox, x1 + ox], [y0 + oy, y1 + oy]]))
        return out

    def disconnect_scene(self) -> None:
        self.scene_model.series_changed.disconnect(self._on_series_changed)
        for pane in self.panes:
            pane.disconnect_scene()

