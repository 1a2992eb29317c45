"""`brainlens segment`: the four output files on the source grid, JSON, FLAIR-only, bad input -> exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from brainlens.cli import main
from brainlens.core.phantom import make_head_phantom

OUTPUTS = {"mask.nii.gz", "uncertainty.nii.gz", "measurements.json", "measurements.csv"}


def _bundled_model() -> None:
    """The bundled segmenter is listed in the manifest (a missing one is a failure, not a skip)."""
    from brainlens.ml.registry import get_entry
    from brainlens.ml.seg_model import MODEL_NAME

    assert get_entry(MODEL_NAME).kind == "segmenter"


@pytest.fixture(scope="module")
def nifti_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("study")
    study = make_head_phantom(shape=(48, 56, 48), spacing_mm=2.5, orientation="LPS")
    for vol in study.series:
        nib.save(nib.Nifti1Image(vol.data, vol.affine), str(folder / f"phantom_{vol.sequence}.nii.gz"))
    return folder


def test_segment_writes_four_files_on_source_grid(nifti_study: Path, tmp_path: Path, capsys) -> None:
    _bundled_model()
    out = tmp_path / "out"
    rc = main(["segment", str(nifti_study), "--out", str(out), "--json", "--samples", "2", "--device", "cpu"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert {p.name for p in out.iterdir()} == OUTPUTS  # no temporary files left behind
    src = nib.load(str(nifti_study / "phantom_flair.nii.gz"))
    mask = nib.load(str(out / "mask.nii.gz"))
    unc = nib.load(str(out / "uncertainty.nii.gz"))
    assert mask.shape == src.shape and np.allclose(mask.affine, src.affine)
    assert mask.get_data_dtype() == np.uint8 and set(np.unique(np.asanyarray(mask.dataobj))) <= {0, 1, 2, 4}
    assert unc.get_data_dtype() == np.float32 and np.allclose(unc.affine, src.affine)
    doc = json.loads(captured.out)
    assert doc == json.loads((out / "measurements.json").read_text())
    assert doc["sequences_used"] == ["flair", "t1", "t1ce", "t2"] and doc["missing_sequences"] == []
    for region in ("whole_tumor", "tumor_core", "enhancing_tumor"):
        r = doc["regions"][region]
        assert r["volume_ml"] >= 0 and len(r["volume_ml_range"]) == 2 and isinstance(r["lesions"], list)
    assert "rano" in doc and doc["seconds"] > 0 and doc["device"].startswith("cpu")
    assert (out / "measurements.csv").read_text().splitlines()[0] == "item,measure,value,unit"


def test_flair_only(nifti_study: Path, tmp_path: Path, capsys) -> None:
    _bundled_model()
    rc = main(["segment", "--flair", str(nifti_study / "phantom_flair.nii.gz"), "--out", str(tmp_path / "o"),
               "--json", "--samples", "1", "--device", "cpu"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    doc = json.loads(captured.out)
    assert doc["sequences_used"] == ["flair"] and doc["missing_sequences"] == ["t1", "t1ce", "t2"]
    assert any("missing" in w for w in doc["warnings"])


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_unreadable_study_exit_2_and_no_files(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "case_flair.nii.gz").write_bytes(b"this is not a NIfTI file" * 10)
    out = tmp_path / "out"
    assert main(["segment", str(bad), "--out", str(out)]) == 2
    _one_error_line(capsys.readouterr().err)
    assert not out.exists() or not any(out.iterdir())


def test_missing_path_and_no_sequence_exit_2(tmp_path: Path, capsys) -> None:
    assert main(["segment", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "no such file" in _one_error_line(capsys.readouterr().err)
    unnamed = tmp_path / "unnamed"
    unnamed.mkdir()
    nib.save(nib.Nifti1Image(np.ones((20, 20, 20), np.float32), np.eye(4)), str(unnamed / "scan.nii.gz"))
    assert main(["segment", str(unnamed), "--out", str(tmp_path / "o")]) == 2
    assert "no usable sequence" in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "o").exists()


def test_sequences_not_in_same_space_exit_2(nifti_study: Path, tmp_path: Path, capsys) -> None:
    t2 = nib.load(str(nifti_study / "phantom_t2.nii.gz"))
    moved = t2.affine.copy()
    moved[:3, 3] += 400
    other = tmp_path / "other_t2.nii.gz"
    nib.save(nib.Nifti1Image(np.asanyarray(t2.dataobj), moved), str(other))
    out = tmp_path / "out"
    rc = main(["segment", "--flair", str(nifti_study / "phantom_flair.nii.gz"), "--t2", str(other),
               "--out", str(out)])
    assert rc == 2
    assert "overlap" in _one_error_line(capsys.readouterr().err)
    assert not out.exists()


def test_out_folder_that_would_overwrite_an_input_is_refused(nifti_study: Path, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "study"
    folder.mkdir()
    flair = folder / "phantom_flair.nii.gz"
    flair.write_bytes((nifti_study / "phantom_flair.nii.gz").read_bytes())
    precious = folder / "mask.nii.gz"  # the user's own file that happens to share an output name
    precious.write_bytes(b"user data")
    rc = main(["segment", "--flair", str(flair), "--t2", str(precious), "--out", str(folder)])
    assert rc == 2
    assert "overwrite an input" in _one_error_line(capsys.readouterr().err)
    assert precious.read_bytes() == b"user data"
    assert sorted(p.name for p in folder.iterdir()) == ["mask.nii.gz", "phantom_flair.nii.gz"]


def _dicom_study(root: Path, patient_ids: tuple[str, str]) -> Path:
    from brainlens.io.dicom_write import write_series

    study = make_head_phantom(shape=(48, 56, 48), spacing_mm=2.5, orientation="LPS")
    seqs = study.by_sequence()
    for (seq, desc), pid in zip((("flair", "AX FLAIR"), ("t1ce", "AX T1 POST GD")), patient_ids):
        vol = seqs[seq]
        write_series(vol.data, vol.affine, root / seq, description=desc,
                     extra={"PatientID": pid, "PatientName": "Phantom^Test"})
    return root


def test_dicom_study_flair_and_t1c(tmp_path: Path, capsys) -> None:
    _bundled_model()
    from brainlens.io import load

    root = _dicom_study(tmp_path / "dicom", ("P1", "P1"))
    out = tmp_path / "out"
    rc = main(["segment", str(root), "--out", str(out), "--json", "--samples", "1", "--device", "cpu"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    doc = json.loads(captured.out)
    assert doc["sequences_used"] == ["flair", "t1ce"] and doc["reference_sequence"] == "flair"
    flair = load(root).by_sequence()["flair"]
    mask = nib.load(str(out / "mask.nii.gz"))
    assert mask.shape == flair.shape and np.allclose(mask.affine, flair.affine, atol=1e-4)


def test_dicom_series_of_different_patients_exit_2(tmp_path: Path, capsys) -> None:
    root = _dicom_study(tmp_path / "dicom", ("P1", "P2"))
    out = tmp_path / "out"
    assert main(["segment", str(root), "--out", str(out)]) == 2
    assert "different patients" in _one_error_line(capsys.readouterr().err)
    assert not out.exists()
