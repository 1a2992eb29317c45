"""Names (and colours) of the labels of a label-map file, from a table that travels with it.

A generic label map keeps its own names: "label 3" unless a table says otherwise. Tumour names are used
only when the file says it follows that scheme (a sidecar with ``"scheme": "brats"``); the segmenter names
its own masks itself. Tables looked for beside ``seg.nii.gz`` (first found wins):

- ``seg.json``: ``{"labels": {"1": "hippocampus", "2": {"name": "amygdala", "color": [255, 0, 0]}},
  "scheme": "brats"}`` (either key may be absent);
- ``seg.txt`` / ``seg.lut`` / ``seg.ctbl`` / ``seg.label``: FreeSurfer colour LUT lines ``value name r g b
  [a]`` or ITK-SNAP label descriptions ``value r g b a vis mesh "name"``; ``#`` starts a comment.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from brainlens.io.volume_files import stem_of

TABLE_SUFFIXES = (".txt", ".lut", ".ctbl", ".label")
SCHEMES = ("brats",)


def scheme_names(scheme: str) -> dict[int, str]:
    """Names of a known labelling scheme (the tumour labels' one definition in core)."""
    if scheme != "brats":
        return {}
    try:
        from brainlens.core.labels import LABEL_NAMES  # the single tumour-label definition (issue 7)
    except ImportError:  # until that module is merged: the colour table's names
        from brainlens.core.colors import BRATS_NAMES as LABEL_NAMES
    return dict(LABEL_NAMES)


@dataclass
class LabelTable:
    names: dict[int, str] = field(default_factory=dict)
    colors: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    source: str = ""  # the file the names came from ("" when none)

    def display(self) -> dict:
        """Keyword arguments for a label layer (always explicit names, so no default scheme sneaks in)."""
        out: dict = {"label_names": dict(self.names)}
        if self.colors:
            out["colors"] = dict(self.colors)
        return out


def _rgb(values: list[str]) -> tuple[int, int, int] | None:
    try:
        r, g, b = (max(0, min(255, int(float(v)))) for v in values[:3])
    except (TypeError, ValueError):
        return None
    return r, g, b


def parse_lut_text(text: str) -> LabelTable:
    """FreeSurfer LUT or ITK-SNAP label description text -> names and colours (value 0 is skipped)."""
    table = LabelTable()
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            parts = shlex.split(line)
        except ValueError:
            parts = line.split()
        if len(parts) < 2 or not parts[0].lstrip("-").isdigit():
            continue
        value = int(parts[0])
        if not 0 < value < 256:
            continue
        if len(parts) >= 8 and parts[1].isdigit():  # ITK-SNAP: value r g b a vis mesh "name"
            table.names[value] = parts[7]
            rgb = _rgb(parts[1:4])
        else:  # FreeSurfer: value name r g b a
            table.names[value] = parts[1]
            rgb = _rgb(parts[2:5]) if len(parts) >= 5 else None
        if rgb is not None:
            table.colors[value] = rgb
    return table


def parse_sidecar(data: dict) -> LabelTable:
    table = LabelTable()
    scheme = str(data.get("scheme", "")).lower()
    table.names.update(scheme_names(scheme))
    for key, entry in (data.get("labels") or {}).items():
        try:
            value = int(key)
        except (TypeError, ValueError):
            continue
        if not 0 < value < 256:
            continue
        if isinstance(entry, dict):
            if entry.get("name"):
                table.names[value] = str(entry["name"])
            rgb = _rgb(list(entry.get("color") or []))
            if rgb is not None:
                table.colors[value] = rgb
        else:
            table.names[value] = str(entry)
    return table


def label_table_for(image_path: str | Path) -> LabelTable:
    """The table beside ``image_path`` (see the module doc); an empty table when there is none or it is
    unreadable (names then fall back to "label N", never to another scheme's)."""
    path = Path(image_path)
    stem = path.parent / stem_of(path)
    sidecar = stem.with_name(stem.name + ".json")
    try:
        if sidecar.is_file():
            table = parse_sidecar(json.loads(sidecar.read_text(encoding="utf-8")))
            table.source = sidecar.name
            return table
        for suffix in TABLE_SUFFIXES:
            candidate = stem.with_name(stem.name + suffix)
            if candidate.is_file():
                table = parse_lut_text(candidate.read_text(encoding="utf-8", errors="replace"))
                table.source = candidate.name
                return table
    except (OSError, ValueError, AttributeError):
        pass  # an unreadable table must not stop the image from opening
    return LabelTable()
