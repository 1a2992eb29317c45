"""Readers and writers: `load(path) -> Study` for DICOM, NIfTI, NRRD and raster images; `save(obj, path)`."""

from brainlens.io.loader import load
from brainlens.io.save import save, save_all

__all__ = ["load", "save", "save_all"]
