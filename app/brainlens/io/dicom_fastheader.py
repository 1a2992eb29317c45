"""A minimal DICOM Part-10 header walker for the per-slice tags of a series scan.

pydicom's dcmread builds a full Dataset (every element, the file meta converted and validated) and that is
most of the cost of opening a long series. Sorting slices needs about twenty simple tags, so this reads just
those, skips every other value (sequences included, defined or undefined length) and stops at the pixel
data, whose file offset it returns. Anything it does not handle (no preamble, big endian, deflate,
enhanced multi-frame functional groups) raises Unsupported and the caller falls back to pydicom.
"""

from __future__ import annotations

import struct
from typing import Any, BinaryIO

IMPLICIT_LE = "1.2.840.10008.1.2"
_EXPLICIT_ONLY = {"1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2.99"}  # BE, deflate
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UR", b"UT", b"UN"}
_PIXEL_TAGS = {0x7FE00010, 0x7FE00008, 0x7FE00009}
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_PER_FRAME_GROUPS = 0x52009230
_BINARY = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d"}
# Tags read by the scan, with their VR (needed for implicit-VR files).
WANTED: dict[int, str] = {
    0x00080016: "UI", 0x00080060: "CS", 0x0020000E: "UI", 0x00200011: "IS", 0x00200013: "IS",
    0x00200032: "DS", 0x00200037: "DS", 0x00280002: "US", 0x00280004: "CS", 0x00280008: "IS",
    0x00280010: "US", 0x00280011: "US", 0x00280030: "DS", 0x00281164: "DS", 0x00180050: "DS",
    0x00180088: "DS", 0x00280100: "US", 0x00280101: "US", 0x00280103: "US", 0x00281052: "DS",
    0x00281053: "DS", 0x00020010: "UI", 0x00180086: "IS", 0x00200100: "IS", 0x00189087: "FD",
}


class Unsupported(Exception):
    """This file needs the full pydicom reader."""


class _Buffer:
    """Forward reader over a file that keeps one window in memory and seeks over long values."""

    def __init__(self, fp: BinaryIO) -> None:
        self.fp = fp
        self.base = 0
        self.data = fp.read(16384)
        self.pos = 0

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            self.data = self.data[self.pos:] + self.fp.read(max(n, 65536))
            self.base += self.pos
            self.pos, end = 0, n
            if end > len(self.data):
                raise Unsupported("unexpected end of file")
        out = self.data[self.pos:end]
        self.pos = end
        return out

    def at_end(self) -> bool:
        if self.pos < len(self.data):
            return False
        self.base += self.pos
        self.pos, self.data = 0, self.fp.read(16384)
        return not self.data

    def skip(self, n: int) -> None:
        if self.pos + n <= len(self.data):
            self.pos += n
            return
        target = self.base + self.pos + n
        self.fp.seek(target)
        self.base, self.pos, self.data = target, 0, self.fp.read(16384)


def _element(buf: _Buffer, explicit: bool) -> tuple[int, bytes | None, int]:
    """(tag, VR or None, value length) of the next element; items/delimiters carry no VR."""
    group, elem = struct.unpack("<HH", buf.take(4))
    tag = group << 16 | elem
    if group == 0xFFFE or not explicit:
        return tag, None, struct.unpack("<I", buf.take(4))[0]
    vr = buf.take(2)
    if vr in _LONG_VRS:
        buf.take(2)
        return tag, vr, struct.unpack("<I", buf.take(4))[0]
    if not (65 <= vr[0] <= 90 and 65 <= vr[1] <= 90):
        raise Unsupported("not explicit VR")
    return tag, vr, struct.unpack("<H", buf.take(2))[0]


def _skip_undefined(buf: _Buffer, explicit: bool, depth: int = 0) -> None:
    """Skip the items of an undefined-length sequence up to and including its delimiter."""
    if depth > 16:
        raise Unsupported("sequences nested too deep")
    while True:
        tag, _, length = _element(buf, explicit)
        if tag == _SEQ_END:
            return
        if tag != _ITEM:
            raise Unsupported("malformed sequence")
        if length != 0xFFFFFFFF:
            buf.skip(length)
            continue
        while True:  # undefined-length item: walk its elements to the item delimiter
            tag, vr, length = _element(buf, explicit)
            if tag == _ITEM_END:
                break
            if length == 0xFFFFFFFF:
                _skip_undefined(buf, explicit and vr != b"UN", depth + 1)
            else:
                buf.skip(length)


def _decode(raw: bytes, vr: str) -> Any:
    if vr in _BINARY:
        fmt = _BINARY[vr]
        n = len(raw) // struct.calcsize(fmt)
        values = struct.unpack(f"<{n}{fmt}", raw[: n * struct.calcsize(fmt)])
        return values[0] if n == 1 else list(values) if n else None
    parts = [p.strip(" \x00") for p in raw.decode("latin-1").split("\\")]
    return parts[0] if len(parts) == 1 else parts


def read_fast_header(fp: BinaryIO) -> tuple[dict[int, Any], int | None, str]:
    """(wanted tag values, pixel data offset or None, transfer syntax UID) of a Part-10 file."""
    buf = _Buffer(fp)
    if buf.take(132)[128:] != b"DICM":
        raise Unsupported("no DICOM preamble")
    values: dict[int, Any] = {}
    while True:  # file meta group 0002, always explicit VR little endian
        start = buf.pos
        group = struct.unpack("<H", buf.take(2))[0]
        buf.pos = start
        if group != 0x0002:
            break
        tag, vr, length = _element(buf, True)
        raw = buf.take(length)
        if tag == 0x00020010:
            values[tag] = _decode(raw, "UI")
    ts = values.get(0x00020010) or ""
    if not ts or ts in _EXPLICIT_ONLY:
        raise Unsupported(f"transfer syntax {ts or 'missing'}")
    explicit = ts != IMPLICIT_LE
    while True:
        if buf.at_end():
            return values, None, ts  # no pixel data: not an image
        header_at = buf.offset
        tag, vr, length = _element(buf, explicit)
        if tag in _PIXEL_TAGS:
            return values, header_at, ts
        if tag == _PER_FRAME_GROUPS:
            raise Unsupported("enhanced multi-frame")
        if length == 0xFFFFFFFF:
            _skip_undefined(buf, explicit and vr != b"UN")
        elif tag in WANTED:
            values[tag] = _decode(buf.take(length), WANTED[tag])
        else:
            buf.skip(length)
