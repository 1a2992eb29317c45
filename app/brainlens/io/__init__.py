"""Readers and writers: `load(path) -> Study` for DICOM, NIfTI, NRRD and raster images."""

from brainlens.io.loader import load

__all__ = ["load"]
