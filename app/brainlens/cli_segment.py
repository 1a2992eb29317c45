"""`brainlens segment STUDY [--flair F] [--t1 F] [--t1ce F] [--t2 F] [--out DIR] [--json] ...`

Writes DIR/mask.nii.gz (uint8 labels 0/1/2/4 on the reference series' grid and affine),
DIR/uncertainty.nii.gz (float32 entropy, bits), DIR/measurements.json and DIR/measurements.csv.
DIR is checked before any work (not a file, not an input folder, writable, holding nothing but a previous
result); the four files are written into a temporary folder beside it and published with one rename, so a
failure or a kill leaves the previous result or the new one, never a mix; inputs are never overwritten.
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from brainlens.cli_output import strict_records
from brainlens.core.errors import InputError, LoadError
from brainlens.core.volume import SEQUENCES, Study, Volume
from brainlens.io.publish import check_out_dir, publish_dir
from brainlens.io.writers import measurements_csv, write_nifti

OUTPUTS = ("mask.nii.gz", "uncertainty.nii.gz", "measurements.json", "measurements.csv")


def _path(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("empty path: give a file or folder")
    return Path(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", nargs="?", type=_path,
                        help="folder of NIfTI files (sequence from the file name) or a DICOM study")
    for seq, title in (("flair", "FLAIR"), ("t1", "T1"), ("t1ce", "T1 post-contrast"), ("t2", "T2")):
        parser.add_argument(f"--{seq}", type=_path, metavar="FILE", help=f"{title} series (overrides STUDY)")
    parser.add_argument("--out", type=_path, metavar="DIR", help="write mask, uncertainty and measurements here")
    parser.add_argument("--json", action="store_true", help="print the measurements as JSON on stdout")
    parser.add_argument("--device", default="auto", help="auto|cpu|cuda|mps (default auto)")
    parser.add_argument("--samples", type=int, default=None,
                        help="uncertainty samples (flip TTA + MC dropout); 1 = single pass")


def _load(path: Path) -> Study:
    if not path.exists():
        raise LoadError(f"{path}: no such file or folder")
    from brainlens.io import load  # the shared reader: DICOM, NIfTI, NRRD

    return load(path)


def _volumes(args: argparse.Namespace) -> tuple[dict[str, Volume], str]:
    found: dict[str, Volume] = {}
    source = str(args.study) if args.study else ""
    if args.study is not None:
        for seq, vol in _load(args.study).by_sequence().items():
            if seq in SEQUENCES and not vol.metadata.get("is_label"):
                found[seq] = vol
    for seq in SEQUENCES:
        path = getattr(args, seq)
        if path is None:
            continue
        images = [v for v in _load(path).series if not v.metadata.get("is_label")]
        if not images:
            raise LoadError(f"{path}: no image series found")
        found[seq] = images[0]
        source = source or str(path)
    if args.study is None and not found:
        raise InputError("give a STUDY folder or at least one of --flair, --t1, --t1ce, --t2")
    return found, source


def _input_paths(args: argparse.Namespace) -> set[Path]:
    paths = [args.study] + [getattr(args, s) for s in SEQUENCES]
    out = set()
    for p in paths:
        if p is None:
            continue
        p = p.resolve()
        out.add(p)
        if p.is_dir():
            out.update(q.resolve() for q in p.iterdir())
    return out


def check_targets(out_dir: Path, inputs: set[Path]) -> list[Path]:
    """The four output paths; refuses any that is one of the inputs (checked before any work is done)."""
    targets = [(out_dir / name).resolve() for name in OUTPUTS]
    clash = [t for t in targets if t in inputs]
    if clash:
        raise InputError(f"--out would overwrite an input file ({clash[0].name}); choose another folder")
    return targets


def write_outputs(result: Any, doc: dict[str, Any], out_dir: Path, inputs: set[Path]) -> list[Path]:
    """All four files into a temporary folder, published as ``out_dir`` with one rename (all or nothing)."""
    check_targets(out_dir, inputs)

    def write(folder: Path) -> None:
        write_nifti(result.mask, folder / OUTPUTS[0])
        write_nifti(result.uncertainty, folder / OUTPUTS[1])
        (folder / OUTPUTS[2]).write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        (folder / OUTPUTS[3]).write_text(measurements_csv(doc), encoding="utf-8")

    publish_dir(out_dir, write)
    return [out_dir / name for name in OUTPUTS]


class _StderrProgress:
    """One stderr line per 10 % step (or a live line on a terminal)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = -1

    def __call__(self, fraction: float, message: str) -> None:
        pct = int(fraction * 100)
        if self.tty:
            sys.stderr.write(f"\r{pct:3d}%  {message[:70]:<70}")
            if fraction >= 1:
                sys.stderr.write("\n")
        elif pct // 10 != self.last:
            self.last = pct // 10
            sys.stderr.write(f"{pct:3d}%  {message}\n")
        sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    if args.samples is not None and args.samples < 1:
        raise InputError("--samples must be at least 1")
    if args.out is not None:  # every reason to refuse the target comes before any work
        check_targets(args.out, _input_paths(args))
        folders = [p for p in [args.study] + [getattr(args, s) for s in SEQUENCES] if p is not None and p.is_dir()]
        check_out_dir(args.out, folders, OUTPUTS)
    volumes, source = _volumes(args)
    from brainlens.ml.segment import DEFAULT_SAMPLES, segment

    result = segment(volumes, progress=_StderrProgress(), samples=args.samples or DEFAULT_SAMPLES,
                     device=args.device)
    doc = strict_records([result.to_json(source)])[0]  # NaN / infinity -> null with a warning: strict JSON
    if args.out is not None:
        written = write_outputs(result, doc, args.out, _input_paths(args))
        sys.stderr.write(f"wrote {', '.join(p.name for p in written)} to {args.out}\n")
    for w in result.warnings:
        sys.stderr.write(f"warning: {w}\n")
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2, allow_nan=False) + "\n")
    else:
        for name, r in doc["regions"].items():
            lo, hi = r["volume_ml_range"]
            sys.stdout.write(f"{name:16s} {r['volume_ml']:8.2f} ml  (range {lo:.2f}-{hi:.2f})  "
                             f"{len(r['lesions'])} lesion(s)\n")
        if doc["rano"]:
            ra = doc["rano"]
            sys.stdout.write(f"RANO (enhancing)  {ra['longest_mm']:.1f} x {ra['perpendicular_mm']:.1f} mm = "
                             f"{ra['product_mm2']:.0f} mm2 on slice {ra['slice_index']}\n")
        sys.stdout.write(f"{result.device}, {result.seconds:.1f} s; research use only, not for diagnosis\n")
    return 0
