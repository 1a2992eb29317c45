"""A folder with unrelated subjects (other PatientID / frame of reference, or unrelated NIfTI files) opens as
separate studies in the browser; only what shares a frame of reference is shown (and linked) together."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

pytest.importorskip("pytestqt")
from gui_helpers import open_and_wait  # noqa: E402
from reading_room_factory import PATIENT, write_mprage  # noqa: E402

from brainlens.core.volume import Study  # noqa: E402
from brainlens.io import load  # noqa: E402
from brainlens.io.subjects import split_by_subject  # noqa: E402

pytestmark = pytest.mark.gui
SMALL = (32, 40, 30)


def test_mixed_subjects_folder_becomes_two_studies(qtbot, window, tmp_path):
    write_mprage(tmp_path / "mixed" / "a", shape=SMALL)
    other = {**PATIENT, "PatientName": "Roe^Richard", "PatientID": "MRN-0815"}
    write_mprage(tmp_path / "mixed" / "b", shape=SMALL, patient=other, seed=1)
    open_and_wait(qtbot, window, tmp_path / "mixed")
    picker = window.reading.subject_picker
    assert picker.isVisible() and picker.count() == 2
    assert len(window.scene_model.series) == 1  # only the first subject's series are on show
    names = {picker.itemText(i).split(": ", 1)[1].split("   ")[0] for i in range(2)}
    assert names == {"DOE, Jane", "ROE, Richard"}
    first = window.ortho.views["axial"].corners.text("top_left").splitlines()[0]
    picker.activated.emit(1)
    second = window.ortho.views["axial"].corners.text("top_left").splitlines()[0]
    assert {first, second} == {"DOE, Jane", "ROE, Richard"}
    assert "separate studies" in window.browser.header.text()


def test_one_patient_one_frame_stays_one_study(tmp_path):
    shared = {"FrameOfReferenceUID": "1.2.3.4.5", "StudyInstanceUID": "1.2.3.4.6"}
    write_mprage(tmp_path / "s" / "t1", shape=SMALL, **shared)
    write_mprage(tmp_path / "s" / "t1b", shape=SMALL, seed=2, **shared)
    study = load(tmp_path / "s")
    assert len(study.series) == 2 and len(split_by_subject(study)) == 1
    # the same patient in another frame of reference is not linked to it
    write_mprage(tmp_path / "s" / "other_frame", shape=SMALL, seed=3)
    assert len(split_by_subject(load(tmp_path / "s"))) == 2


def test_unrelated_nifti_files_are_split(tmp_path):
    aff = np.diag([2.0, 2.0, 2.0, 1.0])
    img = np.random.default_rng(0).random((20, 22, 18)).astype(np.float32)
    for name in ("caseA_t1", "caseA_flair", "caseB_t1"):
        nib.save(nib.Nifti1Image(img, aff), tmp_path / f"{name}.nii.gz")
    parts = split_by_subject(load(tmp_path))
    assert sorted(len(s.series) for _, s in parts) == [1, 2]
    assert sorted(label for label, _ in parts) == ["casea", "caseb"]
    far = aff.copy()
    far[:3, 3] = 1000.0
    (tmp_path / "x").mkdir()
    nib.save(nib.Nifti1Image(img, aff), tmp_path / "x" / "t1.nii.gz")
    nib.save(nib.Nifti1Image(img, far), tmp_path / "x" / "flair.nii.gz")  # same name stem, elsewhere in space
    assert len(split_by_subject(load(tmp_path / "x"))) == 2
    single = Study([load(tmp_path / "caseA_t1.nii.gz").series[0]], tmp_path)
    assert split_by_subject(single)[0][1] is single
