"""PlaneImage: the lookup table reaches the screen as premultiplied ARGB, with x across and y up the view."""

import os

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QRectF  # noqa: E402
from PySide6.QtGui import QColor, QImage, QPainter  # noqa: E402

from brainlens.gui.plane_image import PlaneImage, premultiplied_argb32  # noqa: E402


def test_premultiplied_words():
    lut = np.array([[255, 0, 0, 0], [255, 0, 0, 255], [200, 100, 50, 128]], dtype=np.uint8)
    words = premultiplied_argb32(lut)
    assert words[0] == 0  # fully transparent stays black-transparent
    assert words[1] == 0xFFFF0000
    a, r, g, b = (int(words[2]) >> s & 0xFF for s in (24, 16, 8, 0))
    assert (a, r, g, b) == (128, 100, 50, 25)
    assert premultiplied_argb32(np.array([[1, 2, 3]], dtype=np.uint8))[0] == 0xFF010203  # RGB -> opaque


def test_painted_pixels_follow_the_lookup_table_and_the_axes(qapp):
    item = PlaneImage()
    item.setLookupTable(np.array([[0, 0, 0, 255], [0, 255, 0, 255]], dtype=np.uint8))
    plane = np.zeros((4, 2), dtype=np.uint8, order="F")  # 4 columns (x) by 2 rows (y)
    plane[3, 1] = 1  # the last column of the second row
    item.setImage(plane)
    item.setRect(QRectF(0, 0, 4, 2))
    target = QImage(4, 2, QImage.Format.Format_ARGB32_Premultiplied)
    target.fill(QColor("white"))
    painter = QPainter(target)
    item.paint(painter)
    painter.end()
    assert target.pixelColor(3, 1) == QColor(0, 255, 0)
    assert target.pixelColor(0, 0) == QColor(0, 0, 0) and target.pixelColor(3, 0) == QColor(0, 0, 0)


def test_refuses_planes_it_cannot_show(qapp):
    item = PlaneImage()
    try:
        item.setImage(np.zeros((3, 3), dtype=np.float32))
    except TypeError as exc:
        assert "uint8" in str(exc)
    else:
        raise AssertionError("a float plane was accepted")
