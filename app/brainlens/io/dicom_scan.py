"""DICOM header pass: read every file up to (not including) the pixel data, in parallel, and turn each
image frame into a SliceRef that carries its geometry, rescale and where its pixels live."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset

from brainlens.core.errors import Cancelled, LoadError
from brainlens.core.patient import PATIENT_KEYWORDS
from brainlens.io.dicom_fastheader import IMPLICIT_LE, WANTED, Unsupported, read_fast_header
from brainlens.io.limits import check_voxels
from brainlens.io.reasons import reason

PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)
DEFLATED = "1.2.840.10008.1.2.1.99"
EXPLICIT_LE, BIG_ENDIAN = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"
_FIRST_GROUPS = {b"\x00\x00", b"\x02\x00", b"\x04\x00", b"\x08\x00", b"\x00\x02", b"\x00\x04", b"\x00\x08"}
# Header keywords kept for sequence detection and the metadata dict.
TAG_KEYWORDS = (
    "Modality", "SeriesDescription", "ProtocolName", "SequenceName", "ScanningSequence", "SequenceVariant",
    "EchoTime", "RepetitionTime", "InversionTime", "FlipAngle", "MagneticFieldStrength", "Manufacturer",
    "ContrastBolusAgent", "ContrastBolusRoute", "ContrastBolusVolume", "ContrastBolusIngredient",
    "SeriesNumber", "StudyInstanceUID", "StudyDate", "StudyDescription", "BodyPartExamined",
    "ImageType", "PhotometricInterpretation", *PATIENT_KEYWORDS,
)


@dataclass
class DicomFile:
    """Header facts of one file, enough to group, sort and later read its pixels."""

    path: Path
    series_uid: str
    sop_class: str
    rows: int
    cols: int
    frames: int
    pixel_offset: int | None  # file offset of the PixelData element tag; None when no pixels
    transfer_syntax: str
    bits_allocated: int
    bits_stored: int
    signed: bool
    samples: int
    instance: int
    photometric: str
    stack_id: tuple = ()  # echo number, temporal position, b-value: images of one series that do not stack
    header: Dataset | None = field(default=None, repr=False)  # full header, read when first needed
    slices: list[SliceRef] = field(default_factory=list)

    def dataset(self) -> Dataset:
        if self.header is None:
            self.header = pydicom.dcmread(self.path, stop_before_pixels=True, force=True)
        return self.header

    @cached_property
    def tags(self) -> dict[str, Any]:
        """Descriptive tags as plain values; read on first use (once per series, not per slice)."""
        ds = self.dataset()
        return {k: _plain(ds.get(k)) for k in TAG_KEYWORDS if k in ds}

    @cached_property
    def patient_hash(self) -> str:
        ds = self.dataset()
        ident = f"{ds.get('PatientID', '')}|{ds.get('PatientName', '')}"
        return hashlib.sha256(ident.encode()).hexdigest()[:12] if ident != "|" else ""


@dataclass
class SliceRef:
    """One 2D image (a classic file, or one frame of an enhanced multi-frame file)."""

    file: DicomFile
    frame: int
    position: np.ndarray | None  # ImagePositionPatient (LPS mm) or None when absent
    orientation: np.ndarray | None  # ImageOrientationPatient (6,)
    pixel_spacing: tuple[float, float] | None
    thickness: float | None
    slope: float = 1.0
    intercept: float = 0.0


def _floats(value: Any, n: int) -> np.ndarray | None:
    if isinstance(value, str):
        value = value.split("\\")
    try:
        arr = np.asarray([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return arr if arr.size == n and np.all(np.isfinite(arr)) else None


def _float(value: Any, default: float | None = None) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return default
    return out if np.isfinite(out) else default


def _plain(value: Any) -> Any:
    """pydicom values (DSfloat, IS, UID, PersonName, MultiValue) -> plain JSON-friendly python values."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return [_plain(v) for v in value]
    for kind in (int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return str(value)


def _item(seq_parent: Dataset | None, keyword: str) -> Dataset | None:
    seq = getattr(seq_parent, keyword, None) if seq_parent is not None else None
    return seq[0] if seq else None


def _frame_refs(dfile: DicomFile, ds: Dataset) -> list[SliceRef]:
    """Enhanced multi-frame (functional groups) and classic multi-frame files -> one SliceRef per frame."""
    shared = _item(ds, "SharedFunctionalGroupsSequence")
    per_frame = getattr(ds, "PerFrameFunctionalGroupsSequence", None) or []
    base_thick = _float(ds.get("SpacingBetweenSlices"), None) or _float(ds.get("SliceThickness"), None)
    refs = []
    offsets = _floats(ds.get("GridFrameOffsetVector", []) or [], dfile.frames)
    for f in range(dfile.frames):
        groups = [g for g in (per_frame[f] if f < len(per_frame) else None, shared) if g is not None]

        def find(seq_kw: str, attr: str, groups: list[Dataset] = groups) -> Any:
            for g in groups:
                it = _item(g, seq_kw)
                if it is not None and attr in it:
                    return it.get(attr)
            return None

        pos = _floats(find("PlanePositionSequence", "ImagePositionPatient"), 3)
        iop = _floats(find("PlaneOrientationSequence", "ImageOrientationPatient"), 6)
        spacing = _floats(find("PixelMeasuresSequence", "PixelSpacing"), 2)
        thick = (_float(find("PixelMeasuresSequence", "SpacingBetweenSlices"), None)
                 or _float(find("PixelMeasuresSequence", "SliceThickness"), None) or base_thick)
        slope = _float(find("PixelValueTransformationSequence", "RescaleSlope"), None)
        intercept = _float(find("PixelValueTransformationSequence", "RescaleIntercept"), None)
        if pos is None and not per_frame:
            pos = _floats(ds.get("ImagePositionPatient"), 3)
            iop = _floats(ds.get("ImageOrientationPatient"), 6)
            if pos is not None and iop is not None and offsets is not None:
                # classic multi-frame (RT dose, NM): frames offset along the normal
                pos = pos + offsets[f] * np.cross(iop[:3], iop[3:])
            elif pos is not None:
                pos = None  # frames without their own position: stacked by frame order
        if iop is None:
            iop = _floats(ds.get("ImageOrientationPatient"), 6)
        if spacing is None:
            spacing = _floats(ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing"), 2)
        refs.append(SliceRef(
            dfile, f, pos, iop, tuple(spacing) if spacing is not None else None, thick,
            slope if slope is not None else _float(ds.get("RescaleSlope"), 1.0) or 1.0,
            intercept if intercept is not None else _float(ds.get("RescaleIntercept"), 0.0) or 0.0))
    return refs


# Per-slice tags (see dicom_fastheader.WANTED), read raw: pydicom's value conversion and validation is
# most of what a naive parse costs.
T_SERIES_UID, T_SOP_CLASS, T_ROWS, T_COLS, T_FRAMES = 0x0020000E, 0x00080016, 0x00280010, 0x00280011, 0x00280008
T_BITS_ALLOC, T_BITS_STORED, T_PIXEL_REP, T_SAMPLES = 0x00280100, 0x00280101, 0x00280103, 0x00280002
T_PHOTOMETRIC, T_INSTANCE, T_IPP, T_IOP = 0x00280004, 0x00200013, 0x00200032, 0x00200037
T_SPACING, T_IMAGER_SPACING, T_THICKNESS, T_BETWEEN = 0x00280030, 0x00181164, 0x00180050, 0x00180088
T_SLOPE, T_INTERCEPT, T_MODALITY, T_PER_FRAME = 0x00281053, 0x00281052, 0x00080060, 0x52009230
STACK_TAGS = (0x00180086, 0x00200100, 0x00189087)  # EchoNumbers, TemporalPositionIdentifier, DiffusionBValue
_BINARY = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d"}


def _raw(ds: Dataset, tag: int) -> Any:
    """Value of a simple element of a pydicom Dataset without pydicom's conversion: str, number or list."""
    elem = ds.get_item(tag)
    if elem is None:
        return None
    value = elem.value
    if not isinstance(value, (bytes, bytearray)):
        return value  # already converted (e.g. the element was accessed before)
    vr = elem.VR or dictionary_VR(tag)
    if vr in _BINARY:
        size = struct.calcsize(_BINARY[vr])
        n = len(value) // size
        vals = struct.unpack(f"{'<' if elem.is_little_endian else '>'}{n}{_BINARY[vr]}", value[: n * size])
        return vals[0] if n == 1 else list(vals) if n else None
    parts = [p.strip(" \x00") for p in value.decode("latin-1").split("\\")]
    return parts[0] if len(parts) == 1 else parts


def _int(values: dict[int, Any], tag: int, default: int) -> int:
    value = _float(values.get(tag), None)
    return int(value) if value is not None else default


def _tag(raw: bytes, order: str) -> int:
    return int.from_bytes(raw[:2], order) << 16 | int.from_bytes(raw[2:], order)  # type: ignore[arg-type]


def _pydicom_header(path: Path) -> tuple[Dataset, int | None, str] | None:
    """The general reader: (dataset, pixel offset or None, transfer syntax). None when not DICOM."""
    with open(path, "rb") as fp:
        head = fp.read(132)
        force = head[128:132] != b"DICM"
        # Without a preamble, only try files that start like a dataset (group 0000/0002/0004/0008, either
        # byte order): pydicom's forced parse of a large unrelated file could read far into it.
        if force and (len(head) < 8 or head[:2] not in _FIRST_GROUPS):
            return None
        fp.seek(0)
        ds = pydicom.dcmread(fp, stop_before_pixels=True, force=force)
        offset = fp.tell()
        tag = fp.read(4)
    if not any(t in ds for t in (T_SOP_CLASS, T_ROWS, T_SERIES_UID, T_MODALITY)):
        return None  # pydicom parsed something (it is lenient), but nothing DICOM-like
    has_pixels = len(tag) == 4 and (_tag(tag, "little") in PIXEL_TAGS or _tag(tag, "big") in PIXEL_TAGS)
    meta = getattr(ds, "file_meta", None)
    # no meta: pydicom guessed the encoding; implicit VR little endian is the DICOM default
    ts = str(getattr(meta, "TransferSyntaxUID", "") or "") or IMPLICIT_LE
    if ts == DEFLATED:  # the file offset means nothing inside a deflated stream: ask the full reader
        has_pixels = "PixelData" in pydicom.dcmread(path, force=True)
    return ds, offset if has_pixels else None, ts


def read_header(path: Path) -> DicomFile | None:
    """Parse one file up to its pixel data. None when it is not DICOM at all."""
    ds = None
    try:
        with open(path, "rb") as fp:
            values, offset, ts = read_fast_header(fp)
        if _int(values, T_FRAMES, 1) > 1:
            raise Unsupported("multi-frame")
    except Unsupported:
        found = _pydicom_header(path)
        if found is None:
            return None
        ds, offset, ts = found
        values = {t: _raw(ds, t) for t in WANTED}
    dfile = DicomFile(
        path=path, series_uid=str(values.get(T_SERIES_UID) or f"file:{path}"),
        sop_class=str(values.get(T_SOP_CLASS) or ""), rows=_int(values, T_ROWS, 0), cols=_int(values, T_COLS, 0),
        frames=max(1, _int(values, T_FRAMES, 1)), pixel_offset=offset, transfer_syntax=ts,
        bits_allocated=_int(values, T_BITS_ALLOC, 16), bits_stored=_int(values, T_BITS_STORED, 0),
        signed=_int(values, T_PIXEL_REP, 0) == 1, samples=_int(values, T_SAMPLES, 1),
        instance=_int(values, T_INSTANCE, 0), photometric=str(values.get(T_PHOTOMETRIC) or "MONOCHROME2"),
        stack_id=tuple(_float(values.get(t), None) for t in STACK_TAGS), header=ds)
    if offset is None or dfile.rows <= 0 or dfile.cols <= 0:
        dfile.pixel_offset = None  # no image to show (no pixels, or no image size to lay them out)
        return dfile
    _check_declared_size(dfile)
    if ds is not None and (dfile.frames > 1 or T_PER_FRAME in ds):
        dfile.slices = _frame_refs(dfile, ds)
    else:
        spacing = _floats(values.get(T_SPACING) or values.get(T_IMAGER_SPACING), 2)
        dfile.slices = [SliceRef(
            dfile, 0, _floats(values.get(T_IPP), 3), _floats(values.get(T_IOP), 6),
            tuple(spacing) if spacing is not None else None,
            _float(values.get(T_BETWEEN), None) or _float(values.get(T_THICKNESS), None),
            _float(values.get(T_SLOPE), 1.0) or 1.0, _float(values.get(T_INTERCEPT), 0.0) or 0.0)]
    return dfile


def _check_declared_size(dfile: DicomFile) -> None:
    """Refuse a file whose declared frames x rows x columns cannot be in it, before any frame is listed."""
    check_voxels((dfile.cols, dfile.rows, dfile.frames * max(1, dfile.samples)), "pixel data")
    if dfile.frames == 1 or dfile.transfer_syntax == DEFLATED:
        return  # one frame: the pixel pass reports a short file; deflated: the offset says nothing of the size
    size = dfile.path.stat().st_size - (dfile.pixel_offset or 0)
    if dfile.transfer_syntax in (IMPLICIT_LE, EXPLICIT_LE, BIG_ENDIAN):
        needed = dfile.frames * dfile.rows * dfile.cols * max(1, dfile.samples) * max(1, dfile.bits_allocated) // 8
    else:  # compressed: every frame is at least an 8-byte item header
        needed = dfile.frames * 8
    if needed > size:
        raise LoadError(f"declares {dfile.frames} frame(s) of {dfile.cols} x {dfile.rows} "
                        f"but holds only {size} bytes of pixel data")


def read_headers(paths: list[Path], workers: int = 4, progress: Callable[[float, str], None] | None = None,
                 cancel: Callable[[], bool] | None = None) -> tuple[list[DicomFile], list[tuple[Path, str]]]:
    """Headers of all paths, in parallel. Returns (DICOM files, [(path, reason)] for unreadable ones).

    ``progress(fraction, message)`` is told every 64 files; ``cancel()`` is checked as often (Cancelled).
    """

    def one(p: Path) -> tuple[DicomFile | None, str | None]:
        try:
            return read_header(p), None
        except Exception as exc:  # any parse failure means "not usable", reported by the caller
            return None, reason(exc)

    results = []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(paths)))) as pool:
        for n, result in enumerate(pool.map(one, paths), 1):
            results.append(result)
            if n % 64 == 0:
                if cancel is not None and cancel():
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise Cancelled("loading cancelled")
                if progress is not None:
                    progress(n / len(paths), f"read {n} of {len(paths)} headers")
    good, bad = [], []
    for p, (dfile, err) in zip(paths, results):
        if dfile is not None:
            good.append(dfile)
        elif err is not None:
            bad.append((p, err))
    return good, bad
