"""Decode sequential JPEG frames whose start-of-scan header is non-conformant.

Some 12-bit JPEG Extended (process 4) files, pydicom's own ``JPEG-lossy.dcm`` among them, write a spectral
selection of 0..0 in the SOS header where a sequential JPEG must say 0..63. libjpeg (pylibjpeg), GDCM and Pillow
all refuse such a stream ("scan start must be zero and scan stop must be 63"), yet its entropy-coded data holds
all 64 coefficients: with the two header bytes set to 0 and 63 it decodes to the intended image. Nothing else
in the stream is changed, and only streams that are sequential (SOF0 / SOF1) are touched.
"""

from __future__ import annotations

import numpy as np

_SOS, _SEQUENTIAL_SOF = b"\xff\xda", (b"\xff\xc0", b"\xff\xc1")
_REPAIRABLE = "scan start must be zero"  # libjpeg's complaint, as pydicom passes it on


def repair_spectral_selection(frame: bytes) -> bytes | None:
    """The frame with its first scan's spectral selection set to 0..63, or None when there is nothing to fix."""
    sos = frame.find(_SOS)
    if sos < 0 or not any(0 <= frame.find(m) < sos for m in _SEQUENTIAL_SOF):
        return None
    n_components = frame[sos + 4] if sos + 4 < len(frame) else 0
    at = sos + 5 + 2 * n_components  # Ss, then Se
    if at + 1 >= len(frame) or (frame[at], frame[at + 1]) == (0, 63):
        return None
    fixed = bytearray(frame)
    fixed[at], fixed[at + 1] = 0, 63
    return bytes(fixed)


def decode_repaired(ds, error: Exception) -> np.ndarray:
    """Frames (n, rows, cols) of an unsigned greyscale JPEG whose only fault is the SOS spectral selection;
    re-raises ``error`` for anything else."""
    if _REPAIRABLE not in str(error) or int(ds.get("PixelRepresentation", 0) or 0) != 0 \
            or int(ds.get("SamplesPerPixel", 1) or 1) != 1:
        raise error
    from pydicom.encaps import generate_frames
    from pylibjpeg import decode

    frames = []
    for frame in generate_frames(ds.PixelData, number_of_frames=int(ds.get("NumberOfFrames", 1) or 1)):
        fixed = repair_spectral_selection(frame)
        if fixed is None:
            raise error
        frames.append(np.asarray(decode(fixed)))
    arr = np.stack(frames)
    if arr.shape[1:] != (int(ds.Rows), int(ds.Columns)):
        raise error
    return arr
