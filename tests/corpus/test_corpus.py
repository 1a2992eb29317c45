"""The CLI against a hostile input corpus made at test time (see make_corpus.py): every run exits 0 or 2, never
hangs or runs out of memory, prints no traceback, one stderr line on exit 2, strict JSON on exit 0, and leaves
no output behind on exit 2.

The default run takes a representative subset (one or more inputs of every defect class, about a fifth of the
corpus); the whole corpus runs with ``pytest -m corpus`` (about 1,300 CLI runs: tens of minutes on 2 cores).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from corpus_runner import run_cases, summary
from make_corpus import Case, build_corpus

CLASSES = {"pydicom_testfiles", "dicom_corrupt_offsets", "dicom_geometry", "nifti_header", "nrrd_header", "raster",
           "special_files", "odd_names", "outputs", "manifest"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Case]]:
    root = tmp_path_factory.mktemp("hostile") / "corpus"
    return root, build_corpus(root)


def _assert_no_defects(root: Path, cases: list[Case]) -> None:
    runs = run_cases(cases, root)
    broken = [f"{r.case.name} [{r.command}] rc={r.rc}: {'; '.join(r.defects)} | {r.stderr.strip()[-300:]!r}"
              for r in runs if r.defects]
    assert not broken, summary(cases, runs) + "\n" + "\n".join(broken)


def test_corpus_covers_every_class(corpus) -> None:
    _, cases = corpus
    sizes = Counter(c.cls for c in cases)
    assert set(sizes) == CLASSES
    assert len(cases) >= 300
    fast = Counter(c.cls for c in cases if c.fast)
    assert set(fast) == CLASSES, "the default subset must keep an input of every class"


def test_representative_subset_has_no_defects(corpus) -> None:
    root, cases = corpus
    _assert_no_defects(root, [c for c in cases if c.fast])


@pytest.mark.corpus
def test_whole_corpus_has_no_defects(corpus) -> None:
    root, cases = corpus
    _assert_no_defects(root, cases)
