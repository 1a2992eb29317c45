"""Grab a widget to a PNG without ever leaving a half-written file at the target path."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from PySide6.QtWidgets import QApplication, QWidget


def grab_to_png(widget: QWidget, path: str | Path) -> Path:
    """Render ``widget`` (after pending paints) to ``path``: temp file in the same folder, then replace."""
    path = Path(path)
    for _ in range(3):
        QApplication.processEvents()
    pixmap = widget.grab()
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=str(path.parent) if str(path.parent) else ".")
    os.close(fd)
    try:
        if not pixmap.save(tmp, "PNG"):
            raise OSError(f"could not write {path}")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a screenshot is an ordinary file
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
