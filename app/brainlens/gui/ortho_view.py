"""Three linked slice views (axial, coronal, sagittal) or one of them alone, plus cine playback."""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QGridLayout, QWidget

from brainlens.core.geometry import PLANE_NORMAL_AXIS, PLANES
from brainlens.core.scene import Scene
from brainlens.gui.convention import apply_convention
from brainlens.gui.side_by_side import SideBySide
from brainlens.gui.slice_view import SliceView

SIDE_BY_SIDE = "side by side"
LAYOUTS = ("ortho", "axial", "coronal", "sagittal", SIDE_BY_SIDE)


class OrthoView(QWidget):
    """Owns one SliceView per plane; the scene's single cursor links them."""

    layout_changed = Signal(str)
    cine_changed = Signal(bool)

    def __init__(self, scene: Scene, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scene_model = scene
        self.views = {plane: SliceView(scene, plane, self) for plane in PLANES}
        self.side = SideBySide(scene, self)  # two or more series in one plane, linked
        self.side.hide()
        self.radiological = True
        self.active_plane = "axial"
        for view in self.views.values():
            view.activated.connect(self._set_active)
            view.cine_key.connect(lambda: self.set_cine(not self.cine_running))
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(2)
        self.mode = ""
        self.preferred = "ortho"  # what the user chose; a single-slice image overrides it while shown
        self.set_layout_mode("ortho")
        scene.series_changed.connect(self._fit_layout_to_series)
        self._cine = QTimer(self)
        self._cine.setInterval(100)
        self._cine.timeout.connect(self._cine_step)

    def _set_active(self, plane: str) -> None:
        self.active_plane = plane

    def set_layout_mode(self, mode: str) -> None:
        """``ortho``: axial large on the left, coronal and sagittal stacked; otherwise one plane."""
        if mode not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}")
        self.preferred = mode
        self._apply_mode(self.flat_plane() or mode)

    def flat_plane(self) -> str | None:
        """The only plane worth showing when the series is a single slice (a 2D image), else None."""
        base = self.scene_model.base
        if base is None:
            return None
        for plane in PLANES:
            if base.canonical.shape[PLANE_NORMAL_AXIS[plane]] == 1:
                return plane
        return None

    def _fit_layout_to_series(self) -> None:
        self._apply_mode(self.flat_plane() or self.preferred)

    def _apply_mode(self, mode: str) -> None:
        if mode == self.mode:
            return
        for view in [*self.views.values(), self.side]:
            self._grid.removeWidget(view)
            view.hide()
        self.side.set_active(mode == SIDE_BY_SIDE)
        if mode == SIDE_BY_SIDE:
            self.side.set_plane(self.active_plane)
            self._grid.addWidget(self.side, 0, 0, 2, 2)
            self._grid.setColumnStretch(0, 1)
            self._grid.setColumnStretch(1, 0)
            self.side.show()
            shown = []
        elif mode == "ortho":
            self._grid.addWidget(self.views["axial"], 0, 0, 2, 1)
            self._grid.addWidget(self.views["coronal"], 0, 1)
            self._grid.addWidget(self.views["sagittal"], 1, 1)
            self._grid.setColumnStretch(0, 3)
            self._grid.setColumnStretch(1, 2)
            shown = list(PLANES)
        else:
            self._grid.addWidget(self.views[mode], 0, 0)
            self._grid.setColumnStretch(0, 1)
            self._grid.setColumnStretch(1, 0)
            shown = [mode]
            self.active_plane = mode
        for plane in shown:
            self.views[plane].show()
        self.mode = mode
        self.reset_views()
        self.layout_changed.emit(mode)

    def set_convention(self, radiological: bool) -> None:
        """Radiological (R on the left) or neurological (R on the right) for every axial / coronal view."""
        self.radiological = radiological
        for view in self.views.values():
            apply_convention(view, radiological)
        self.side.set_convention(radiological)

    def reset_views(self) -> None:
        for view in self.views.values():
            view.reset_view()
        self.side.reset_views()

    # ---- cine ----------------------------------------------------------------------------------------
    @property
    def cine_running(self) -> bool:
        return self._cine.isActive()

    def set_cine(self, on: bool, fps: float | None = None) -> None:
        if fps:
            self._cine.setInterval(max(10, int(1000 / fps)))
        if on and self.scene_model.base is not None:
            self._cine.start()
        else:
            self._cine.stop()
        self.cine_changed.emit(self._cine.isActive())

    def _cine_step(self) -> None:
        """Advance the active plane one slice, wrapping to the first after the last."""
        base = self.scene_model.base
        if base is None:
            self.set_cine(False)
            return
        plane = self.active_plane
        n = base.canonical.shape[PLANE_NORMAL_AXIS[plane]]
        if self.scene_model.slice_index(plane) >= n - 1:
            self.scene_model.move_slice(plane, -(n - 1))
        else:
            self.scene_model.move_slice(plane, 1)

    def disconnect_scene(self) -> None:
        self._cine.stop()
        for view in self.views.values():
            view.disconnect_scene()
        self.side.disconnect_scene()
