"""A heatmap's colour bar with its numbers: the layer's colour table from threshold (transparent below it)
to its maximum, drawn once per change as a small pixmap."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from brainlens.core.scene import HeatmapLayer

BAR_SIZE = (120, 12)


def _number(value: float) -> str:
    return f"{value:.3g}"


class ColourBar(QWidget):
    def __init__(self, layer: HeatmapLayer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layer = layer
        self.low, self.high, self.bar = QLabel(), QLabel(), QLabel()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        row.addWidget(self.low)
        row.addWidget(self.bar)
        row.addWidget(self.high)
        row.addStretch(1)
        self.refresh()

    def refresh(self) -> None:
        lut = self.layer.lut()
        w, h = BAR_SIZE
        idx = np.linspace(0, len(lut) - 1, w).astype(int)
        rgb = np.ascontiguousarray(np.repeat(lut[idx, :3][None, :, :], h, axis=0))
        img = QImage(rgb.data, w, h, rgb.strides[0], QImage.Format.Format_RGB888).copy()
        self.bar.setPixmap(QPixmap.fromImage(img))
        lo, hi = self.layer.levels
        self.low.setText(_number(lo))
        self.high.setText(_number(hi))
        self.setToolTip(f"{self.layer.colormap}: below {_number(lo)} transparent, {_number(hi)} and above "
                        "at the top colour")

    def numbers(self) -> tuple[str, str]:
        return self.low.text(), self.high.text()
