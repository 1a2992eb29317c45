"""The schema of models/manifest.json, checked before any entry is used.

A manifest edited by hand or damaged on disk must not reach the model code: a text temperature would raise
deep inside inference, a negative sample count or a million filters would allocate without bound, a file name
like ``../../etc/passwd`` or ``/dev/zero`` would be hashed. Each violation is one line naming the entry and key.
"""

from __future__ import annotations

import math
import re
from typing import Any

from brainlens.core.errors import ModelError

MAX_BYTES = 1 << 20  # a manifest is a few KB
MAX_DEPTH = 8
MAX_MODELS = 100
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # a plain name inside the models folder
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

# (section, key) -> (kind, low, high); kind "int", "num" or "size" (list of ints); bounds inclusive
_RANGES: dict[tuple[str, str], tuple[str, float, float]] = {
    ("extra", "temperature"): ("num", 1e-3, 1e3),
    ("extra", "entropy_threshold"): ("num", 0.0, 100.0),
    ("extra", "ood_threshold"): ("num", 0.0, 1e9),
    ("extra", "ood_feature_scale"): ("num", 1e-6, 1e6),
    ("extra", "mc_samples"): ("int", 1, 256),
    ("extra", "init_filters"): ("int", 1, 256),
    ("extra", "dropout"): ("num", 0.0, 0.99),
    ("extra", "input_size"): ("int", 32, 1024),
    ("input", "size"): ("size", 8, 4096),
    ("input", "patch"): ("size", 8, 1024),
    ("input", "spacing_mm"): ("numlist", 0.05, 50.0),
}


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v)


def _check_range(where: str, kind: str, value: Any, low: float, high: float) -> None:
    if kind in ("size", "numlist"):
        ok = isinstance(value, list) and 1 <= len(value) <= 3 and all(
            (_is_int(v) if kind == "size" else _is_num(v)) and low <= v <= high for v in value)
    else:
        ok = (_is_int(value) if kind == "int" else _is_num(value)) and low <= value <= high
    if not ok:
        what = {"int": "a whole number", "num": "a number", "size": "a list of whole numbers",
                "numlist": "a list of numbers"}[kind]
        raise ModelError(f"model manifest: {where} must be {what} in {low:g}..{high:g}, not {str(value)[:40]!r}: "
                         "reinstall BrainLens")


def _check_entry(n: int, entry: Any, kinds: tuple[str, ...], dtypes: tuple[str, ...]) -> None:
    if not isinstance(entry, dict):
        raise ModelError(f"model manifest: entry {n} is not an object: reinstall BrainLens")
    name = entry.get("name")
    where = f"entry {name!r}" if isinstance(name, str) else f"entry {n}"

    def bad(key: str, rule: str) -> ModelError:
        return ModelError(f"model manifest: {where} '{key}' {rule}: reinstall BrainLens")

    for key, test, rule in (
        ("name", lambda v: isinstance(v, str) and _NAME.match(v), "must be a plain name"),
        ("version", lambda v: isinstance(v, str) or _is_num(v), "must be text"),
        ("kind", lambda v: v in kinds, f"must be one of {', '.join(kinds)}"),
        ("file", lambda v: isinstance(v, str) and _FILE.match(v) and ".." not in v,
         "must be a file name inside the models folder"),
        ("sha256", lambda v: isinstance(v, str) and _SHA256.match(v), "must be 64 hex digits"),
    ):
        if key not in entry:
            raise bad(key, "is missing")
        if not test(entry[key]):
            raise bad(key, rule)
    for key, kind in (("input", dict), ("extra", dict), ("labels", list)):
        if key in entry and entry[key] is not None and not isinstance(entry[key], kind):
            raise bad(key, f"must be {'an object' if kind is dict else 'a list'}")
    labels = entry.get("labels") or []
    if len(labels) > 1000 or not all(isinstance(x, str) for x in labels):
        raise bad("labels", "must be a list of names")
    if entry.get("dtype", dtypes[0]) not in dtypes:
        raise bad("dtype", f"must be one of {', '.join(dtypes)}")
    onnx = (entry.get("extra") or {}).get("onnx")
    if onnx is not None and not (isinstance(onnx, dict) and isinstance(onnx.get("file"), str)
                                 and _FILE.match(onnx["file"]) and ".." not in onnx["file"]
                                 and isinstance(onnx.get("sha256"), str) and _SHA256.match(onnx["sha256"])):
        raise bad("extra.onnx", "must name a file inside the models folder and its 64-hex-digit sha256")
    for (section, key), (kind, low, high) in _RANGES.items():
        block = entry.get(section) or {}
        if key in block:
            _check_range(f"{where} {section}.{key}", kind, block[key], low, high)


def validate_manifest(doc: Any, kinds: tuple[str, ...], dtypes: tuple[str, ...]) -> list[dict[str, Any]]:
    """The manifest's model rows after checking the whole document; ModelError (one line) otherwise."""
    if _depth(doc) > MAX_DEPTH:
        raise ModelError(f"model manifest is nested deeper than {MAX_DEPTH} levels: reinstall BrainLens")
    if not isinstance(doc, dict) or not isinstance(doc.get("models"), list):
        raise ModelError("model manifest has no list of models: reinstall BrainLens")
    rows = doc["models"]
    if len(rows) > MAX_MODELS:
        raise ModelError(f"model manifest lists {len(rows)} models (at most {MAX_MODELS}): reinstall BrainLens")
    for n, entry in enumerate(rows):
        _check_entry(n, entry, kinds, dtypes)
    return rows
