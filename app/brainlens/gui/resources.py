"""Files shipped in ``resources/`` (icons): found in a wheel/bundle or in an editable checkout."""

from __future__ import annotations

from pathlib import Path


def resource_path(name: str) -> Path | None:
    """The packaged copy (brainlens/_bundled/resources), else <repo>/resources; None if missing."""
    package = Path(__file__).resolve().parents[1]  # app/brainlens, or brainlens/ when installed
    for folder in (package / "_bundled" / "resources", package.parents[1] / "resources"):
        if (folder / name).is_file():
            return folder / name
    return None


def app_icon():
    """The BrainLens window icon (a QIcon; empty if the file is missing)."""
    from PySide6.QtGui import QIcon

    path = resource_path("brainlens.png")
    return QIcon(str(path)) if path else QIcon()
