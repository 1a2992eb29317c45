"""Keyboard of a slice view: Up/Down one slice, PgUp/PgDn a page (a tenth of the stack), Home/End the first
and last slice, +/- zoom, Space starts/stops cine."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from brainlens.core.geometry import PLANE_NORMAL_AXIS

PAGE_FRACTION = 0.1
ZOOM_STEP = 1.25


def page_size(n_slices: int) -> int:
    return max(2, int(round(n_slices * PAGE_FRACTION)))


def handle_key(view, key: int) -> bool:
    """Act on ``key`` for ``view`` (a SliceView); False when the key is not one of ours."""
    series = view.shown()
    if series is None:
        return False
    n = series.canonical.shape[PLANE_NORMAL_AXIS[view.plane]]
    current = int(np.clip(np.round(view.cursor_voxel()[PLANE_NORMAL_AXIS[view.plane]]), 0, n - 1))
    steps = {Qt.Key.Key_Up: 1, Qt.Key.Key_Down: -1, Qt.Key.Key_PageUp: page_size(n),
             Qt.Key.Key_PageDown: -page_size(n), Qt.Key.Key_Home: -current, Qt.Key.Key_End: n - 1 - current}
    if key in steps:
        if steps[key]:
            view._scroll(steps[key])
        return True
    if key == Qt.Key.Key_Space:  # a view key, not a window shortcut: Space still ticks checkboxes elsewhere
        view.cine_key.emit()
        return True
    if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal, Qt.Key.Key_Minus):
        factor = 1 / ZOOM_STEP if key != Qt.Key.Key_Minus else ZOOM_STEP  # scaleBy < 1 zooms in
        view.vb.scaleBy((factor, factor))
        return True
    return False
