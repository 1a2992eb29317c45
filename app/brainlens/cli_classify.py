"""`brainlens classify PATH... [--json] [--gradcam DIR] [--plane axial|coronal|sagittal] [--device ...] [--model NAME]`
`brainlens classify STUDY --study [--seg LABELS] [--json]`: a study-level verdict (see cli_classify_study).

PATH: image files (PNG/JPG/TIFF/BMP, grey or RGB, 8/16-bit), folders of images, or a study (DICOM file or
folder, NIfTI, NRRD): every slice of --plane that holds head signal is then classified. --json prints a
list with one object per image / slice; otherwise a table. --gradcam DIR writes one Grad-CAM overlay PNG
per image / slice and never overwrites a file (a numbered name is chosen instead).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from brainlens.cli_output import dump_strict, one_line, strict_records
from brainlens.core.errors import InputError, LoadError

PLANES = ("axial", "coronal", "sagittal")
RASTER_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
STUDY_HINT_SUFFIXES = (".dcm", ".ima", ".nii", ".gz", ".nrrd", ".nhdr", "")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders of images, or a study")
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    parser.add_argument("--gradcam", metavar="DIR", help="write a Grad-CAM overlay PNG per image/slice here")
    parser.add_argument("--plane", choices=PLANES, default="axial", help="slice plane for 3D studies")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default auto)")
    parser.add_argument("--model", default=None,
                        help="bundled classifier (default: efflite0 when bundled, else brainresnet)")
    parser.add_argument("--batch", type=int, default=32, help="slices per batch (default 32)")
    parser.add_argument("--study", action="store_true",
                        help="one study-level verdict per 3D series instead of per-slice results")
    parser.add_argument("--seg", metavar="LABELS", help="with --study: tumour label volume on the study's grid")


@dataclass
class Item:
    """One 2D input: a raster image (slice None) or a slice of a study series."""

    source: str
    image: np.ndarray
    slice: int | None = None
    plane: str | None = None
    series: str | None = None


def _is_raster(p: Path) -> bool:
    return p.suffix.lower() in RASTER_SUFFIXES


def _load_study(path: Path):
    try:
        from brainlens.io import load  # type: ignore[attr-defined]
    except ImportError:
        raise LoadError(f"{path}: not an image file, and reading studies (DICOM/NIfTI/NRRD) is unavailable") \
            from None
    return load(path)


def expand(paths: list[str]) -> tuple[list[Item], list[tuple[str, Any]]]:
    """(2D items, [(source, Volume)] of 3D series) for the given paths; bad paths raise LoadError."""

    def read_image(path: Path) -> np.ndarray:  # ml (and torch) only once there is an image: refusals stay quick
        from brainlens.ml.classify import read_image as read

        return read(path)

    items: list[Item] = []
    volumes: list[tuple[str, Any]] = []
    for raw in paths:
        if not raw.strip():
            raise LoadError("empty path: give a file or folder")
        p = Path(raw)
        if not p.exists():
            raise LoadError(f"{raw}: no such file or folder")
        if p.is_file() and _is_raster(p):
            items.append(Item(str(p), read_image(p)))
            continue
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith("."))
            rasters = [f for f in files if _is_raster(f)]
            study_like = [f for f in files if f.suffix.lower() in STUDY_HINT_SUFFIXES]
            if rasters and not study_like:
                items += [Item(str(f), read_image(f)) for f in rasters]
                continue
            if not files:
                raise LoadError(f"{raw}: folder holds no images or study files")
        study = _load_study(p)
        if not study.series:
            raise LoadError(f"{raw}: no image series found")
        for vol in study.series:
            label = f"{p} [{vol.name}]" if len(study.series) > 1 and vol.name else str(p)
            if sum(s > 1 for s in vol.shape) <= 2:  # a single slice (e.g. one DICOM image): a 2D input
                items.append(Item(label, np.squeeze(vol.data), series=vol.name or None))
            else:
                volumes.append((label, vol))
    return items, volumes


def _unique_png(directory: Path, stem: str) -> Path:
    """Create and return a new, empty file <stem>.png, <stem>-1.png, ... never replacing an existing one."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:120] or "image"
    for n in range(10000):
        path = directory / (f"{safe}.png" if n == 0 else f"{safe}-{n}.png")
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            continue
        os.close(fd)
        return path
    raise InputError(f"{directory}: too many files named {safe}*.png")


def _write_overlay(directory: Path, stem: str, image: np.ndarray, clf, label: str) -> str:
    import cv2

    from brainlens.ml.gradcam import gradcam, overlay

    heat, _ = gradcam(image, clf, target=label)
    ok, png = cv2.imencode(".png", overlay(image, heat)[..., ::-1])
    if not ok:
        raise InputError(f"could not encode the Grad-CAM overlay for {stem}")
    path = _unique_png(directory, stem)
    path.write_bytes(png.tobytes())
    return str(path)


def _record(item: Item, res, study_label: str | None = None) -> dict[str, Any]:
    rec: dict[str, Any] = {"source": item.source, "slice": item.slice, "plane": item.plane}
    if item.series:
        rec["series"] = item.series
    rec.update(res.to_dict())
    if study_label is not None:
        rec["study_label"] = study_label
    return rec


def _gradcam_dir(arg: str | None) -> Path | None:
    if not arg:
        return None
    d = Path(arg)
    if d.exists() and not d.is_dir():
        raise InputError(f"--gradcam {arg}: exists and is not a folder")
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--gradcam {arg}: cannot create folder ({exc.strerror})") from None
    return d


def run(args: argparse.Namespace) -> int:
    cam_dir = _gradcam_dir(args.gradcam)
    items, volumes = expand(list(args.paths))
    if args.study:
        from brainlens.cli_classify_study import run_study

        return run_study(args, items, volumes)
    if args.seg:
        raise InputError("--seg needs --study")
    from brainlens.core.geometry import to_canonical
    from brainlens.ml.classifier_engine import load_classifier
    from brainlens.ml.classify import classify_many
    from brainlens.ml.classify_volume import classify_volume, display_slice

    clf = load_classifier(args.model, device=args.device)
    rows: list[tuple[Item, Any, str | None]] = []
    for item, res in zip(items, classify_many([i.image for i in items], clf, batch=args.batch)):
        rows.append((item, res, None))
    notes: list[str] = []
    for source, vol in volumes:
        summary = classify_volume(vol, plane=args.plane, batch=args.batch, model=clf)
        canonical = to_canonical(vol)[0].data if cam_dir else None
        for s in summary.slices:
            if s.result is None:
                continue
            image = display_slice(canonical, args.plane, s.index) if canonical is not None else np.empty(0)
            rows.append((Item(source, image, s.index, args.plane, vol.name or None), s.result, summary.label))
        driving = ", ".join(str(i) for i in summary.driving_slices)
        notes.append(f"{source}: study label {summary.label} ({args.plane}; driving slices {driving or 'none'})"
                     + "".join(f"; {n}" for n in summary.notes))
    records = []
    for item, res, study_label in rows:
        rec = _record(item, res, study_label)
        if cam_dir is not None:
            stem = Path(item.source.split(" [")[0]).name.split(".")[0]
            if item.slice is not None:
                stem += f"_{item.plane}{item.slice:03d}"
            rec["gradcam"] = _write_overlay(cam_dir, f"{stem}_gradcam", item.image, clf, res.label)
        records.append(rec)
    if args.json:
        dump_strict(strict_records(records), sys.stdout, indent=1)
        for n in notes:
            sys.stderr.write(f"brainlens: {one_line(n)}\n")
    else:
        _print_table(records, clf.tag)
        for n in notes:
            print(n)
    return 0


def _print_table(records: list[dict[str, Any]], tag: str) -> None:
    width = min(60, max([len(r["source"]) for r in records] + [6]))
    print(f"{'source':<{width}}  {'slice':>5}  {'label':<22} {'conf':>6}  {'entropy':>7}  flags   ({tag})")
    for r in records:
        src = r["source"] if len(r["source"]) <= width else "..." + r["source"][-(width - 3):]
        flags = ",".join(f for f, on in (("uncertain", r["uncertain"]), ("ood", r["ood"])) if on) or "-"
        sl = "-" if r["slice"] is None else str(r["slice"])
        print(f"{src:<{width}}  {sl:>5}  {r['display_label']:<22} {r['confidence']:>6.1%}  {r['entropy']:>7.3f}  "
              f"{flags}")
