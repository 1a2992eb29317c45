"""NIfTI, NRRD and raster images: affines, 4D choice, grey conversion, BraTS-style folders, bad files."""

from __future__ import annotations

import gzip

import nibabel as nib
import nrrd
import numpy as np
import pytest
from io_factory import oblique_affine
from PIL import Image

from brainlens.core.errors import LoadError
from brainlens.core.geometry import axcodes, to_canonical, voxel_to_world
from brainlens.io import load

MARK = (5, 11, 3)


def _marked(shape=(16, 20, 8)) -> np.ndarray:
    data = np.zeros(shape, np.int16)
    data[MARK] = 500
    return data


def _canonical_mark_world(vol) -> np.ndarray:
    canon, _ = to_canonical(vol)
    assert axcodes(canon.affine) == ("R", "A", "S")
    return voxel_to_world(canon.affine, np.unravel_index(np.argmax(canon.data), canon.shape))


PERMUTED_FLIPPED = np.array([[0, 0, -2.0, 80], [-1.0, 0, 0, 40], [0, 1.5, 0, -20], [0, 0, 0, 1]])


@pytest.mark.parametrize("affine", [PERMUTED_FLIPPED, oblique_affine(), np.diag([-1.0, -1.0, 1.0, 1.0])],
                         ids=["permuted-flipped", "oblique", "lps"])
def test_nifti_marked_voxel_lands_at_expected_ras(tmp_path, affine):
    path = tmp_path / "scan.nii.gz"
    nib.save(nib.Nifti1Image(_marked(), affine), path)
    vol = load(path).series[0]
    np.testing.assert_allclose(vol.affine, affine, atol=1e-5)  # source grid kept, not reoriented
    np.testing.assert_allclose(_canonical_mark_world(vol), voxel_to_world(affine, MARK), atol=1e-4)


def test_nifti_4d_volume_choice_and_warning(tmp_path):
    data = np.stack([np.full((6, 5, 4), v, np.int16) for v in (10, 20, 30)], axis=-1)
    path = tmp_path / "dwi.nii"
    nib.save(nib.Nifti1Image(data, np.eye(4)), path)
    vol = load(path, volume_index=1).series[0]
    assert vol.shape == (6, 5, 4) and (vol.data == 20).all()
    assert any("3 volumes" in w for w in vol.warnings)
    assert (load(path).series[0].data == 10).all()
    with pytest.raises(LoadError, match="3 volumes"):
        load(path, volume_index=5)


def test_nifti_scaling_is_applied(tmp_path):
    img = nib.Nifti1Image(np.arange(24, dtype=np.int16).reshape(2, 3, 4), np.eye(4))
    img.header.set_slope_inter(0.5, 100.0)
    nib.save(img, tmp_path / "scaled.nii.gz")
    vol = load(tmp_path / "scaled.nii.gz").series[0]
    np.testing.assert_allclose(vol.data, np.arange(24).reshape(2, 3, 4) * 0.5 + 100.0)


@pytest.mark.parametrize("space, to_ras", [("left-posterior-superior", (-1, -1, 1)),
                                          ("right-anterior-superior", (1, 1, 1))])
def test_nrrd_round_trip_geometry(tmp_path, space, to_ras):
    data = _marked()
    directions = np.array([[0.0, 1.2, 0.0], [0.9, 0.0, 0.0], [0.0, 0.0, 2.0]])  # rows: axis i, j, k
    origin = np.array([10.0, -20.0, 30.0])
    path = tmp_path / "vol.nrrd"
    nrrd.write(str(path), data, {"space": space, "space directions": directions, "space origin": origin,
                                 "kinds": ["domain"] * 3})
    vol = load(path).series[0]
    np.testing.assert_array_equal(vol.data, data)
    expected_world = (origin + np.array(MARK) @ directions) * np.array(to_ras)
    np.testing.assert_allclose(voxel_to_world(vol.affine, MARK), expected_world, atol=1e-6)
    np.testing.assert_allclose(_canonical_mark_world(vol), expected_world, atol=1e-6)


def test_nrrd_list_axis_is_a_volume_choice(tmp_path):
    data = np.stack([np.full((4, 5, 6), v, np.float32) for v in (1, 2)], axis=0)  # list axis first
    nrrd.write(str(tmp_path / "v.nrrd"), data, {
        "space": "RAS", "kinds": ["list", "domain", "domain", "domain"],
        "space directions": [[np.nan] * 3, [1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]]})
    vol = load(tmp_path / "v.nrrd", volume_index=1).series[0]
    assert vol.shape == (4, 5, 6) and (vol.data == 2).all()


def test_png_rgb_becomes_grey_with_unknown_spacing(tmp_path):
    rgb = np.zeros((30, 40, 3), np.uint8)
    rgb[..., 0], rgb[5:10, 20:25, 1] = 200, 255
    Image.fromarray(rgb).save(tmp_path / "slice.png")
    vol = load(tmp_path / "slice.png").series[0]
    grey = np.asarray(Image.fromarray(rgb).convert("L"))
    assert vol.shape == (40, 30, 1)  # i = column, j = row
    np.testing.assert_array_equal(vol.data[:, :, 0], grey.T)
    assert vol.spacing_known is False and vol.spacing == (1.0, 1.0, 1.0)
    assert any("spacing unknown" in w for w in vol.warnings)
    assert any("grey" in w for w in vol.warnings)


def test_jpeg_and_16bit_tiff(tmp_path):
    Image.fromarray(np.full((8, 9), 77, np.uint8)).save(tmp_path / "a.jpg", quality=95)
    assert abs(int(load(tmp_path / "a.jpg").series[0].data.mean()) - 77) <= 1
    arr16 = (np.arange(12 * 10, dtype=np.uint16).reshape(12, 10) * 300)
    Image.fromarray(arr16).save(tmp_path / "b.tif")
    vol = load(tmp_path / "b.tif").series[0]
    np.testing.assert_array_equal(vol.data[:, :, 0], arr16.T)


def _brats_folder(tmp_path):
    case = tmp_path / "Brats18_TEST_1"
    case.mkdir()
    aff = np.diag([-1.0, -1.0, 1.0, 1.0])
    for seq in ("flair", "t1", "t1ce", "t2", "seg"):
        nib.save(nib.Nifti1Image(np.zeros((8, 8, 4), np.int16), aff), case / f"Brats18_TEST_1_{seq}.nii.gz")
    return case


def test_brats_style_folder_detects_sequences_and_label(tmp_path):
    study = load(_brats_folder(tmp_path))
    assert [v.sequence for v in study.series] == ["flair", "t1", "t1ce", "t2", None]
    assert study.series[-1].metadata["is_label"] is True
    assert set(study.by_sequence()) == {"flair", "t1", "t1ce", "t2"}


def test_bad_volume_files_are_one_line_errors(tmp_path):
    bad = tmp_path / "broken.nii.gz"
    bad.write_bytes(gzip.compress(b"not a nifti header at all" * 3))
    with pytest.raises(LoadError, match="broken.nii.gz") as err:
        load(bad)
    assert "\n" not in str(err.value)
    good = tmp_path / "good.nii.gz"
    nib.save(nib.Nifti1Image(np.random.default_rng(0).random((20, 20, 20), np.float32), np.eye(4)), good)
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(good.read_bytes()[:2000])  # header intact, voxel data cut short
    with pytest.raises(LoadError, match="cut.nii.gz"):
        load(cut)
    png = tmp_path / "fake.png"
    png.write_bytes(b"GIF89a nope")
    with pytest.raises(LoadError, match="fake.png: not a readable image"):
        load(png)


def test_one_bad_file_in_a_folder_is_skipped_with_a_note(tmp_path):
    case = _brats_folder(tmp_path)
    (case / "extra.nii.gz").write_bytes(b"\x1f\x8b garbage")
    study = load(case)
    assert len(study.series) == 5
    assert any("skipped extra.nii.gz" in w for w in study.warnings)


def test_nifti_without_orientation_codes_warns(tmp_path):
    img = nib.Nifti1Image(np.zeros((4, 4, 4), np.uint8), None)
    img.header.set_qform(None, code=0)
    img.header.set_sform(None, code=0)
    nib.save(img, tmp_path / "bare.nii")
    vol = load(tmp_path / "bare.nii").series[0]
    assert any("no orientation" in w for w in vol.warnings)
