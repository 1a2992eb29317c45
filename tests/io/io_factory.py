"""Synthetic DICOM test data written with pydicom: series (shuffled, oblique, gapped, compressed),
enhanced multi-frame MR, non-image objects, meta-less files."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    BasicTextSRStorage,
    EnhancedMRImageStorage,
    ImplicitVRLittleEndian,
    generate_uid,
)

from brainlens.io.dicom_write import new_file_dataset, slice_datasets

PYDICOM_FILES = Path(pydicom.data.__file__).parent / "test_files"


def pydicom_file(name: str) -> Path | None:
    """A pydicom test file that ships inside the wheel (never downloaded)."""
    path = PYDICOM_FILES / name
    return path if path.exists() else None


def oblique_affine(spacing=(0.9, 1.1, 2.5), angle_deg: float = 20.0, origin=(12.0, -30.0, 45.0)) -> np.ndarray:
    """RAS affine rotated about x then z (an oblique, non-axis-aligned acquisition)."""
    a = np.radians(angle_deg)
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    rz = np.array([[np.cos(a / 2), -np.sin(a / 2), 0], [np.sin(a / 2), np.cos(a / 2), 0], [0, 0, 1]])
    aff = np.eye(4)
    aff[:3, :3] = rz @ rx @ np.diag(spacing)
    aff[:3, 3] = origin
    return aff


def random_volume(shape=(40, 32, 12), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 3000, shape).astype(np.int16)


def write_shuffled_series(folder: Path, data: np.ndarray, affine: np.ndarray, seed: int = 1,
                          **kwargs) -> list[Path]:
    """Series on disk under random names with scrambled InstanceNumbers; returns paths in slice order."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    dss = slice_datasets(data, affine, **kwargs)
    numbers = list(range(1, len(dss) + 1))
    rng.shuffle(numbers)
    names = [f"{rng.getrandbits(48):012x}" for _ in dss]  # no extension, like many PACS exports
    paths = []
    for ds, number, name in zip(dss, numbers, names):
        ds.InstanceNumber = number
        path = folder / name
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def write_datasets(folder: Path, dss: list[Dataset], prefix: str = "IM") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, ds in enumerate(dss):
        path = folder / f"{prefix}{k:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def write_sr(path: Path) -> Path:
    """A Basic Text SR (a report: no pixel data)."""
    ds = new_file_dataset(BasicTextSRStorage)
    ds.Modality, ds.SeriesInstanceUID, ds.StudyInstanceUID = "SR", generate_uid(), generate_uid()
    ds.ContentSequence = Sequence([Dataset()])
    ds.ContentSequence[0].TextValue = "No acute findings."
    ds.save_as(path, enforce_file_format=True)
    return path


def write_metaless(path: Path, ds: Dataset) -> Path:
    """The dataset as raw implicit-VR little-endian, no preamble and no file meta (old scanners do this)."""
    ds = ds.copy()
    ds.file_meta = FileMetaDataset()
    ds.save_as(path, implicit_vr=True, little_endian=True, enforce_file_format=False)
    return path


def enhanced_mr(data: np.ndarray, affine: np.ndarray, frame_order: list[int], slope: float = 1.0,
                intercept: float = 0.0) -> Dataset:
    """An Enhanced MR Image Storage object holding ``data`` slices as frames in ``frame_order``."""
    classic = slice_datasets(data, affine, description="enhanced t2 tse")
    ds = new_file_dataset(EnhancedMRImageStorage)
    ds.Modality, ds.SeriesDescription = "MR", "enhanced t2 tse"
    ds.SeriesInstanceUID, ds.StudyInstanceUID = generate_uid(), generate_uid()
    ds.Rows, ds.Columns, ds.NumberOfFrames = data.shape[1], data.shape[0], len(frame_order)
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit, ds.PixelRepresentation = 15, 1
    shared = Dataset()
    measures, orient, transform = Dataset(), Dataset(), Dataset()
    measures.PixelSpacing = classic[0].PixelSpacing
    measures.SliceThickness = classic[0].SliceThickness
    orient.ImageOrientationPatient = classic[0].ImageOrientationPatient
    transform.RescaleSlope, transform.RescaleIntercept, transform.RescaleType = str(slope), str(intercept), "US"
    shared.PixelMeasuresSequence = Sequence([measures])
    shared.PlaneOrientationSequence = Sequence([orient])
    shared.PixelValueTransformationSequence = Sequence([transform])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames = []
    for k in frame_order:
        item, pos = Dataset(), Dataset()
        pos.ImagePositionPatient = classic[k].ImagePositionPatient
        item.PlanePositionSequence = Sequence([pos])
        frames.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.PixelData = b"".join(np.ascontiguousarray(data[:, :, k].T).tobytes() for k in frame_order)
    return ds


def as_implicit(ds: Dataset) -> Dataset:
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    return ds
