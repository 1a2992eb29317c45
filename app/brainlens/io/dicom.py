"""DICOM series loading: headers first (parallel, no pixels), group into series and stacks, sort along
the slice normal, then read pixels (parallel) straight into the output volume."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from pydicom.uid import UID

from brainlens.core.errors import Cancelled, LoadError
from brainlens.core.patient import PatientInfo
from brainlens.core.sequence import detect_sequence
from brainlens.core.volume import Volume
from brainlens.io.dicom_geometry import LPS_TO_RAS, stack_geometry
from brainlens.io.dicom_pixels import read_frames
from brainlens.io.dicom_scan import DicomFile, SliceRef, read_headers
from brainlens.io.limits import check_voxels
from brainlens.io.reasons import reason

Progress = Callable[[float, str], None]
CancelCheck = Callable[[], bool]
_SEG_SOP_CLASSES = {"1.2.840.10008.5.1.4.1.1.66.4"}  # Segmentation Storage: a label map
WORKERS = 4  # threads overlap file I/O and the C decoders; header parsing holds the GIL, so more do not help


def _stack_key(s: SliceRef) -> tuple:
    iop = tuple(np.round(s.orientation, 3)) if s.orientation is not None else None
    return (s.file.series_uid, iop, s.file.rows, s.file.cols, s.file.stack_id)


def _sop_name(uid: str) -> str:
    name = UID(uid).name if uid else ""
    return name if name and name != uid else (uid or "unknown type")


def _check(cancel: CancelCheck | None) -> None:
    if cancel is not None and cancel():
        raise Cancelled("loading cancelled")


def load_dicom_files(paths: list[Path], *, progress: Progress | None = None,
                     cancel: CancelCheck | None = None, explicit: bool = False) -> tuple[list[Volume], list[str]]:
    """Volumes (one per series stack) from DICOM candidate files, plus study-level notes.

    ``explicit``: the user named these files, so a file that is not DICOM is an error, not a skip.
    """
    _check(cancel)
    sub = (lambda f, m: progress(0.3 * f, m)) if progress else None
    files, bad = read_headers(paths, WORKERS, sub, cancel)
    _check(cancel)
    if progress:
        progress(0.3, f"read {len(files)} DICOM header(s)")
    notes: list[str] = []
    not_dicom = len(paths) - len(files) - len(bad)
    if explicit and (bad or not_dicom):
        path, reason = bad[0] if bad else (next(p for p in paths if p not in {f.path for f in files}),
                                           "not a DICOM file")
        raise LoadError(f"cannot read {path.name}: {reason}")
    if bad:
        notes.append(f"skipped {len(bad)} unreadable file(s), e.g. {bad[0][0].name} ({bad[0][1]})")
    if not_dicom:
        notes.append(f"ignored {not_dicom} file(s) that are not DICOM")
    skipped = [f for f in files if f.pixel_offset is None or not f.slices]
    no_pixels = [f for f in skipped if f.rows > 0 and f.cols > 0]  # an image header whose pixel data is absent
    if no_pixels:
        notes.append(f"skipped {len(no_pixels)} image file(s) without pixel data, e.g. {no_pixels[0].path.name}")
        skipped = [f for f in skipped if f not in no_pixels]
    if skipped:
        kinds = sorted({f.tags.get("Modality") or _sop_name(f.sop_class) for f in skipped})
        notes.append(f"skipped {len(skipped)} non-image DICOM object(s): {', '.join(map(str, kinds))}")
    stacks: dict[tuple, list[SliceRef]] = defaultdict(list)
    for f in files:
        for s in f.slices:
            stacks[_stack_key(s)].append(s)
    per_series: dict[str, int] = defaultdict(int)
    for key in stacks:
        per_series[key[0]] += 1
    volumes = []
    for n, (key, slices) in enumerate(sorted(stacks.items(), key=lambda kv: _sort_key(kv[1][0]))):
        _check(cancel)
        vol = _build_volume(slices, cancel, split=per_series[key[0]] > 1)
        volumes.append(vol)
        if progress:
            progress(0.3 + 0.7 * (n + 1) / len(stacks), f"loaded {vol.name}")
    seen: dict[str, int] = defaultdict(int)
    for vol in volumes:  # tell the stacks of a split series apart by name
        uid = vol.metadata["series_uid"]
        if per_series[uid] > 1:
            seen[uid] += 1
            vol.name = f"{vol.name} [{seen[uid]}/{per_series[uid]}]"
    return volumes, notes


def _sort_key(s: SliceRef) -> tuple:
    number = s.file.tags.get("SeriesNumber")
    return (number if isinstance(number, int) else 10**9, str(s.file.tags.get("SeriesDescription", "")),
            s.file.series_uid, str(s.file.path))


def _orientation_usable(iop: np.ndarray | None) -> bool:
    """ImageOrientationPatient holds two (near) unit, (near) perpendicular direction cosines."""
    if iop is None:
        return True  # absent, not broken: the caller's no-position path says so
    row, col = np.asarray(iop[:3], float), np.asarray(iop[3:6], float)
    norms = np.linalg.norm(row), np.linalg.norm(col)
    return all(0.5 < n < 2.0 for n in norms) and abs(float(row @ col)) / (norms[0] * norms[1]) < 0.1


def _geometry(slices: list[SliceRef]) -> tuple[list[int], list[int], int, np.ndarray, list[str], bool]:
    """(order, slots, n_slots, affine, warnings, spacing_known) for one stack."""
    first = slices[0]
    spacing = first.pixel_spacing or (1.0, 1.0)
    known = first.pixel_spacing is not None
    usable = _orientation_usable(first.orientation)
    if usable and all(s.position is not None and s.orientation is not None for s in slices):
        g = stack_geometry(np.array([s.position for s in slices]), first.orientation, spacing,
                           first.thickness or 1.0)
        return g.order, g.slots, g.n_slots, g.affine, g.warnings, known
    order = sorted(range(len(slices)), key=lambda i: (slices[i].file.instance, slices[i].frame,
                                                      str(slices[i].file.path)))
    step = first.thickness or 1.0
    lps = np.diag([spacing[1], spacing[0], step, 1.0])
    warns = ["no patient position in the header: slices stacked by instance number, orientation unknown"
             if usable else "image orientation in the header is unusable (zero or parallel axes): slices stacked "
             "by instance number, orientation unknown"]
    if not known:
        warns.append("pixel spacing unknown: 1 mm assumed")
    return order, list(range(len(order))), len(order), LPS_TO_RAS @ lps, warns, known


def _read_all(files: list[DicomFile], cancel: CancelCheck | None) -> dict[Path, tuple[np.ndarray | None, str]]:
    def one(f: DicomFile) -> tuple[np.ndarray | None, str]:
        if cancel is not None and cancel():
            return None, "cancelled"
        try:
            arr, note = read_frames(f)
            return arr, note or ""
        except Exception as exc:  # a corrupt slice must not sink the whole series; caller reports it
            return None, "ERROR " + reason(exc)

    with ThreadPoolExecutor(max_workers=max(1, min(WORKERS, len(files)))) as pool:
        return dict(zip([f.path for f in files], pool.map(one, files)))


def _check_extent(kept: list[SliceRef], n_slots: int) -> None:
    """The grid the slice positions span, checked before any pixel is read: one slice far away from the others
    would otherwise make a grid of mostly empty slots (250,000 of them for a slice 500 m off a 2 mm stack)."""
    first = kept[0].file
    check_voxels((first.cols, first.rows, n_slots), _name(first))
    if n_slots > max(4 * len(kept), len(kept) + 64):
        raise LoadError(f"{_name(first)}: its {len(kept)} slice positions span {n_slots} slice steps (a slice lies "
                        "far outside the stack?); refusing rather than filling the gap")


def _build_volume(slices: list[SliceRef], cancel: CancelCheck | None, split: bool) -> Volume:
    order, slots, n_slots, affine, warns, known = _geometry(slices)
    kept = [slices[i] for i in order]
    _check_extent(kept, n_slots)
    files = list({id(s.file): s.file for s in kept}.values())
    pixels = _read_all(files, cancel)
    _check(cancel)
    first = kept[0].file
    failed = [f for f in files if pixels[f.path][0] is None]
    if len(failed) == len(files):
        raise LoadError(f"cannot decode {first.path.name}: {pixels[first.path][1].removeprefix('ERROR ')}")
    if failed:
        warns.append(f"{len(failed)} file(s) could not be decoded and were left blank, e.g. {failed[0].path.name} "
                     f"({pixels[failed[0].path][1].removeprefix('ERROR ')})")
    notes = {pixels[f.path][1] for f in files if pixels[f.path][0] is not None and pixels[f.path][1]}
    warns.extend(sorted(notes))
    sample = next(pixels[f.path][0] for f in files if pixels[f.path][0] is not None)
    rescaled = any(s.slope != 1.0 or s.intercept != 0.0 for s in kept)
    if rescaled or sample.dtype.kind == "f":
        dtype = np.dtype(np.float32)
    else:
        dtype = sample.dtype.newbyteorder("=")  # big-endian files decode to '>i2'; store native
    out = np.empty((n_slots, first.rows, first.cols), dtype=dtype)
    filled = np.zeros(n_slots, dtype=bool)
    for s, slot in zip(kept, slots):
        arr = pixels[s.file.path][0]
        if arr is None:
            continue
        frame = arr[s.frame]
        if rescaled:
            np.multiply(frame, s.slope, out=out[slot], casting="unsafe")
            out[slot] += s.intercept
        else:
            out[slot] = frame
        filled[slot] = True
    if not filled.all():
        out[~filled] = out[filled].min()
    if split:
        warns.append("series split into several stacks: its images differ in orientation, size, echo, "
                     "time point or b-value")
    data = out.transpose(2, 1, 0)  # (slot, row, col) -> (i=col, j=row, k=slot), no copy
    return Volume(data, affine, _name(first), _sequence(first), _metadata(first, files, kept), warns, known)


def _name(f: DicomFile) -> str:
    desc = str(f.tags.get("SeriesDescription") or f.tags.get("ProtocolName") or "").strip()
    number = f.tags.get("SeriesNumber")
    label = " ".join(str(x) for x in (number, desc) if x not in (None, ""))
    return label or f.path.stem


def _sequence(f: DicomFile) -> str | None:
    if f.tags.get("Modality") not in (None, "MR") or f.sop_class in _SEG_SOP_CLASSES:
        return None
    text = " ".join(str(f.tags.get(k) or "") for k in ("SeriesDescription", "ProtocolName", "SequenceName"))
    return detect_sequence(text, f.tags)


def _metadata(f: DicomFile, files: list[DicomFile], kept: list[SliceRef]) -> dict:
    t = f.tags
    return {
        "format": "dicom", "modality": t.get("Modality"), "description": t.get("SeriesDescription") or "",
        "series_uid": f.series_uid, "study_uid": t.get("StudyInstanceUID"), "series_number": t.get("SeriesNumber"),
        "protocol": t.get("ProtocolName"), "patient_hash": f.patient_hash, "n_files": len(files),
        "n_images": len(kept), "source_paths": [str(x.path) for x in files],
        "echo_time": t.get("EchoTime"), "repetition_time": t.get("RepetitionTime"),
        "inversion_time": t.get("InversionTime"), "flip_angle": t.get("FlipAngle"),
        "field_strength": t.get("MagneticFieldStrength"), "manufacturer": t.get("Manufacturer"),
        "contrast_agent": t.get("ContrastBolusAgent"), "transfer_syntax": _sop_name(f.transfer_syntax),
        "sop_class": _sop_name(f.sop_class), "is_label": f.sop_class in _SEG_SOP_CLASSES, "tags": dict(t),
        "patient": PatientInfo.from_tags(t).as_dict(), "frame_of_reference": t.get("FrameOfReferenceUID") or "",
    }
