"""Grab a widget to a PNG without ever leaving a half-written file at the target path."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication, QWidget

from brainlens.io.atomic import atomic_write


def grab_to_png(widget: QWidget, path: str | Path) -> Path:
    """Render ``widget`` (after pending paints) to ``path`` through the one atomic-write helper."""
    for _ in range(3):
        QApplication.processEvents()
    pixmap = widget.grab()

    def write(tmp: Path) -> None:
        if not pixmap.save(str(tmp), "PNG"):
            raise OSError(f"could not write {Path(path)}")

    return atomic_write(path, write)
