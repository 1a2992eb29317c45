"""Study browser: one row per series (thumbnail, dimensions, sequence combo); click to show it."""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from brainlens.core.scene import Scene, SeriesDisplay
from brainlens.core.volume import SEQUENCES

THUMB = 72
UNKNOWN = "unknown"


def thumbnail(series: SeriesDisplay, size: int = THUMB) -> QPixmap:
    """Middle axial slice in display orientation (A up, R left), physical aspect, windowed."""
    data = series.canonical.data
    sl = np.asarray(data[:, :, data.shape[2] // 2], dtype=np.float32).T[::-1, ::-1]
    lo, hi = series.levels
    img = np.ascontiguousarray(np.clip((sl - lo) / max(hi - lo, 1e-6) * 255, 0, 255).astype(np.uint8))
    qimg = QImage(img.data, img.shape[1], img.shape[0], img.strides[0], QImage.Format.Format_Grayscale8).copy()
    sx, sy = series.canonical.spacing[0], series.canonical.spacing[1]
    w, h = img.shape[1] * sx, img.shape[0] * sy
    scale = size / max(w, h)
    return QPixmap.fromImage(qimg).scaled(max(1, round(w * scale)), max(1, round(h * scale)),
                                          Qt.AspectRatioMode.IgnoreAspectRatio,
                                          Qt.TransformationMode.SmoothTransformation)


def describe(series: SeriesDisplay) -> str:
    vol = series.source
    dims = " x ".join(str(s) for s in vol.shape)
    sp = " x ".join(f"{s:.2g}" for s in vol.spacing)
    return f"{dims} voxels\n{sp} mm" + ("" if vol.spacing_known else " (assumed)")


class _SeriesRow(QWidget):
    def __init__(self, scene: Scene, index: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        sd = scene.series[index]
        self.scene_model, self.index = scene, index
        pic = QLabel()
        pic.setFixedSize(THUMB, THUMB)
        pic.setAlignment(Qt.AlignmentFlag.AlignCenter)
        pic.setPixmap(thumbnail(sd))
        title = sd.source.name or f"Series {index + 1}"
        # zero-width spaces let long file-style names (a_b_c_flair) wrap instead of being cut off
        name = QLabel(f"<b>{html.escape(title).replace('_', '_&#8203;')}</b>")
        name.setWordWrap(True)
        info = QLabel(describe(sd))
        self.combo = QComboBox()
        self.combo.addItems([UNKNOWN, *SEQUENCES])
        self.combo.setCurrentText(sd.source.sequence if sd.source.sequence in SEQUENCES else UNKNOWN)
        self.combo.setToolTip("Detected sequence; change it if the detection is wrong")
        self.combo.currentTextChanged.connect(self._on_sequence)
        text = QVBoxLayout()
        text.setSpacing(1)
        text.addWidget(name)
        text.addWidget(info)
        if sd.source.warnings:
            # said in the row itself, not only in a tooltip (plain text: no entity decoding)
            warn = QLabel("\n".join(f"\u26a0 {w}" for w in sd.source.warnings))
            warn.setWordWrap(True)
            warn.setStyleSheet("color: #6b4200; background: #fff1c9; padding: 1px 3px;")  # readable when selected
            warn.setToolTip("\n".join(sd.source.warnings))
            text.addWidget(warn)
        seq_row = QHBoxLayout()
        seq_row.addWidget(QLabel("Sequence:"))
        seq_row.addWidget(self.combo, 1)
        text.addLayout(seq_row)
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 4, 4, 4)
        row.addWidget(pic)
        row.addLayout(text, 1)

    def _on_sequence(self, text: str) -> None:
        self.scene_model.set_sequence(self.index, None if text == UNKNOWN else text)


class StudyBrowser(QWidget):
    """Lists ``scene.series``; selecting a row shows that series."""

    def __init__(self, scene: Scene, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scene_model = scene
        self.list = QListWidget()
        self.list.setSpacing(1)
        self.list.currentRowChanged.connect(self._on_row)
        self.header = QLabel("No study open")
        self.header.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.header)
        lay.addWidget(self.list, 1)
        self._shown: list[SeriesDisplay] | None = None
        scene.series_changed.connect(self._on_series_changed)
        self._on_series_changed()

    def rows(self) -> list[_SeriesRow]:
        return [self.list.itemWidget(self.list.item(i)) for i in range(self.list.count())]  # type: ignore

    def set_header(self, text: str) -> None:
        self.header.setText(text)

    def _on_series_changed(self) -> None:
        s = self.scene_model
        if self._shown is not s.series:  # a new study: rebuild the rows
            self._shown = s.series
            self.list.blockSignals(True)
            self.list.clear()
            for i in range(len(s.series)):
                row = _SeriesRow(s, i)
                item = QListWidgetItem()
                # wrapped text (warnings) needs the height it takes at the list's width, not its one-line hint
                width = max(self.list.viewport().width(), 220)
                height = row.heightForWidth(width) if row.hasHeightForWidth() else row.sizeHint().height()
                item.setSizeHint(QSize(220, max(THUMB + 10, height, row.sizeHint().height())))
                self.list.addItem(item)
                self.list.setItemWidget(item, row)
            self.list.blockSignals(False)
        if s.current is not None and self.list.currentRow() != s.current:
            self.list.blockSignals(True)
            self.list.setCurrentRow(s.current)
            self.list.blockSignals(False)

    def _on_row(self, row: int) -> None:
        if 0 <= row < len(self.scene_model.series) and row != self.scene_model.current:
            self.scene_model.show_series(row)
