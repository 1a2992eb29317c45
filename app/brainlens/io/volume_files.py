"""Single-file volume formats: NIfTI / Analyze (nibabel), NRRD (pynrrd) and raster images (Pillow).

Each reader returns a Volume on its stored grid with its voxel->RAS affine; nothing is reoriented here.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from brainlens.core.errors import LoadError
from brainlens.core.sequence import detect_sequence, is_label_name
from brainlens.core.volume import Volume
from brainlens.io.limits import check_raster, check_voxels, require_regular

NIFTI_SUFFIXES = (".nii", ".nii.gz", ".hdr", ".mgz", ".mgh")
NRRD_SUFFIXES = (".nrrd", ".nhdr")
RASTER_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
# Companion files read through their header (.img of .hdr, .raw of .nhdr): never loaded on their own.
COMPANION_SUFFIXES = (".img", ".img.gz", ".raw", ".raw.gz")


def suffix_of(path: Path) -> str:
    name = path.name.lower()
    for suffix in NIFTI_SUFFIXES + NRRD_SUFFIXES + RASTER_SUFFIXES + COMPANION_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def stem_of(path: Path) -> str:
    suffix = suffix_of(path)
    return path.name[: len(path.name) - len(suffix)] if suffix else path.name


def _finish(data: np.ndarray, affine: np.ndarray, path: Path, fmt: str, warnings: list[str],
            extra: dict[str, Any] | None = None, spacing_known: bool = True) -> Volume:
    """Volume with the name-based sequence guess and label flag every file format shares."""
    stem = stem_of(path)
    label = is_label_name(stem)
    meta = {"format": fmt, "modality": "MR" if fmt != "image" and not label else None, "description": stem,
            "series_uid": f"file:{path.resolve()}", "n_files": 1, "source_paths": [str(path)], "is_label": label}
    meta.update(extra or {})
    sequence = None if label else detect_sequence(stem)
    return Volume(data, affine, stem, sequence, meta, warnings, spacing_known)


def _pick_volume(data: np.ndarray, volume_index: int, path: Path, warnings: list[str]) -> np.ndarray:
    """3D from 2D/3D/4D data; for 4D take ``volume_index`` and say how many there were."""
    while data.ndim > 4 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim == 4:
        n = data.shape[3]
        if not -n <= volume_index < n:
            raise LoadError(f"{path.name} has {n} volumes; volume index {volume_index} does not exist")
        warnings.append(f"4D file with {n} volumes; showing volume {volume_index % n} (0-based)")
        return np.ascontiguousarray(data[..., volume_index])
    if data.ndim == 2:
        return data[:, :, np.newaxis]
    if data.ndim != 3:
        raise LoadError(f"{path.name}: cannot show a {data.ndim}D image of shape {data.shape}")
    return data


@contextlib.contextmanager
def _nibabel_messages(warns: list[str]) -> Iterator[None]:
    """nibabel reports header fixes through its own logger, straight to stderr: collect them as warnings."""
    from nibabel import imageglobals

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = "NIfTI header: " + " ".join(record.getMessage().split())[:200]
            if text not in warns:
                warns.append(text)

    logger = imageglobals.logger
    saved, propagate = logger.handlers[:], logger.propagate
    logger.handlers, logger.propagate = [Collect()], False
    try:
        yield
    finally:
        logger.handlers, logger.propagate = saved, propagate


def load_nifti(path: Path, volume_index: int = 0) -> Volume:
    warns: list[str] = []
    with _nibabel_messages(warns):
        return _load_nifti(path, volume_index, warns)


def _load_nifti(path: Path, volume_index: int, warns: list[str]) -> Volume:
    import nibabel as nib

    img = nib.load(str(path))
    header = img.header
    check_voxels(img.shape, path.name, header.get_data_dtype().itemsize)  # declared size, before any voxel
    # dataobj applies scl_slope/inter; keep integer storage when the header does not scale
    data = np.asanyarray(img.dataobj)
    data = _pick_volume(data, volume_index, path, warns)
    extra: dict[str, Any] = {"n_volumes": int(img.shape[3]) if len(img.shape) >= 4 else 1}
    if isinstance(img, nib.Nifti1Image):  # Nifti2Image subclasses it
        qcode, scode = int(header["qform_code"]), int(header["sform_code"])
        extra.update(qform_code=qcode, sform_code=scode)
        if qcode == 0 and scode == 0:
            warns.append("no orientation in the NIfTI header (qform/sform code 0); axes assumed RAS")
    return _finish(data, img.affine, path, "nifti", warns, extra)


_SPACE_SIGNS = {  # flips that take the NRRD world frame to RAS
    "right-anterior-superior": (1, 1, 1), "ras": (1, 1, 1),
    "left-posterior-superior": (-1, -1, 1), "lps": (-1, -1, 1),
    "left-anterior-superior": (-1, 1, 1), "las": (-1, 1, 1),
    "scanner-xyz": (1, 1, 1), "3d-right-handed": (1, 1, 1),
}


def load_nrrd(path: Path, volume_index: int = 0) -> Volume:
    import nrrd

    header = nrrd.read_header(str(path))
    sizes = header.get("sizes")
    check_voxels(sizes if sizes is not None else [0], path.name)  # declared size, before any voxel
    detached = header.get("data file") or header.get("datafile")
    if isinstance(detached, str) and detached.upper() != "LIST" and "%" not in detached:
        require_regular(path.parent / detached)  # e.g. /dev/zero would be read without end
    data, header = nrrd.read(str(path))
    warns: list[str] = []
    kinds = [str(k).lower() for k in header.get("kinds", [])]
    directions = header.get("space directions")
    spatial = list(range(data.ndim))
    if directions is not None:
        rows = [np.asarray(r, dtype=float) for r in directions]
        spatial = [a for a, r in enumerate(rows) if r.size and np.all(np.isfinite(r))]
    elif kinds:
        spatial = [a for a, k in enumerate(kinds) if k in ("domain", "space")] or spatial
    nonspatial = [a for a in range(data.ndim) if a not in spatial]
    # put the spatial axes first so a list/vector axis becomes the 4th (chosen by volume_index)
    data = np.moveaxis(data, spatial + nonspatial, list(range(data.ndim)))
    if len(spatial) > 3:
        raise LoadError(f"{path.name}: {len(spatial)} spatial axes are not supported")
    space = str(header.get("space", "right-anterior-superior")).lower()
    signs = np.array(_SPACE_SIGNS.get(space, (1, 1, 1)), dtype=float)
    if space not in _SPACE_SIGNS:
        warns.append(f"NRRD space '{space}' not understood; treated as RAS")
    affine = np.eye(4)
    known = True
    if directions is not None:
        for col, a in enumerate(spatial):
            vec = np.asarray(directions[a], dtype=float)
            affine[: vec.size, col] = vec * signs[: vec.size]
        origin = np.asarray(header.get("space origin", np.zeros(3)), dtype=float)
        affine[: origin.size, 3] = np.nan_to_num(origin) * signs[: origin.size]
    else:
        spacings = header.get("spacings")
        if spacings is not None and np.all(np.isfinite(np.asarray(spacings, float)[spatial])):
            for col, a in enumerate(spatial):
                affine[col, col] = float(spacings[a])
        else:
            known = False
            warns.append("no voxel spacing in the NRRD header: 1 mm assumed")
    data = _pick_volume(data, volume_index, path, warns)
    return _finish(data, affine, path, "nrrd", warns, {"space": space}, known)


def load_raster(path: Path, volume_index: int = 0) -> Volume:
    """PNG/JPEG/TIFF/BMP as a one-slice volume (pages of a multi-page TIFF become slices)."""
    from PIL import Image, ImageSequence

    warns = ["pixel spacing unknown for a plain image: 1 mm assumed"]
    check_raster(path)  # size from the header first: a small PNG can decode to gigabytes
    with Image.open(path) as img:
        pages = []
        colour = False
        for page in ImageSequence.Iterator(img):
            if page.mode in ("I;16", "I;16B", "I;16L", "I", "F", "L"):
                arr = np.asarray(page)
            else:
                colour = colour or page.mode not in ("1", "LA")
                arr = np.asarray(page.convert("L"))  # ITU-R 601 luma, as radiology PACS exports are greyscale
            pages.append(arr)
    if colour:
        warns.append("colour image converted to grey")
    shapes = {p.shape for p in pages}
    if len(shapes) > 1:
        warns.append(f"{len(pages)} pages of different sizes: showing the first")
        pages = pages[:1]
    stack = np.stack(pages, axis=0)  # (page, row, col)
    data = np.ascontiguousarray(stack.transpose(2, 1, 0))  # i = column, j = row, as DICOM
    affine = np.diag([-1.0, -1.0, 1.0, 1.0])  # the DICOM axial default (rows go posterior) so it shows upright
    return _finish(data, affine, path, "image", warns, {"n_pages": len(pages)}, spacing_known=False)
