"""One-line, user-readable reasons for library exceptions raised while reading files."""

from __future__ import annotations

import zlib

from brainlens.core.errors import BrainLensError


def reason(exc: BaseException) -> str:
    """A short, single-line explanation of why a file could not be read."""
    name = type(exc).__name__
    text = " ".join(str(exc).split())  # library messages can span lines; the user gets one
    low = text.lower()
    if isinstance(exc, BrainLensError):
        return text
    if name == "InvalidDicomError":
        return "not a DICOM file"
    if name == "ImageFileError":
        return f"not a readable NIfTI/Analyze file ({text[:120]})" if text else "not a readable NIfTI file"
    if isinstance(exc, EOFError) or any(w in low for w in ("truncat", "end of file", "less than expected")):
        return "the file is truncated"
    if "unable to decode" in low or "no available plugin" in low or "unable to decompress" in low:
        return f"pixel data could not be decoded ({text[:200]})"
    if name == "UnidentifiedImageError":
        return "not a readable image file"
    if isinstance(exc, zlib.error) or name == "BadGzipFile":
        return "corrupt compressed data"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return f"{name}: {text[:160]}" if text else name
