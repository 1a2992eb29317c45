"""`brainlens segment --out DIR` killed mid-run (SIGTERM or SIGKILL) leaves nothing half-written in DIR."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from brainlens.core.phantom import make_head_phantom


@pytest.fixture(scope="module")
def flair(tmp_path_factory: pytest.TempPathFactory) -> Path:
    vol = make_head_phantom(shape=(48, 56, 48), spacing_mm=2.5).by_sequence()["flair"]
    path = tmp_path_factory.mktemp("kill") / "case_flair.nii.gz"
    nib.save(nib.Nifti1Image(vol.data, vol.affine), str(path))
    return path


def _segment_until(flair: Path, out: Path, marker: str) -> subprocess.Popen:
    """Start segment and return once its progress shows ``marker`` (the model is running)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "brainlens", "segment", "--flair", str(flair), "--out", str(out),
                             "--samples", "4", "--device", "cpu"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            env=env, text=True)
    for line in proc.stderr:  # one progress line per 10 %
        if marker in line:
            return proc
    proc.wait(timeout=60)
    raise AssertionError(f"segment ended (rc {proc.returncode}) before '{marker}'")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killed_segment_leaves_out_untouched(flair: Path, tmp_path: Path, sig: signal.Signals) -> None:
    out = tmp_path / "results"
    proc = _segment_until(flair, out, "segmenting")
    proc.send_signal(sig)
    proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert not out.exists()  # published by one rename at the very end, so a kill before it leaves nothing
    if sig == signal.SIGTERM:  # SIGTERM unwinds: the temporary folder is removed too
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_killed_rerun_keeps_the_previous_result(flair: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    first = subprocess.run([sys.executable, "-m", "brainlens", "segment", "--flair", str(flair), "--out", str(out),
                            "--samples", "1", "--device", "cpu"], capture_output=True, timeout=600,
                           env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert first.returncode == 0, first.stderr
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    proc = _segment_until(flair, out, "segmenting")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=120)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert np.asarray(nib.load(str(out / "mask.nii.gz")).dataobj).dtype == np.uint8
