"""Readers and writers: `load(path) -> Study` for DICOM, NIfTI, NRRD and raster images; `save(obj, path)`.

The names are resolved on first use (PEP 562), so importing a light submodule such as ``brainlens.io.atomic``
does not pull pydicom and nibabel onto the window's start-up path.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load", "save", "save_all"]


def __getattr__(name: str) -> Any:
    if name == "load":
        from brainlens.io.loader import load

        return load
    if name in ("save", "save_all"):  # the module is `writers`, so `brainlens.io.save` stays the function
        from brainlens.io import writers

        return getattr(writers, name)
    raise AttributeError(f"module 'brainlens.io' has no attribute {name!r}")
