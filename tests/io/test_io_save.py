"""io.save: NIfTI masks on the source grid (LPS-stored, oblique, RAS-stored), JSON/CSV, all-or-nothing,
never over a source file; DICOM SEG read back with highdicom, frames on the right source slices."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from io_factory import oblique_affine, write_shuffled_series

from brainlens.core.errors import InputError
from brainlens.io import load, save, save_all
from brainlens.io.dicom_seg import seg_unavailable_reason

LPS = np.diag([-1.2, -1.2, 2.0, 1.0])
RAS = np.diag([0.9, 1.1, 2.5, 1.0])
AFFINES = {"lps": LPS, "oblique": oblique_affine(), "ras": RAS}


def _mask(shape, seed=0) -> np.ndarray:
    out = np.zeros(shape, np.uint8)
    out[5:12, 6:14, 3:7] = 2
    out[7:10, 8:11, 4:6] = 4
    out[6, 7, 3] = 1
    return out


@pytest.mark.parametrize("kind", AFFINES)
def test_nifti_mask_reads_back_with_the_source_affine(tmp_path: Path, kind: str) -> None:
    src_path = tmp_path / "t1.nii.gz"
    shape = (20, 24, 10)
    nib.save(nib.Nifti1Image(np.random.default_rng(0).random(shape).astype(np.float32), AFFINES[kind]),
             str(src_path))
    source = load(src_path).series[0]
    mask = source.with_data(_mask(shape), "mask")
    mask.metadata.update(origin={"kind": "automatic", "model": "segresnet", "version": "2"}, edited=True)
    out = save(mask, tmp_path / "out" / "mask.nii.gz", protect=[src_path])
    back = load(out).series[0]
    assert back.shape == source.shape and back.affine.tobytes() == source.affine.tobytes()
    np.testing.assert_array_equal(back.data, mask.data)
    header = nib.load(str(out)).header
    assert b"edited" in header["descrip"].tobytes() and b"segresnet" in header["descrip"].tobytes()
    assert sorted(p.name for p in out.parent.iterdir()) == ["mask.nii.gz"]  # no temporary left


def test_never_over_a_source_and_all_or_nothing(tmp_path: Path) -> None:
    src = tmp_path / "t1.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4), np.float32), RAS), str(src))
    before = src.read_bytes()
    vol = load(src).series[0]
    with pytest.raises(InputError, match="source file"):
        save(vol, src, protect=[src])
    assert src.read_bytes() == before
    doc = {"regions": {"whole_tumor": {"volume_ml": 1.0, "max_diameter_mm": 2.0, "lesions": []}}, "rano": None}
    with pytest.raises(InputError):  # the second item cannot be written: the first must not appear either
        save_all([(doc, tmp_path / "a.json"), (object(), tmp_path / "b.xyz")])
    assert not (tmp_path / "a.json").exists()
    save_all([(doc, tmp_path / "m.json"), (doc, tmp_path / "m.csv")])
    assert (tmp_path / "m.csv").read_text().splitlines()[1] == "whole_tumor,volume_ml,1.000,ml"


@pytest.mark.parametrize("kind", ["lps", "oblique"])
def test_dicom_seg_frames_land_on_the_right_source_slices(tmp_path: Path, kind: str) -> None:
    hd = pytest.importorskip("highdicom")
    shape = (24, 20, 9)
    data = np.random.default_rng(1).integers(0, 1000, shape).astype(np.int16)
    paths = write_shuffled_series(tmp_path / "dicom", data, AFFINES[kind])
    source = load(tmp_path / "dicom").series[0]
    assert seg_unavailable_reason(source) is None
    mask = source.with_data(_mask(shape), "mask")
    mask.metadata.update(origin={"kind": "automatic", "model": "segresnet", "version": "2"}, edited=False)
    out = save(mask, tmp_path / "seg.dcm", source=source, protect=paths)
    seg = hd.seg.segread(str(out))
    assert seg.SeriesDescription == "Tumour segmentation"
    assert [d.segment_label for d in (seg.get_segment_description(n) for n in (1, 2, 3))] == [
        "necrotic / non-enhancing core", "oedema", "enhancing tumour"]
    import pydicom

    inv = np.linalg.inv(source.affine)
    checked = 0
    for path in paths:
        ds = pydicom.dcmread(path)
        k = int(round((inv @ (np.diag([-1, -1, 1, 1]) @ np.append(np.asarray(ds.ImagePositionPatient, float), 1)))[2]))
        expected = mask.data[:, :, k].T
        if not expected.any():
            continue
        pixels = seg.get_pixels_by_source_instance(source_sop_instance_uids=[ds.SOPInstanceUID],
                                                   segment_numbers=[1, 2, 3], assert_missing_frames_are_empty=True)
        for n, value in enumerate((1, 2, 4)):
            np.testing.assert_array_equal(pixels[0, :, :, n].astype(bool), expected == value)
        checked += 1
    assert checked == 4  # the four slices that carry tumour


def test_seg_is_not_offered_for_nifti_and_says_why(tmp_path: Path) -> None:
    src = tmp_path / "t1.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4), np.float32), RAS), str(src))
    vol = load(src).series[0]
    assert "only offered for DICOM" in seg_unavailable_reason(vol)
    with pytest.raises(InputError, match="only offered for DICOM"):
        save(vol.with_data(np.zeros((4, 4, 4), np.uint8)), tmp_path / "x.dcm", source=vol)


def test_cancel_just_before_commit_writes_nothing(tmp_path: Path) -> None:
    from brainlens.core.errors import Cancelled

    doc = {"regions": {}, "rano": None}
    with pytest.raises(Cancelled):
        save_all([(doc, tmp_path / "a.json"), (doc, tmp_path / "b.json")], cancel=lambda: True)
    assert list(tmp_path.iterdir()) == []
