"""DICOM tag viewer: every header element of the current series' first file, searchable as you type."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from brainlens.core.scene import SeriesDisplay

if TYPE_CHECKING:
    from brainlens.io.dicom_tags import TagRow

NOT_DICOM = "This series was not read from DICOM files: it has no DICOM header to show."


def dicom_files(series: SeriesDisplay | None) -> list[str]:
    meta = series.source.metadata if series is not None else {}
    return list(meta.get("source_paths") or []) if meta.get("format") == "dicom" else []


class TagViewer(QDialog):
    """Rows of one file of ``series``; the filter box hides rows that do not match tag, keyword or value."""

    def __init__(self, series: SeriesDisplay | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = series.source.name if series is not None else "no series"
        self.setWindowTitle(f"DICOM tags - {title}")
        self.resize(820, 640)
        self.files = dicom_files(series)
        self.rows: list[TagRow] = []
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search tag, keyword or value (e.g. 0010, PatientName, 3.0)")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.apply_filter)
        self.file_combo = QComboBox()
        self.file_combo.addItems([Path(p).name for p in self.files])
        self.file_combo.currentIndexChanged.connect(self.show_file)
        self.count = QLabel("")
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Tag", "Keyword", "VR", "Value"])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.header().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(QLabel("File"))
        top.addWidget(self.file_combo)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.tree, 1)
        lay.addWidget(self.count)
        if self.files:
            self.show_file(0)
        else:
            self.search.setEnabled(False)
            self.count.setText(NOT_DICOM)

    def show_file(self, index: int) -> None:
        from brainlens.io.dicom_tags import header_rows

        try:
            self.rows = header_rows(self.files[index])
        except Exception as exc:  # the file may have moved or changed since the study was opened
            self.rows = []
            self.count.setText(f"Cannot read {Path(self.files[index]).name}: {exc}")
        self.tree.clear()
        for row in self.rows:
            item = QTreeWidgetItem([row.tag, "  " * row.depth + row.keyword, row.vr, row.value])
            self.tree.addTopLevelItem(item)
        for col in range(3):
            self.tree.resizeColumnToContents(col)
        self.apply_filter(self.search.text())

    def apply_filter(self, text: str) -> None:
        shown = 0
        for n, row in enumerate(self.rows):
            hit = row.matches(text)
            self.tree.topLevelItem(n).setHidden(not hit)
            shown += hit
        if self.rows:
            self.count.setText(f"{shown} of {len(self.rows)} elements")

    def visible_keywords(self) -> list[str]:
        return [self.rows[n].keyword for n in range(len(self.rows)) if not self.tree.topLevelItem(n).isHidden()]
