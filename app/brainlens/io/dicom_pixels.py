"""DICOM pixel pass. Uncompressed little-endian files are read straight from the offset the header pass
found (no second parse); everything else (JPEG, JPEG 2000, JPEG-LS, RLE, big endian, deflate) goes through
pydicom's decoders with the pylibjpeg plugins."""

from __future__ import annotations

import numpy as np
import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from brainlens.io.dicom_jpeg_repair import decode_repaired
from brainlens.io.dicom_scan import DicomFile

_RAW_SYNTAXES = {str(ExplicitVRLittleEndian), str(ImplicitVRLittleEndian)}
_LONG_VRS = {b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"UN", b"SQ", b"UT", b"UR", b"UC"}


def _raw_frames(dfile: DicomFile) -> np.ndarray | None:
    """Frames (n, rows, cols) read directly from disk, or None when the fast path does not apply."""
    if (dfile.transfer_syntax not in _RAW_SYNTAXES or dfile.pixel_offset is None or dfile.samples != 1
            or dfile.bits_allocated not in (8, 16, 32)
            or dfile.photometric not in ("MONOCHROME1", "MONOCHROME2")):
        return None
    dtype = np.dtype(f"{'i' if dfile.signed else 'u'}{dfile.bits_allocated // 8}").newbyteorder("<")
    count = dfile.frames * dfile.rows * dfile.cols
    with open(dfile.path, "rb") as fp:
        fp.seek(dfile.pixel_offset)
        head = fp.read(8)
        if len(head) < 8 or head[:4] != b"\xe0\x7f\x10\x00":
            return None
        if dfile.transfer_syntax == str(ExplicitVRLittleEndian):
            if head[4:6] not in _LONG_VRS:
                return None
            length = int.from_bytes(fp.read(4), "little")
        else:
            length = int.from_bytes(head[4:8], "little")
        if length == 0xFFFFFFFF or length < count * dtype.itemsize:
            return None  # undefined length (encapsulated) or truncated: let pydicom explain
        arr = np.fromfile(fp, dtype=dtype, count=count)
    if arr.size != count:
        return None
    arr = arr.reshape(dfile.frames, dfile.rows, dfile.cols)
    stored = dfile.bits_stored
    if dfile.signed and 0 < stored < dfile.bits_allocated:
        shift = dfile.bits_allocated - stored  # sign-extend e.g. 12-bit signed values held in 16 bits
        arr = (arr << shift) >> shift
    return arr


def _grey(arr: np.ndarray) -> np.ndarray:
    """RGB(-like) last axis -> luma, as float32."""
    return (arr[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32))


def read_frames(dfile: DicomFile) -> tuple[np.ndarray, str | None]:
    """All frames of one file as (n, rows, cols), plus a note when colour was turned into grey."""
    arr = _raw_frames(dfile)
    if arr is not None:
        return arr, None
    ds = pydicom.dcmread(dfile.path, force=True)
    if getattr(ds, "file_meta", None) is None:
        ds.file_meta = FileMetaDataset()
    if "TransferSyntaxUID" not in ds.file_meta:
        ds.file_meta.TransferSyntaxUID = dfile.transfer_syntax  # meta-less file: use what the header pass saw
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    note = None
    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        arr = _grey(apply_color_lut(ds.pixel_array, ds))
        note = "palette colour image converted to grey"
    else:
        try:
            arr = ds.pixel_array
        except Exception as exc:  # a JPEG with a broken scan header decodes once repaired; anything else re-raises
            arr = decode_repaired(ds, exc)
            note = "non-conformant JPEG scan header (spectral selection) repaired to decode the pixels"
        if int(ds.get("SamplesPerPixel", 1) or 1) > 1:
            arr = _grey(arr)
            note = "colour image converted to grey"
    frames = dfile.frames
    if arr.ndim == 2:
        arr = arr[np.newaxis]
    if arr.shape[0] != frames:
        raise ValueError(f"expected {frames} frame(s), decoded {arr.shape[0]}")
    return arr, note
