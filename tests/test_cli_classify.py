"""`brainlens classify`: JSON schema, table, Grad-CAM overlays that never overwrite, one-line errors."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from brainlens.cli import main

_spec = importlib.util.spec_from_file_location("classifier_fixtures",
                                               Path(__file__).parent / "ml" / "classifier_fixtures.py")
fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixtures)

CLASSES = {"glioma", "meningioma", "notumor", "pituitary"}


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    return fixtures.export_random_classifier(tmp_path_factory.mktemp("models"))


@pytest.fixture()
def env(models, monkeypatch):
    monkeypatch.setenv("BRAINLENS_MODELS", str(models))
    import torch

    torch.set_num_threads(1)


def _png(path: Path, image: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), image)
    return path


def test_json_schema_on_synthetic_images(env, tmp_path, capsys) -> None:
    grey = _png(tmp_path / "slice.png", fixtures.head_like())
    folder = tmp_path / "folder"
    folder.mkdir()
    _png(folder / "a.png", fixtures.head_like(seed=1))
    _png(folder / "b.jpg", np.repeat(fixtures.head_like(seed=2)[..., None], 3, axis=2))
    deep = _png(tmp_path / "deep16.png", (fixtures.head_like().astype(np.uint16) * 250))
    assert main(["classify", str(grey), str(folder), str(deep), "--json", "--device", "cpu"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [Path(r["source"]).name for r in records] == ["slice.png", "a.png", "b.jpg", "deep16.png"]
    for r in records:
        assert r["slice"] is None
        assert r["label"] in CLASSES
        assert set(r["probabilities"]) == CLASSES
        assert sum(r["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
        assert r["confidence"] == pytest.approx(max(r["probabilities"].values()))
        assert isinstance(r["entropy"], float) and r["entropy"] >= 0
        assert isinstance(r["uncertain"], bool) and isinstance(r["ood"], bool)


def test_table_output_and_blank_reported_as_not_mr(env, tmp_path, capsys) -> None:
    blank = _png(tmp_path / "blank.png", np.zeros((64, 64), np.uint8))
    assert main(["classify", str(blank)]) == 0
    out = capsys.readouterr().out
    assert "blank.png" in out and "not a brain MR slice?" in out and "ood" in out


def test_gradcam_overlays_never_overwrite(env, tmp_path, capsys) -> None:
    img = _png(tmp_path / "slice.png", fixtures.head_like())
    cams = tmp_path / "cams"
    cams.mkdir()
    existing = cams / "slice_gradcam.png"
    existing.write_bytes(b"user's file")
    assert main(["classify", str(img), str(img), "--json", "--gradcam", str(cams)]) == 0
    records = json.loads(capsys.readouterr().out)
    written = [Path(r["gradcam"]) for r in records]
    assert len(set(written)) == 2 and existing not in written
    assert existing.read_bytes() == b"user's file"
    for w in written:
        overlay = cv2.imread(str(w))
        assert overlay is not None and overlay.shape == (224, 224, 3)


@pytest.mark.parametrize("args, fragment", [
    (["missing.png"], "no such file"),
    (["junk.png"], "not a readable image"),
    (["ok.png", "--device", "tpu"], "unknown device"),
    (["ok.png", "--model", "nosuchmodel"], "unknown model"),
    (["ok.png", "--gradcam", "afile.txt"], "not a folder"),
    (["emptydir"], "no images"),
])
def test_bad_input_is_one_line_exit_2(env, tmp_path, capsys, monkeypatch, args, fragment) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "junk.png").write_bytes(b"\x89PNG broken")
    _png(tmp_path / "ok.png", fixtures.head_like())
    (tmp_path / "afile.txt").write_text("x")
    (tmp_path / "emptydir").mkdir()
    assert main(["classify", *args]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1 and "Traceback" not in err


def test_study_is_classified_slice_by_slice(env, tmp_path, capsys) -> None:
    import nibabel as nib

    from brainlens.core.phantom import make_head_phantom

    vol = make_head_phantom(shape=(40, 48, 36), spacing_mm=4.0).by_sequence()["t1ce"]
    path = tmp_path / "head.nii.gz"
    nib.save(nib.Nifti1Image(np.pad(vol.data, 3), vol.affine), str(path))
    cams = tmp_path / "cams"
    assert main(["classify", str(path), "--json", "--plane", "coronal", "--gradcam", str(cams)]) == 0
    captured = capsys.readouterr()
    records = json.loads(captured.out)
    assert records and all(r["plane"] == "coronal" and isinstance(r["slice"], int) for r in records)
    assert all(r["label"] in CLASSES and r["study_label"] in CLASSES | {"unknown"} for r in records)
    assert len({r["slice"] for r in records}) == len(records) < 48 + 6  # empty padding slices skipped
    assert len(list(cams.glob("head_coronal*_gradcam.png"))) == len(records)
    assert "study label" in captured.err


def test_single_dicom_slice_is_a_2d_input(env, capsys) -> None:
    from pydicom.data import get_testdata_file

    path = get_testdata_file("MR_small.dcm")
    assert main(["classify", path, "--json"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["slice"] is None and record["label"] in CLASSES
