"""Persistent settings (QSettings, organisation "BrainLens") and the recent-studies list.

``BRAINLENS_SETTINGS_DIR`` redirects everything to an INI file in that folder: tests set it so they never
touch the user's real settings.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings

ORGANISATION = "BrainLens"
APPLICATION = "BrainLens"
MAX_RECENT = 8


def open_settings() -> QSettings:
    folder = os.environ.get("BRAINLENS_SETTINGS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        return QSettings(str(Path(folder) / "brainlens.ini"), QSettings.Format.IniFormat)
    return QSettings(ORGANISATION, APPLICATION)


def recent_studies(settings: QSettings) -> list[str]:
    value = settings.value("recent/studies", [])
    if isinstance(value, str):  # QSettings gives a bare string for a one-item list in INI files
        value = [value]
    return [str(v) for v in (value or []) if v]


def add_recent(settings: QSettings, path: str | Path) -> list[str]:
    path = str(Path(path).resolve())
    items = [path] + [p for p in recent_studies(settings) if p != path]
    items = items[:MAX_RECENT]
    settings.setValue("recent/studies", items)
    return items
