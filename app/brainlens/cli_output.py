"""What the CLI writes: error lines that stay one line whatever a file is called, and JSON that is strict
(no NaN / Infinity, which JSON does not have): a non-finite number becomes null with a warning in its record."""

from __future__ import annotations

import json
import math
from typing import Any, TextIO

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def one_line(text: str) -> str:
    """``text`` with control characters (newline, CR, escape, ...) shown as escapes, so it is one clean line."""
    out = []
    for ch in str(text):
        code = ord(ch)
        if ch in _NAMED:
            out.append(_NAMED[ch])
        elif code < 0x20 or 0x7F <= code < 0xA0 or code in (0x2028, 0x2029) or 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code & 0xFF:02x}" if code <= 0xFF or code >= 0xDC80 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def finite(obj: Any, where: str = "", bad: list[str] | None = None) -> Any:
    """A copy of a JSON-able structure with NaN / infinity replaced by None; their keys are added to ``bad``."""
    if isinstance(obj, float) and not math.isfinite(obj):
        if bad is not None:
            bad.append(where or "value")
        return None
    if isinstance(obj, dict):
        return {k: finite(v, f"{where}.{k}" if where else str(k), bad) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v, f"{where}[{i}]", bad) for i, v in enumerate(obj)]
    return obj


def strict_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records made strict-JSON safe; each record that had a non-finite number says so in its "warnings"."""
    out = []
    for rec in records:
        bad: list[str] = []
        clean = finite(rec, "", bad)
        if bad:
            clean.setdefault("warnings", []).append(f"not a finite number, written as null: {', '.join(bad)}")
        out.append(clean)
    return out


def dump_strict(obj: Any, fp: TextIO, indent: int | None = 2) -> None:
    """json.dump that refuses NaN / Infinity (callers clean them with ``finite`` / ``strict_records``)."""
    json.dump(obj, fp, indent=indent, allow_nan=False)
    fp.write("\n")
