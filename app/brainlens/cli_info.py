"""`brainlens info PATH [--json]`: what a study holds, per series, without opening a window."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from brainlens.cli_output import dump_strict, strict_records
from brainlens.core.geometry import axcodes
from brainlens.core.volume import Study, Volume


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="+", help="DICOM folder or file(s), NIfTI, NRRD or image")
    parser.add_argument("--json", action="store_true", help="print a JSON list, one object per series")
    parser.add_argument("--volume", type=int, default=0, metavar="N",
                        help="volume of a 4D file to describe (0-based, default 0)")


def series_record(vol: Volume) -> dict[str, Any]:
    """The JSON object `info --json` prints for one series."""
    meta = vol.metadata
    return {
        "series_uid": str(meta.get("series_uid") or ""),
        "description": str(meta.get("description") or ""),
        "name": vol.name,
        "modality": meta.get("modality"),
        "sequence": vol.sequence,
        "is_label": bool(meta.get("is_label", False)),
        "shape": [int(s) for s in vol.shape],
        "spacing_mm": [round(float(s), 6) for s in vol.spacing],
        "spacing_known": bool(vol.spacing_known),
        "axcodes": list(axcodes(vol.affine)),
        "n_files": int(meta.get("n_files") or 1),
        "dtype": str(vol.data.dtype),
        "format": meta.get("format"),
        "warnings": [str(w) for w in vol.warnings],
    }


def _table(study: Study) -> str:
    rows = [("#", "name", "modality", "sequence", "dimensions", "spacing (mm)", "orient", "files")]
    for n, vol in enumerate(study.series, 1):
        r = series_record(vol)
        seq = "label map" if r["is_label"] else (r["sequence"] or "?")
        spacing = " x ".join(f"{s:.3g}" for s in r["spacing_mm"]) + ("" if r["spacing_known"] else " (assumed)")
        rows.append((str(n), r["name"][:40], str(r["modality"] or "-"), seq, " x ".join(map(str, r["shape"])),
                     spacing, "".join(r["axcodes"]), str(r["n_files"])))
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    for n, vol in enumerate(study.series, 1):
        lines.extend(f"  warning (series {n}): {w}" for w in vol.warnings)
    lines.extend(f"  note: {w}" for w in study.warnings)
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from brainlens.io import load

    path = args.path[0] if len(args.path) == 1 else args.path
    study = load(path, volume_index=args.volume)
    if args.json:
        dump_strict(strict_records([series_record(v) for v in study.series]), sys.stdout)
    else:
        sys.stdout.write(f"{study.source}: {len(study.series)} series\n{_table(study)}\n")
    return 0
