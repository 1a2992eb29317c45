"""Toolbar controls for window/level: numeric W and L (typed values are clamped to the image like a drag)
and Invert. They show the scene's window whatever changed it (preset, drag, typing)."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QHBoxLayout, QLabel, QWidget

from brainlens.core.scene import Scene


def _spin(tip: str) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(-1e9, 1e9)
    spin.setDecimals(1)
    spin.setKeyboardTracking(False)  # apply on Enter / focus out, not on every digit typed
    spin.setToolTip(tip)
    spin.setMinimumWidth(70)
    return spin


class WindowControls(QWidget):
    def __init__(self, scene: Scene, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scene_model = scene
        self.width_spin = _spin("Window width (intensity range shown from black to white)")
        self.level_spin = _spin("Window level (intensity shown as mid grey)")
        self.invert = QCheckBox("Invert")
        self.invert.setToolTip("Show the grey scale inverted (white to black)")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(3)
        for widget in (QLabel("W"), self.width_spin, QLabel("L"), self.level_spin, self.invert):
            row.addWidget(widget)
        self.width_spin.valueChanged.connect(self._typed)
        self.level_spin.valueChanged.connect(self._typed)
        self.invert.toggled.connect(scene.set_inverted)
        scene.window_changed.connect(self.refresh)
        scene.series_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        s = self.scene_model
        self.setEnabled(s.base is not None)
        lo, hi = s.window
        span = (s.base.data_range[1] - s.base.data_range[0]) if s.base is not None else 1.0
        decimals = 0 if span >= 100 else 3  # MR counts are whole numbers; normalised maps are not
        for spin, value in ((self.width_spin, hi - lo), (self.level_spin, (hi + lo) / 2)):
            spin.blockSignals(True)
            spin.setDecimals(decimals)
            spin.setValue(value)
            spin.blockSignals(False)
        self.invert.blockSignals(True)
        self.invert.setChecked(s.inverted)
        self.invert.blockSignals(False)

    def _typed(self, _value: float) -> None:
        self.scene_model.set_width_level(self.width_spin.value(), self.level_spin.value())

    def disconnect_scene(self) -> None:
        self.scene_model.window_changed.disconnect(self.refresh)
        self.scene_model.series_changed.disconnect(self.refresh)
