"""DICOM series written with pydicom: sorting, geometry, gaps, duplicates, grouping, rescale, compression."""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest
from io_factory import (
    as_implicit,
    enhanced_mr,
    oblique_affine,
    random_volume,
    write_datasets,
    write_metaless,
    write_shuffled_series,
    write_sr,
)
from pydicom.uid import JPEG2000Lossless, RLELossless, generate_uid

from brainlens.core.errors import Cancelled, LoadError
from brainlens.core.geometry import to_canonical, voxel_to_world
from brainlens.io import load
from brainlens.io.dicom_fastheader import read_fast_header
from brainlens.io.dicom_write import slice_datasets, write_series


def test_shuffled_oblique_series_sorts_by_position_and_keeps_affine(tmp_path):
    data, aff = random_volume(), oblique_affine()
    write_shuffled_series(tmp_path, data, aff, description="AX T2 TSE")
    study = load(tmp_path)
    assert len(study.series) == 1
    vol = study.series[0]
    np.testing.assert_array_equal(vol.data, data)  # scrambled InstanceNumbers did not reorder slices
    np.testing.assert_allclose(vol.affine, aff, atol=1e-4)
    assert vol.warnings == []
    assert vol.sequence == "t2"
    assert vol.metadata["n_files"] == data.shape[2] and vol.metadata["modality"] == "MR"


def test_marked_voxel_lands_at_its_world_position_after_canonical(tmp_path):
    data = np.zeros((20, 16, 10), np.int16)
    data[3, 12, 7] = 1000
    aff = oblique_affine(angle_deg=10)
    write_series(data, aff, tmp_path)
    canon, _ = to_canonical(load(tmp_path).series[0])
    idx = np.unravel_index(np.argmax(canon.data), canon.shape)
    np.testing.assert_allclose(voxel_to_world(canon.affine, idx), voxel_to_world(aff, (3, 12, 7)), atol=1e-3)


def test_missing_slice_is_a_blank_slot_with_a_warning(tmp_path):
    data = random_volume((24, 20, 10)) + 100
    paths = write_series(data, np.diag([1.0, 1.0, 3.0, 1.0]), tmp_path)
    paths[4].unlink()
    vol = load(tmp_path).series[0]
    assert vol.shape == data.shape  # the gap keeps its slot, so later slices stay at their true position
    assert any("missing" in w for w in vol.warnings)
    np.testing.assert_array_equal(vol.data[:, :, 5:], data[:, :, 5:])
    assert (vol.data[:, :, 4] == data[:, :, [0, 1, 2, 3, 5, 6, 7, 8, 9]].min()).all()
    assert vol.spacing[2] == pytest.approx(3.0)


def test_two_series_in_one_folder_become_two_volumes(tmp_path):
    write_series(random_volume(seed=1), np.eye(4), tmp_path / "a", description="T1 SE", series_number=3)
    write_series(random_volume((30, 30, 5), seed=2), np.eye(4), tmp_path / "b", description="FLAIR",
                 series_number=2)
    study = load(tmp_path)
    assert [v.name for v in study.series] == ["2 FLAIR", "3 T1 SE"]
    assert [v.sequence for v in study.series] == ["flair", "t1"]
    assert [v.shape for v in study.series] == [(30, 30, 5), (40, 32, 12)]


def test_rescale_slope_and_intercept_are_applied(tmp_path):
    rng = np.random.default_rng(3)
    data = rng.uniform(-5.0, 20.0, (16, 16, 4)).astype(np.float32)
    write_series(data, np.eye(4), tmp_path)
    ds = pydicom.dcmread(next(tmp_path.iterdir()))
    assert float(ds.RescaleSlope) != 1.0  # the writer really stored scaled integers
    vol = load(tmp_path).series[0]
    assert vol.data.dtype == np.float32
    np.testing.assert_allclose(vol.data, data, atol=float(ds.RescaleSlope))


def test_non_image_object_and_junk_file_are_skipped_with_notes(tmp_path):
    write_series(random_volume(), np.eye(4), tmp_path)
    write_sr(tmp_path / "report.dcm")
    (tmp_path / "notes").write_bytes(b"scanner export log\n" * 20)
    study = load(tmp_path)
    assert len(study.series) == 1
    assert any("non-image" in w and "SR" in w for w in study.warnings)
    assert any("not DICOM" in w for w in study.warnings)


def test_only_non_image_objects_is_a_load_error(tmp_path):
    write_sr(tmp_path / "report.dcm")
    with pytest.raises(LoadError, match="no images found.*non-image"):
        load(tmp_path)


def test_duplicate_positions_are_dropped_with_a_warning(tmp_path):
    paths = write_series(random_volume((16, 16, 6)), np.eye(4), tmp_path)
    dup = pydicom.dcmread(paths[2])
    dup.SOPInstanceUID = dup.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    dup.save_as(tmp_path / "dup.dcm", enforce_file_format=True)
    vol = load(tmp_path).series[0]
    assert vol.shape == (16, 16, 6)
    assert any("share a position" in w for w in vol.warnings)


def test_gantry_tilt_keeps_the_sheared_geometry_and_warns(tmp_path):
    tilt = np.eye(4)
    tilt[1, 2] = np.tan(np.radians(15)) * 2.0  # each slice shifts along y: a tilted CT-style stack
    tilt[2, 2] = 2.0
    data = random_volume((16, 16, 8))
    write_series(data, tilt, tmp_path)
    vol = load(tmp_path).series[0]
    assert any("sheared" in w for w in vol.warnings)
    np.testing.assert_allclose(vol.affine, tilt, atol=1e-4)
    np.testing.assert_array_equal(vol.data, data)


def test_uneven_spacing_warns(tmp_path):
    dss = slice_datasets(random_volume((16, 16, 6)), np.eye(4))
    for k, z in enumerate([0.0, 1.0, 2.0, 3.3, 4.3, 5.3]):
        dss[k].ImagePositionPatient = [0, 0, z]
    write_datasets(tmp_path, dss)
    vol = load(tmp_path).series[0]
    assert any("uneven" in w for w in vol.warnings)
    assert vol.spacing[2] == pytest.approx(5.3 / 5)


def test_series_with_mixed_sizes_is_split(tmp_path):
    uid = generate_uid()
    write_series(random_volume((16, 16, 4)), np.eye(4), tmp_path / "a", series_uid=uid)
    write_series(random_volume((20, 16, 3)), np.eye(4), tmp_path / "b", series_uid=uid)
    study = load(tmp_path)
    assert sorted(v.shape for v in study.series) == [(16, 16, 4), (20, 16, 3)]
    assert all(any("split" in w for w in v.warnings) for v in study.series)


def test_multi_echo_series_is_split_by_echo_not_deduplicated(tmp_path):
    uid = generate_uid()
    for echo in (1, 2):
        write_series(random_volume((16, 16, 4), seed=echo), np.eye(4), tmp_path / f"e{echo}", series_uid=uid,
                     description="dual echo", extra={"EchoNumbers": echo})
    study = load(tmp_path)
    assert [v.name for v in study.series] == ["1 dual echo [1/2]", "1 dual echo [2/2]"]
    assert not any("share a position" in w for v in study.series for w in v.warnings)
    np.testing.assert_array_equal(sorted(v.data.sum() for v in study.series),
                                  sorted(random_volume((16, 16, 4), seed=e).sum() for e in (1, 2)))


def test_single_2d_file_is_a_one_slice_volume(tmp_path):
    path = write_series(random_volume((16, 12, 1)), np.diag([0.5, 0.7, 3.0, 1.0]), tmp_path)[0]
    vol = load(path).series[0]
    assert vol.shape == (16, 12, 1)
    np.testing.assert_allclose(vol.spacing, (0.5, 0.7, 3.0), atol=1e-6)


@pytest.mark.parametrize("syntax", [RLELossless, JPEG2000Lossless])
def test_compressed_series_decodes_to_the_same_values(tmp_path, syntax):
    data = random_volume((64, 64, 4))  # JPEG 2000 needs tiles big enough for its resolution levels
    dss = slice_datasets(data, oblique_affine())
    for ds in dss:
        ds.compress(syntax)
    write_datasets(tmp_path, dss)
    vol = load(tmp_path).series[0]
    np.testing.assert_array_equal(vol.data, data)
    assert vol.metadata["transfer_syntax"] == syntax.name


def test_enhanced_multiframe_frames_sorted_by_plane_position(tmp_path):
    data = random_volume((24, 20, 6))
    aff = oblique_affine()
    ds = enhanced_mr(data, aff, frame_order=[3, 0, 5, 1, 4, 2], slope=2.0, intercept=-10.0)
    ds.save_as(tmp_path / "enhanced.dcm", enforce_file_format=True)
    vol = load(tmp_path / "enhanced.dcm").series[0]
    np.testing.assert_allclose(vol.affine, aff, atol=1e-4)
    np.testing.assert_allclose(vol.data, data * 2.0 - 10.0)
    assert vol.sequence == "t2"


def test_corrupt_slice_in_a_folder_is_left_blank_with_a_warning(tmp_path):
    data = random_volume((16, 16, 5))
    paths = write_series(data, np.eye(4), tmp_path)
    raw = paths[2].read_bytes()
    paths[2].write_bytes(raw[: len(raw) - 100])  # pixel data cut short
    vol = load(tmp_path).series[0]
    assert any("could not be decoded" in w for w in vol.warnings)
    np.testing.assert_array_equal(vol.data[:, :, 3], data[:, :, 3])


def test_metaless_implicit_file_loads(tmp_path):
    data = random_volume((16, 12, 1))
    ds = slice_datasets(data, np.eye(4))[0]
    path = write_metaless(tmp_path / "old_scanner.ima", ds)
    assert path.read_bytes()[128:132] != b"DICM"
    vol = load(path).series[0]
    np.testing.assert_array_equal(vol.data, data)


def test_fast_header_agrees_with_pydicom(tmp_path):
    ds = as_implicit(slice_datasets(random_volume((8, 8, 2)), oblique_affine())[1])
    ds.ReferencedImageSequence = [pydicom.Dataset()]  # a sequence the walker must skip
    ds.save_as(tmp_path / "a.dcm", enforce_file_format=True)
    with open(tmp_path / "a.dcm", "rb") as fp:
        values, offset, ts = read_fast_header(fp)
    with open(tmp_path / "a.dcm", "rb") as fp:
        ref = pydicom.dcmread(fp, stop_before_pixels=True)
        assert offset == fp.tell()
    assert ts == "1.2.840.10008.1.2"
    assert values[0x0020000E] == ref.SeriesInstanceUID
    np.testing.assert_allclose([float(v) for v in values[0x00200032]], [float(v) for v in ref.ImagePositionPatient])
    assert values[0x00280010] == ref.Rows == 8


def test_list_of_files_and_progress_and_cancel(tmp_path):
    paths = write_series(random_volume((8, 8, 6)), np.eye(4), tmp_path)
    seen = []
    study = load([str(p) for p in paths[:4]], progress=lambda f, m: seen.append(f))
    assert study.series[0].shape == (8, 8, 4)
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    with pytest.raises(Cancelled):
        load(tmp_path, cancel=lambda: True)


def test_bad_inputs_raise_one_line_load_errors(tmp_path):
    with pytest.raises(LoadError, match="no such file or folder"):
        load(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LoadError, match="no files found"):
        load(tmp_path / "empty")
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"\x00" * 128 + b"DICM" + b"\xff" * 50)
    with pytest.raises(LoadError) as err:
        load(junk)
    assert "\n" not in str(err.value) and "junk.dcm" in str(err.value)
    folder = tmp_path / "copy"
    folder.mkdir()
    shutil.copy(junk, folder / "a.dcm")
    with pytest.raises(LoadError, match="no images found"):
        load(folder)


def test_direct_pixel_read_matches_pydicom_for_12_bit_signed(tmp_path):
    data = np.random.default_rng(5).integers(-2048, 2047, (16, 12, 1)).astype(np.int16)
    ds = slice_datasets(data, np.eye(4))[0]
    ds.BitsStored, ds.HighBit = 12, 11
    stored = np.ascontiguousarray(data[:, :, 0].T).astype(np.uint16) & 0x0FFF  # high bits left clear
    ds.PixelData = stored.tobytes()
    ds.save_as(tmp_path / "s12.dcm", enforce_file_format=True)
    expected = pydicom.dcmread(tmp_path / "s12.dcm").pixel_array.T
    vol = load(tmp_path / "s12.dcm").series[0]
    np.testing.assert_array_equal(vol.data[:, :, 0], expected)
    np.testing.assert_array_equal(vol.data[:, :, 0], data[:, :, 0])
