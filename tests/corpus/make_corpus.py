"""A hostile input corpus, made by code at test time (nothing is committed): every kind of bad or odd input the
CLI promises to answer with exit 0 or a one-line exit 2.

``build_corpus(root)`` writes the files under ``root`` and returns the Cases. Each case names its class (for the
per-class counts in the report), the paths to give the CLI, and whether it is a 3D input ``segment`` should try.
The file formats live in corpus_dicom.py, corpus_volumes.py and corpus_special.py.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Case:
    """One corpus input. ``args`` are the CLI path arguments; ``commands`` overrides the default runs."""

    name: str
    cls: str
    args: list[str]
    three_d: bool = False
    commands: list[list[str]] | None = None  # full argument lists (after `brainlens`); {out} is a fresh path
    env: dict[str, str] = field(default_factory=dict)
    fast: bool = False  # part of the representative subset run by default


def build_corpus(root: Path) -> list[Case]:
    from corpus_dicom import dicom_cases
    from corpus_special import output_cases, special_cases
    from corpus_volumes import nifti_cases, nrrd_cases, raster_cases

    root.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # writing invalid values is the point; pydicom says so for each
        for make in (dicom_cases, nifti_cases, nrrd_cases, raster_cases, special_cases, output_cases):
            sub = root / make.__name__.removesuffix("_cases")
            sub.mkdir(exist_ok=True)
            cases.extend(make(sub))
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "corpus case names must be unique"
    return cases


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def mkfifo(path: Path) -> Path:
    os.mkfifo(path)
    return path
