"""Text in the four corners of a slice view (patient, study, plane/slice, window), laid out so that it
never runs into the orientation letters at the middle of each edge: each corner gets the width left beside
the centre letter, and longer lines are elided with '...' (the full text stays in the tooltip)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QLabel, QWidget

CORNERS = ("top_left", "top_right", "bottom_left", "bottom_right")
MARGIN = 6
_STYLE = "color: {color}; font-size: 12px; background: transparent;"


class ViewCorners:
    """Owns four QLabels on ``view``; ``place`` lays them out around the edge letters."""

    def __init__(self, view: QWidget, color: str = "#e8e8e8") -> None:
        self.view = view
        self.labels: dict[str, QLabel] = {}
        self.full: dict[str, str] = dict.fromkeys(CORNERS, "")
        self.short: dict[str, str] = dict.fromkeys(CORNERS, "")
        for corner in CORNERS:
            label = QLabel("", view)
            label.setStyleSheet(_STYLE.format(color=color))
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            right = corner.endswith("right")
            label.setAlignment(Qt.AlignmentFlag.AlignRight if right else Qt.AlignmentFlag.AlignLeft)
            self.labels[corner] = label

    def set_text(self, corner: str, text: str, short: str = "") -> None:
        """``short``: what to show instead when the text does not fit (before eliding it)."""
        self.short[corner] = short
        if self.full[corner] != text:
            self.full[corner] = text
            self.labels[corner].setToolTip(text)

    def text(self, corner: str) -> str:
        """The full (not elided) text of a corner."""
        return self.full[corner]

    def shown_text(self, corner: str) -> str:
        return self.labels[corner].text()

    def place(self, centre_reserved: tuple[int, int], only: str | None = None) -> None:
        """Lay the corners out; ``centre_reserved`` = widths of the top and bottom centre letters. ``only``:
        just that corner (the slice number changes on every scroll step; the rest does not)."""
        w, h = self.view.width(), self.view.height()
        for corner, label in self.labels.items():
            if only is not None and corner != only:
                continue
            top = corner.startswith("top")
            reserved = centre_reserved[0 if top else 1]
            room = max(20, (w - reserved) // 2 - 2 * MARGIN)
            metrics = QFontMetrics(label.font())
            text = self.full[corner]
            if self.short[corner] and any(metrics.horizontalAdvance(t) > room for t in text.splitlines()):
                text = self.short[corner]
            lines = [metrics.elidedText(line, Qt.TextElideMode.ElideRight, room) for line in text.splitlines()]
            label.setText("\n".join(lines))
            label.setVisible(bool(lines))
            label.adjustSize()
            x = MARGIN if corner.endswith("left") else w - label.width() - MARGIN
            y = MARGIN if top else h - label.height() - MARGIN
            label.move(x, y)
            label.raise_()
