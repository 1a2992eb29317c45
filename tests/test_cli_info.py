"""`brainlens info`: JSON schema, human table, one-line errors with exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from brainlens.cli import main
from brainlens.io.dicom_write import write_series

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def series_dir(tmp_path):
    aff = np.diag([-0.8, -0.8, 3.0, 1.0])
    data = np.random.default_rng(0).integers(0, 1000, (24, 20, 6)).astype(np.int16)
    write_series(data, aff, tmp_path / "study", description="AX FLAIR", series_number=4,
                 extra={"InversionTime": 2500, "RepetitionTime": 9000, "EchoTime": 110})
    return tmp_path / "study"


def _check_schema(records):
    assert isinstance(records, list) and len(records) == 1
    rec = records[0]
    assert rec["series_uid"].startswith("1.2.")
    assert rec["description"] == "AX FLAIR"
    assert rec["sequence"] == "flair"
    assert rec["shape"] == [24, 20, 6] and all(isinstance(v, int) for v in rec["shape"])
    assert rec["spacing_mm"] == pytest.approx([0.8, 0.8, 3.0])
    assert rec["axcodes"] == ["L", "P", "S"]
    assert rec["n_files"] == 6
    assert rec["warnings"] == []
    assert rec["modality"] == "MR"


def test_info_json_schema(series_dir, capsys):
    assert main(["info", str(series_dir), "--json"]) == 0
    _check_schema(json.loads(capsys.readouterr().out))


def test_info_table(series_dir, capsys):
    assert main(["info", str(series_dir)]) == 0
    out = capsys.readouterr().out
    assert "1 series" in out and "flair" in out and "24 x 20 x 6" in out and "LPS" in out


def test_info_table_lists_warnings(series_dir, capsys):
    sorted(series_dir.iterdir())[2].unlink()
    assert main(["info", str(series_dir)]) == 0
    assert "warning (series 1): 1 slice(s) missing" in capsys.readouterr().out


def test_info_subprocess(series_dir):
    env = dict(os.environ, PYTHONPATH=str(REPO / "app"))
    proc = subprocess.run([sys.executable, "-m", "brainlens", "info", str(series_dir), "--json"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    _check_schema(json.loads(proc.stdout))


def test_corrupt_file_exit_2_one_stderr_line(tmp_path, capsys):
    bad = tmp_path / "scan.dcm"
    bad.write_bytes(b"\x00" * 128 + b"DICM" + os.urandom(300))
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "scan.dcm" in err


def test_truncated_nifti_exit_2_one_stderr_line(tmp_path, capsys):
    bad = tmp_path / "t1.nii.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00" + b"\x00" * 40)
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("brainlens: ")


def test_nonexistent_path_exit_2(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [f"brainlens: no such file or folder: {tmp_path / 'missing'}"]
