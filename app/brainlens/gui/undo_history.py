"""One Edit > Undo for the window: each undoable step registers how to take itself back (a measurement
added or deleted, an overlay layer removed). Qt-free apart from the signal that keeps the menu text right."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

MAX_STEPS = 100


class UndoHistory(QObject):
    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._steps: list[tuple[str, Callable[[], None]]] = []

    def push(self, description: str, undo: Callable[[], None]) -> None:
        self._steps = [*self._steps, (description, undo)][-MAX_STEPS:]
        self.changed.emit()

    def undo(self) -> str | None:
        """Take back the last step; returns its description (None when there was nothing to undo)."""
        if not self._steps:
            return None
        description, undo = self._steps.pop()
        undo()
        self.changed.emit()
        return description

    def next_text(self) -> str:
        return f"&Undo {self._steps[-1][0]}" if self._steps else "&Undo"

    def clear(self) -> None:
        self._steps.clear()
        self.changed.emit()
