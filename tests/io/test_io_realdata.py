"""BraTS cases from ../shared/data: a case folder, and a FLAIR turned into a 155-file DICOM series."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from brainlens.cli import main
from brainlens.core.geometry import axcodes
from brainlens.io import load
from brainlens.io.dicom_write import write_series

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CASES = sorted((DATA / "brats").glob("Brats*")) if (DATA / "brats").is_dir() else []
pytestmark = [pytest.mark.realdata,
              pytest.mark.skipif(not CASES, reason="../shared/data/brats is not available")]


def test_brats_case_folder():
    study = load(CASES[0])
    assert len(study.series) == 5
    assert set(study.by_sequence()) == {"flair", "t1", "t1ce", "t2"}
    for vol in study.series:
        assert vol.shape == (240, 240, 155)
        assert axcodes(vol.affine) == ("L", "P", "S")
        assert vol.spacing == pytest.approx((1.0, 1.0, 1.0))
    labels = [v for v in study.series if v.metadata.get("is_label")]
    assert len(labels) == 1 and labels[0].name.endswith("_seg") and labels[0].sequence is None
    assert set(np.unique(labels[0].data)) <= {0, 1, 2, 4}


def test_brats_flair_as_dicom_series_round_trips(tmp_path, capsys):
    nii_path = next(CASES[0].glob("*_flair.nii.gz"))
    img = nib.load(nii_path)
    data = np.asanyarray(img.dataobj)
    write_series(data, img.affine, tmp_path / "dicom", description="AX T2 FLAIR",
                 extra={"InversionTime": 2500, "RepetitionTime": 9000, "EchoTime": 120})
    assert len(list((tmp_path / "dicom").iterdir())) == 155
    vol = load(tmp_path / "dicom").series[0]
    np.testing.assert_allclose(vol.affine, img.affine, atol=1e-3)
    np.testing.assert_array_equal(vol.data, data)
    assert vol.sequence == "flair" and vol.warnings == []
    assert main(["info", str(tmp_path / "dicom"), "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)[0]
    assert rec["n_files"] == 155 and rec["shape"] == [240, 240, 155] and rec["axcodes"] == ["L", "P", "S"]
