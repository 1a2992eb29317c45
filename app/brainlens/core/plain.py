"""numpy values -> plain Python (what json.dumps takes): one conversion for results, reports and the GUI."""

from __future__ import annotations

from typing import Any

import numpy as np


def plain(obj: Any) -> Any:
    """numpy scalars / arrays, tuples and non-string keys -> JSON-native types, recursively."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj
