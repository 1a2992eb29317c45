"""Writers beside ``load(...)``: ``brainlens.io.save(obj, path)`` picks the format from the suffix.

- a ``Volume`` to ``.nii`` / ``.nii.gz``: NIfTI with the volume's affine as sform and qform (code 1, scanner)
  and, for a mask, where it came from in the header description ("edited" when a person changed it);
- a measurements ``dict`` to ``.json`` (indented) or ``.csv`` (long format: item, measure, value, unit);
- a mask ``Volume`` to ``.dcm`` with ``source=`` its DICOM series: a DICOM SEG (see ``io.dicom_seg``).

Every file goes through the one atomic-write helper (``io.atomic``), never over a ``protect``-ed source
file. ``save_all`` writes several files all-or-nothing.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from brainlens.core.errors import InputError
from brainlens.core.volume import Volume
from brainlens.io.atomic import atomic_files

NIFTI_SUFFIXES = (".nii", ".nii.gz")


def measurements_csv(doc: dict[str, Any]) -> str:
    """Long-format CSV of a measurements document: item, measure, value, unit."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["item", "measure", "value", "unit"])
    if "finding" in doc:  # "tumour detected" / "no tumour detected", and the study-level uncertainty flag
        w.writerow(["study", "finding", doc["finding"], ""])
        w.writerow(["study", "uncertain", "yes" if doc.get("uncertain") else "no", ""])
    for name, r in doc["regions"].items():
        w.writerow([name, "volume_ml", f"{r['volume_ml']:.3f}", "ml"])
        if r.get("volume_ml_range") is not None:
            lo, hi = r["volume_ml_range"]
            w.writerow([name, "volume_ml_p5", f"{lo:.3f}", "ml"])
            w.writerow([name, "volume_ml_p95", f"{hi:.3f}", "ml"])
        w.writerow([name, "max_diameter_mm", f"{r.get('max_diameter_mm', 0.0):.1f}", "mm"])
        w.writerow([name, "lesions", len(r.get("lesions", [])), "count"])
    rano = doc.get("rano")
    if rano:
        for key, unit in (("longest_mm", "mm"), ("perpendicular_mm", "mm"), ("product_mm2", "mm2"),
                          ("slice_index", "index")):
            w.writerow(["rano_enhancing", key, rano[key], unit])
    return buf.getvalue()


def nifti_description(vol: Volume) -> str:
    """At most 80 characters for the NIfTI header: origin and whether it was edited by hand."""
    origin = vol.metadata.get("origin") or {}
    parts = ["BrainLens"]
    if origin.get("model"):
        parts.append(f"{origin['model']} {origin.get('version', '')}".strip())
    elif origin.get("kind"):
        parts.append(str(origin["kind"]))
    if vol.metadata.get("edited"):
        parts.append("edited")
    return "; ".join(parts)[:80]


def write_nifti(vol: Volume, path: Path | str) -> None:
    import nibabel as nib

    img = nib.Nifti1Image(np.asarray(vol.data), vol.affine)
    img.set_qform(vol.affine, code=1)
    img.set_sform(vol.affine, code=1)
    img.header["descrip"] = nifti_description(vol).encode("ascii", "replace")
    nib.save(img, str(path))


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else path.suffix.lower()


def _writer(obj: Any, path: Path, source: Volume | None):
    suffix = _suffix(path)
    if isinstance(obj, Volume) and suffix in NIFTI_SUFFIXES:
        return lambda tmp: write_nifti(obj, tmp)
    if isinstance(obj, Volume) and suffix == ".dcm":
        if source is None:
            raise InputError("a DICOM SEG needs the source DICOM series it segments")
        from brainlens.io.dicom_seg import write_seg

        return lambda tmp: write_seg(obj, source, tmp)
    if isinstance(obj, dict) and suffix == ".json":
        text = json.dumps(obj, indent=2) + "\n"
        return lambda tmp: Path(tmp).write_text(text, encoding="utf-8")
    if isinstance(obj, dict) and suffix == ".csv":
        text = measurements_csv(obj)
        return lambda tmp: Path(tmp).write_text(text, encoding="utf-8")
    if isinstance(obj, str | bytes):
        return lambda tmp: Path(tmp).write_bytes(obj if isinstance(obj, bytes) else obj.encode("utf-8"))
    raise InputError(f"cannot save a {type(obj).__name__} as {path.name} (suffix {suffix or 'missing'})")


def save_all(items: Sequence[tuple[Any, Path | str]], protect: Iterable[Path | str] = (),
             source: Volume | None = None, cancel: Callable[[], bool] | None = None) -> list[Path]:
    """Write every (object, path) pair; either all files appear or none does (inputs are never touched)."""
    paths = [Path(p) for _, p in items]
    writers = [_writer(obj, p, source) for (obj, _), p in zip(items, paths)]  # refuse before writing anything
    try:
        with atomic_files(paths, protect, cancel=cancel) as temps:
            for write, tmp in zip(writers, temps):
                write(tmp)
    except OSError as exc:
        folder = paths[0].parent if paths else Path(".")
        raise InputError(f"cannot write to {folder}: {exc.strerror or exc}") from exc
    return paths


def save(obj: Any, path: Path | str, protect: Iterable[Path | str] = (), source: Volume | None = None) -> Path:
    """Write one object to ``path`` (format from the suffix, see the module doc); returns the path."""
    return save_all([(obj, path)], protect, source)[0]
