"""One plane (grey image or overlay) as a graphics item that the raster painter draws at its native speed.

pyqtgraph's ImageItem hands Qt an indexed (8-bit + colour table) image; Qt converts that to ARGB on
every paint before scaling it, which made three drawn images per plane cost about 1 ms each. Here the
lookup table is applied once per slice in numpy, straight into premultiplied ARGB32 (what the raster
engine blends without converting), and painting is a plain scaled copy (~0.25 ms for 256 x 256).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QGraphicsObject


def premultiplied_argb32(lut: np.ndarray) -> np.ndarray:
    """(256,) uint32 ARGB32-premultiplied words from an (N <= 256, 3 or 4) uint8 RGB(A) table."""
    lut = np.asarray(lut, dtype=np.uint32)
    table = np.zeros((256, 4), dtype=np.uint32)
    table[: len(lut), : lut.shape[1]] = lut[:256]
    if lut.shape[1] == 3:
        table[: len(lut), 3] = 255
    r, g, b, a = (table[:, i] for i in range(4))
    r, g, b = ((c * a + 127) // 255 for c in (r, g, b))
    return ((a << 24) | (r << 16) | (g << 8) | b).astype(np.uint32)


class PlaneImage(QGraphicsObject):
    """A 2D uint8 plane (x, y: column-major, as the slice views index it) drawn through a lookup table.

    ``image`` keeps the bytes last shown (label values or windowed grey levels) for readouts and tests;
    ``lut`` the RGB(A) table given."""

    def __init__(self) -> None:
        super().__init__()
        self.image: np.ndarray | None = None
        self.lut: np.ndarray | None = None
        self._words = premultiplied_argb32(np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, 1))
        self._pixels: np.ndarray | None = None  # the QImage's buffer: it must live as long as the QImage
        self._qimage: QImage | None = None
        self._rect = QRectF()

    def setLookupTable(self, lut: np.ndarray) -> None:  # noqa: N802 -- same call as pyqtgraph's items
        self.lut = np.asarray(lut)
        self._words = premultiplied_argb32(self.lut)
        if self.image is not None:
            self.setImage(self.image)

    def setImage(self, plane: np.ndarray) -> None:  # noqa: N802
        if plane.dtype != np.uint8 or plane.ndim != 2:
            raise TypeError(f"PlaneImage shows 2D uint8 planes, got {plane.dtype} {plane.shape}")
        self.image = plane
        # (x, y) -> rows of y: the transpose of a Fortran-ordered plane is already contiguous
        self._pixels = np.ascontiguousarray(self._words[plane.T])
        h, w = self._pixels.shape
        self._qimage = QImage(self._pixels.data, w, h, w * 4, QImage.Format.Format_ARGB32_Premultiplied)
        self.update()

    def clear(self) -> None:
        self.image = self._pixels = self._qimage = None
        self.update()

    def setRect(self, rect: QRectF) -> None:  # noqa: N802
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = QRectF(rect)

    def boundingRect(self) -> QRectF:  # noqa: N802
        return QRectF(self._rect)

    def paint(self, painter: QPainter, *args) -> None:
        if self._qimage is not None and not self._rect.isEmpty():
            painter.drawImage(self._rect, self._qimage)
