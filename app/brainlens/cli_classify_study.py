"""`brainlens classify STUDY --study [--seg LABELS] [--json]`: one study-level verdict per 3D series.

--json prints one JSON object (strict JSON: no NaN/Infinity) for a study with one 3D series, a list of
objects when the study holds several series. --seg gives a label volume on the same grid (e.g. the
segmenter's output): the verdict then comes from the slices through the segmented tumour.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from brainlens.core.errors import InputError, LoadError


def _segmentation(path: str | None):
    if not path:
        return None
    from brainlens.cli_classify import _load_study

    p = Path(path)
    if not p.exists():
        raise LoadError(f"--seg {path}: no such file or folder")
    study = _load_study(p)
    if len(study.series) != 1:
        raise InputError(f"--seg {path}: expected one label volume, found {len(study.series)} series")
    return study.series[0]


def run_study(args, items: list, volumes: list[tuple[str, Any]]) -> int:
    """Print the study verdicts of the 3D series in `volumes` (2D inputs are refused with one line)."""
    if items:
        raise InputError(f"{items[0].source}: --study needs a 3D study (DICOM series, NIfTI, NRRD), not a 2D image")
    if not volumes:
        raise InputError("--study: no 3D series found")
    if args.gradcam:
        raise InputError("--gradcam works per slice, not with --study")
    from brainlens.ml.classifier_engine import load_classifier
    from brainlens.ml.classify_study import classify_study

    seg = _segmentation(args.seg)
    if seg is not None and len(volumes) != 1:
        raise InputError("--seg works with a study holding one 3D series")
    clf = load_classifier(args.model, device=args.device)
    records = []
    for source, vol in volumes:
        result = classify_study(vol, segmentation=seg, model=clf, batch=args.batch)
        records.append({"source": source, "series": vol.name or None, **result.to_dict()})
    if args.json:
        sys.stdout.write(json.dumps(records[0] if len(records) == 1 else records, indent=1, allow_nan=False) + "\n")
        return 0
    for r in records:
        flags = ", ".join(f for f, on in (("uncertain", r["uncertain"]), ("out of distribution", r["ood"])) if on)
        print(f"{r['source']}: {r['label']} {r['confidence']:.0%}" + (f" ({flags})" if flags else "")
              + f"; {r['method']}, {len(r['slices_used'])} of {r['n_slices']} axial slices looked at; "
              f"driving slices {', '.join(str(i) for i in r['driving_slices']) or 'none'} ({r['model']})")
        for note in r["notes"]:
            print(f"  {note}")
    return 0
