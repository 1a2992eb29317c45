"""The toolbar's layout box: offers the layouts and always shows the one actually on screen.

A 2D picture can only be shown in its own plane; the box then says "2D image" and is disabled, and goes
back to the reader's choice when a volume is shown again.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QComboBox

from brainlens.gui.ortho_view import LAYOUTS, OrthoView

FLAT = "2D image"


class LayoutBox(QComboBox):
    def __init__(self, ortho: OrthoView, choose: Callable[[str], None]) -> None:
        super().__init__()
        self.ortho = ortho
        self.addItems(LAYOUTS)
        self.setToolTip("View layout")
        self.currentTextChanged.connect(lambda text: choose(text) if text in LAYOUTS else None)
        ortho.layout_changed.connect(self.show_mode)
        ortho.scene_model.series_changed.connect(self.show_mode)  # a 2D image may keep the same plane on show

    def show_mode(self, mode: str | None = None) -> None:
        """Reflect what is on screen without feeding it back as a choice."""
        forced = self.ortho.flat_plane() is not None
        self.blockSignals(True)
        flat_index = self.findText(FLAT)
        if forced and flat_index < 0:
            self.addItem(FLAT)
        elif not forced and flat_index >= 0:
            self.removeItem(flat_index)
        self.setCurrentText(FLAT if forced else self.ortho.mode)
        self.setEnabled(not forced)
        self.setToolTip("A 2D image has only its own plane" if forced else "View layout")
        self.blockSignals(False)
