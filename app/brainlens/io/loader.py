"""`load(path) -> Study`: sniff what a path holds and hand each file to its reader.

Every failure the user can cause ends as a LoadError whose message is one readable line.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

from brainlens.core.errors import BrainLensError, Cancelled, LoadError
from brainlens.core.volume import SEQUENCES, Study, Volume
from brainlens.io.dicom import CancelCheck, Progress, load_dicom_files
from brainlens.io.limits import file_kind, require_regular
from brainlens.io.reasons import reason
from brainlens.io.validate import validate_volume
from brainlens.io.volume_files import (
    COMPANION_SUFFIXES,
    NIFTI_SUFFIXES,
    NRRD_SUFFIXES,
    RASTER_SUFFIXES,
    load_nifti,
    load_nrrd,
    load_raster,
    suffix_of,
)

PathLike = str | os.PathLike
_READERS = {**{s: load_nifti for s in NIFTI_SUFFIXES}, **{s: load_nrrd for s in NRRD_SUFFIXES},
            **{s: load_raster for s in RASTER_SUFFIXES}}
_SKIP_NAMES = {"dicomdir", "thumbs.db", "desktop.ini"}
_SKIP_SUFFIXES = {".txt", ".md", ".json", ".xml", ".csv", ".pdf", ".html", ".zip", ".exe", ".py", ".ini", ".log"}


def _wanted(path: Path) -> bool:
    name = path.name.lower()
    return not (name.startswith(".") or name in _SKIP_NAMES or suffix_of(path) in _SKIP_SUFFIXES
                or suffix_of(path) in COMPANION_SUFFIXES)


def _walk(folder: Path) -> tuple[list[Path], list[str]]:
    """Regular files under ``folder`` (symlinked folders are not followed) and notes on what was skipped."""
    found, odd = [], []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(root) / name
            kind = file_kind(path)
            if kind is None:
                found.append(path)
            elif not name.startswith("."):
                odd.append(f"{name} ({kind})")
    notes = [f"skipped {len(odd)} item(s) that are not regular files, e.g. {odd[0]}"] if odd else []
    return found, notes


def _volume_order(vol: Volume) -> tuple:
    rank = SEQUENCES.index(vol.sequence) if vol.sequence in SEQUENCES else len(SEQUENCES)
    return (bool(vol.metadata.get("is_label")), rank, vol.name)


def load(path: PathLike | Sequence[PathLike], volume_index: int = 0, *, progress: Progress | None = None,
         cancel: CancelCheck | None = None) -> Study:
    """Load a DICOM folder/file(s), NIfTI, NRRD or raster image(s) as a Study.

    ``volume_index`` picks the volume of 4D files. ``progress(fraction, message)`` and ``cancel() -> bool``
    let a job runner report and stop the work. Raises LoadError with a one-line reason.
    """
    try:
        with warnings.catch_warnings(record=True) as caught:
            # readers warn about odd-but-readable files; they become the study's notes, never stray stderr
            warnings.simplefilter("always")
            study = _load(path, volume_index, progress, cancel)
        for w in caught:
            note = "reader warning: " + " ".join(str(w.message).split())[:200]
            if note not in study.warnings:
                study.warnings.append(note)
        return study
    except BrainLensError:
        raise
    except MemoryError:
        raise LoadError("not enough memory to load this study") from None
    except Exception as exc:  # anything a library raises on bad input becomes one user-readable line
        raise LoadError(f"cannot load {_label(path)}: {reason(exc)}") from exc


def _label(path: PathLike | Sequence[PathLike]) -> str:
    if isinstance(path, (str, os.PathLike)):
        return Path(path).name or str(path)
    return f"{len(path)} files"


def _load(path: PathLike | Sequence[PathLike], volume_index: int, progress: Progress | None,
          cancel: CancelCheck | None) -> Study:
    skipped: list[str] = []
    if isinstance(path, (str, os.PathLike)):
        if not os.fspath(path).strip():
            raise LoadError("empty path: give a file or folder")
        root = Path(path).expanduser()
        kind = file_kind(root)
        if kind == "missing":
            raise LoadError(f"no such file or folder: {root}")
        if kind == "a folder":
            found, skipped = _walk(root)
            files = [p for p in found if _wanted(p)]
            if not files:
                raise LoadError(f"no files found in folder {root}" + (f" ({skipped[0]})" if skipped else ""))
            explicit = False
        else:
            require_regular(root)
            files, explicit = [root], True
    else:
        files = [Path(p).expanduser() for p in path]
        if not files:
            raise LoadError("no files given")
        for p in files:
            require_regular(p)
        root = Path(os.path.commonpath([str(p.resolve().parent) for p in files]))
        explicit = True
    if progress:
        progress(0.0, f"scanning {len(files)} file(s)")
    by_reader: list[tuple[Path, object]] = []
    dicom: list[Path] = []
    for p in files:
        reader = _READERS.get(suffix_of(p))
        if reader is None and suffix_of(p) in (".img", ".img.gz") and p.with_suffix(".hdr").exists():
            reader = load_nifti
        (by_reader.append((p, reader)) if reader else dicom.append(p))
    volumes: list[Volume] = []
    warnings: list[str] = list(skipped)
    for p, reader in by_reader:
        try:
            volumes.append(validate_volume(reader(p, volume_index)))  # type: ignore[operator]
        except Cancelled:
            raise
        except (MemoryError, Exception) as exc:  # in a folder one bad file is skipped; a named file is an error
            why = "not enough memory" if isinstance(exc, MemoryError) else reason(exc)
            if explicit or len(files) == 1:
                if isinstance(exc, BrainLensError):
                    raise
                raise LoadError(f"cannot read {p.name}: {why}") from exc
            warnings.append(f"skipped {p.name}: {why}")
    volumes.sort(key=_volume_order)
    if dicom:
        dicom_vols, notes = load_dicom_files(dicom, progress=progress, cancel=cancel, explicit=explicit)
        volumes = [validate_volume(v) for v in dicom_vols] + volumes
        warnings.extend(notes)
    if not volumes:
        detail = f" ({'; '.join(warnings)})" if warnings else ""
        raise LoadError(f"no images found in {root}{detail}")
    if progress:
        progress(1.0, f"loaded {len(volumes)} series")
    return Study(volumes, root, warnings)
