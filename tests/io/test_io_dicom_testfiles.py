"""Decoding against pydicom's own test files (shipped in the pydicom wheel; nothing is downloaded)."""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest
from io_factory import pydicom_file

from brainlens.core.errors import LoadError
from brainlens.io import load


def _need(name: str):
    path = pydicom_file(name)
    if path is None:
        pytest.skip(f"{name} not in this pydicom install")
    return path


def _reference(name: str) -> np.ndarray:
    """pydicom's own decoding, laid out like a Volume slice (i = column, j = row)."""
    return pydicom.dcmread(_need(name)).pixel_array.T


# Same MR image stored with other transfer syntaxes: lossless ones must match the uncompressed pixels exactly.
@pytest.mark.parametrize("name", [
    "MR_small_RLE.dcm",  # RLE lossless
    "MR_small_jp2klossless.dcm",  # JPEG 2000 lossless
    "MR_small_jpeg_ls_lossless.dcm",  # JPEG-LS lossless
    "MR_small_bigendian.dcm",  # explicit VR big endian
    "MR_small_implicit.dcm",  # implicit VR little endian
    "MR_small_padded.dcm",  # trailing padding after the pixel data
])
def test_lossless_syntaxes_match_uncompressed_mr(name):
    ref = _reference("MR_small.dcm")
    vol = load(_need(name)).series[0]
    assert vol.shape == (64, 64, 1)
    assert vol.data.dtype.isnative
    np.testing.assert_array_equal(vol.data[:, :, 0], ref)
    np.testing.assert_allclose(vol.spacing[:2], (0.3125, 0.3125))


@pytest.mark.parametrize("name", [
    "JPGExtended.dcm",  # JPEG extended (process 2 and 4), 12 bit
    "JPEG2000.dcm",  # JPEG 2000 (lossy syntax)
    "693_J2KI.dcm",  # JPEG 2000 CT with rescale
    "JPEGLSNearLossless_16.dcm",  # JPEG-LS near-lossless
    "image_dfl.dcm",  # deflated explicit VR little endian
    "CT_small.dcm",  # uncompressed, read by our direct path
    "J2K_pixelrep_mismatch.dcm",
])
def test_grey_images_decode_like_pydicom(name):
    ds = pydicom.dcmread(_need(name))
    expected = ds.pixel_array.T.astype(np.float64)
    slope, intercept = float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)
    vol = load(_need(name)).series[0]
    np.testing.assert_allclose(vol.data[:, :, 0], expected * slope + intercept)


@pytest.mark.parametrize("name", [
    "SC_rgb_jpeg_dcmtk.dcm",  # JPEG baseline (YBR)
    "SC_rgb_jpeg_gdcm.dcm",  # JPEG lossless, process 14 SV1
    "SC_rgb_rle.dcm",  # RLE colour
    "SC_rgb_gdcm_KY.dcm",  # JPEG 2000 colour
    "SC_rgb_jls_lossy_line.dcm",  # JPEG-LS colour
])
def test_colour_images_become_grey_with_a_warning(name):
    rgb = pydicom.dcmread(_need(name)).pixel_array.astype(np.float64)
    grey = rgb @ np.array([0.299, 0.587, 0.114])
    vol = load(_need(name)).series[0]
    assert vol.shape == (rgb.shape[1], rgb.shape[0], 1)
    np.testing.assert_allclose(vol.data[:, :, 0], grey.T, atol=1e-3)
    assert any("grey" in w for w in vol.warnings)


def test_classic_multiframe_dose_grid_uses_frame_offsets():
    ds = pydicom.dcmread(_need("rtdose.dcm"))
    vol = load(_need("rtdose.dcm")).series[0]
    assert vol.shape == (10, 10, 15)
    offsets = np.asarray(ds.GridFrameOffsetVector, float)
    assert vol.spacing[2] == pytest.approx(abs(offsets[1] - offsets[0]))
    np.testing.assert_array_equal(vol.data.transpose(2, 1, 0), ds.pixel_array)


def test_truncated_file_is_a_one_line_error():
    with pytest.raises(LoadError, match="MR_truncated.dcm.*truncated") as err:
        load(_need("MR_truncated.dcm"))
    assert "\n" not in str(err.value)


def test_non_conformant_12bit_jpeg_decodes_like_its_fixed_copy():
    """NEMA's NM1_JPLY writes spectral selection 0..0 in its sequential scan header; repaired, it matches
    JPGExtended.dcm (the same image with a conformant stream) exactly, and says it was repaired."""
    vol = load(_need("JPEG-lossy.dcm")).series[0]
    np.testing.assert_array_equal(vol.data[:, :, 0], _reference("JPGExtended.dcm"))
    assert any("repaired" in w for w in vol.warnings)


def test_undecodable_jpeg_is_a_one_line_error(tmp_path):
    ds = pydicom.dcmread(_need("JPGExtended.dcm"))
    frame = ds.PixelData
    sof = frame.find(b"\xff\xc1")
    ds.PixelData = frame[: sof + 4] + b"\x63" + frame[sof + 5:]  # a precision of 99 bits: no decoder takes it
    ds.save_as(tmp_path / "bad_jpeg.dcm")
    with pytest.raises(LoadError, match="bad_jpeg.dcm: pixel data could not be decoded") as err:
        load(tmp_path / "bad_jpeg.dcm")
    assert "\n" not in str(err.value)


def test_meta_less_file_pydicom_cannot_parse_is_not_dicom():
    with pytest.raises(LoadError, match="no_meta.dcm: not a DICOM file"):
        load(_need("no_meta.dcm"))


@pytest.mark.parametrize("name", ["reportsi.dcm", "rtplan.dcm", "test-SR.dcm", "waveform_ecg.dcm"])
def test_non_image_objects_alone_are_no_images(name):
    with pytest.raises(LoadError, match="no images found.*non-image"):
        load(_need(name))


def test_folder_mixing_image_and_report_keeps_the_image(tmp_path):
    shutil.copy(_need("MR_small.dcm"), tmp_path / "a")
    shutil.copy(_need("reportsi.dcm"), tmp_path / "b")
    shutil.copy(_need("rtplan.dcm"), tmp_path / "c")
    study = load(tmp_path)
    assert len(study.series) == 1 and study.series[0].sequence == "t2"  # TE 240 / TR 4000
    assert any("non-image" in w and "SR" in w and "RTPLAN" in w for w in study.warnings)
