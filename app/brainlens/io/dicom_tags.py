"""Every header element of one DICOM file as display rows (the tag viewer's data), sequences flattened.

Pixel data and other bulk binary values are summarised, never dumped; values are cut to a readable length.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset

MAX_VALUE_CHARS = 200
_BULK_VRS = {"OB", "OW", "OF", "OD", "OL", "OV", "UN"}


@dataclass(frozen=True)
class TagRow:
    tag: str  # "(0010,0010)"
    keyword: str  # "PatientName" (or the private creator / "Unknown")
    vr: str
    value: str
    depth: int  # nesting level inside sequences

    def matches(self, text: str) -> bool:
        """Case-insensitive search over tag number, keyword and value (what a reader types to find one)."""
        needle = text.strip().lower()
        return not needle or any(needle in s.lower() for s in (self.tag, self.keyword, self.value))


def _value_text(elem) -> str:
    if elem.VR in _BULK_VRS or elem.tag == 0x7FE00010:
        size = len(elem.value) if isinstance(elem.value, (bytes, bytearray)) else 0
        return f"<{size} bytes of binary data>"
    text = str(elem.value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."


def dataset_rows(ds: Dataset, depth: int = 0) -> list[TagRow]:
    rows = []
    for elem in ds:
        tag = f"({elem.tag.group:04X},{elem.tag.element:04X})"
        keyword = elem.keyword or elem.name or "Unknown"
        if elem.VR == "SQ":
            rows.append(TagRow(tag, keyword, "SQ", f"{len(elem.value)} item(s)", depth))
            for n, item in enumerate(elem.value, 1):
                rows.append(TagRow("", f"Item {n}", "", "", depth + 1))
                rows.extend(dataset_rows(item, depth + 2))
        else:
            rows.append(TagRow(tag, keyword, str(elem.VR), _value_text(elem), depth))
    return rows


def header_rows(path: str | Path) -> list[TagRow]:
    """File meta then dataset elements of ``path`` (read up to, not including, the pixel data)."""
    ds = pydicom.dcmread(str(path), stop_before_pixels=True, force=True)
    meta = getattr(ds, "file_meta", None)
    return (dataset_rows(meta) if meta is not None else []) + dataset_rows(ds)
