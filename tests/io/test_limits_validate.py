"""Header limits (before any voxel is decoded), regular files only, and geometry validated once at load."""

from __future__ import annotations

import os
import struct

import nibabel as nib
import numpy as np
import pytest

from brainlens.core.errors import LoadError
from brainlens.core.volume import Volume
from brainlens.io import load
from brainlens.io.validate import geometry_problem, validate_volume


def _nifti(tmp_path, name="v.nii", patch=None, data=None):
    img = nib.Nifti1Image(np.ones((8, 8, 4), np.int16) if data is None else data, np.diag([1.0, 1.0, 2.0, 1.0]))
    raw = bytearray(img.to_bytes())
    if patch:
        struct.pack_into(patch[1], raw, patch[0], *patch[2])
    path = tmp_path / name
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize("affine, fragment", [
    (np.full((4, 4), np.nan), "not finite"),
    (np.diag([0.0, 1.0, 1.0, 1.0]), "voxel size"),
    (np.diag([1e30, 1.0, 1.0, 1.0]), "voxel size"),
    (np.array([[1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], float), "parallel"),
])
def test_unusable_geometry_is_named(affine, fragment) -> None:
    assert fragment in geometry_problem(affine)


def test_good_oblique_geometry_passes() -> None:
    a = np.eye(4)
    a[:3, :3] = [[0.9, -0.3, 0], [0.3, 0.9, 0], [0, 0, 2.5]]
    assert geometry_problem(a) is None


def test_bad_geometry_falls_back_with_a_warning() -> None:
    vol = validate_volume(Volume(np.zeros((4, 4, 4), np.float32), np.diag([0.0, 0.0, 0.0, 1.0]),
                                 metadata={"format": "nifti"}))
    assert np.array_equal(vol.affine, np.eye(4)) and not vol.spacing_known
    assert any("unusable geometry" in w for w in vol.warnings)


def test_odd_voxel_values_become_viewable() -> None:
    data = np.array([[[np.nan, np.inf, 1.0, 2.0]]], np.float32)
    vol = validate_volume(Volume(data, np.eye(4)))
    assert np.all(np.isfinite(vol.data)) and any("NaN or infinite" in w for w in vol.warnings)
    rgb = np.zeros((2, 2, 2), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    rgb["G"] = 100
    vol = validate_volume(Volume(rgb, np.eye(4)))
    assert vol.data.dtype == np.float32 and np.allclose(vol.data, 58.7)
    vol = validate_volume(Volume(np.full((2, 2, 2), 3 + 4j, np.complex64), np.eye(4)))
    assert np.allclose(vol.data, 5.0)


def test_declared_size_is_refused_before_reading(tmp_path) -> None:
    path = _nifti(tmp_path, patch=(42, "<3h", (30000, 30000, 30000)))
    with pytest.raises(LoadError, match="declared size 30000 x 30000 x 30000"):
        load(path)


def test_nifti_rgb_and_nan_affine_load_with_warnings(tmp_path) -> None:
    rgb = np.zeros((8, 8, 4), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    vol = load(_nifti(tmp_path, "rgb.nii", data=rgb)).series[0]
    assert vol.data.dtype == np.float32 and any("grey" in w for w in vol.warnings)
    vol = load(_nifti(tmp_path, "nan.nii", patch=(280, "<12f", [float("nan")] * 12))).series[0]
    assert np.all(np.isfinite(vol.affine)) and not vol.spacing_known


def test_nibabel_header_messages_become_warnings(tmp_path, capfd) -> None:
    vol = load(_nifti(tmp_path, patch=(80, "<3f", (0.0, 0.0, 0.0)))).series[0]
    assert any("NIfTI header" in w for w in vol.warnings)
    assert capfd.readouterr().err == ""


def test_only_regular_files_are_read(tmp_path) -> None:
    os.mkfifo(tmp_path / "pipe.nii")
    (tmp_path / "zero.dcm").symlink_to("/dev/zero")
    (tmp_path / "loop").symlink_to("loop")
    for name, fragment in (("pipe.nii", "fifo"), ("zero.dcm", "character device"), ("loop", "symlink loop")):
        with pytest.raises(LoadError, match=fragment):
            load(tmp_path / name)
    _nifti(tmp_path, "ok.nii")
    study = load(tmp_path)  # the folder: the odd entries are skipped with a note, never opened
    assert len(study.series) == 1 and any("not regular files" in w for w in study.warnings)


def test_empty_path_is_not_the_current_folder() -> None:
    with pytest.raises(LoadError, match="empty path"):
        load("")


def test_png_bomb_is_refused_from_its_header(tmp_path) -> None:
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"\x00" * 20001)) + chunk(b"IEND", b""))
    (tmp_path / "bomb.png").write_bytes(png)
    with pytest.raises(LoadError, match="too many pixels"):
        load(tmp_path / "bomb.png")


def test_dicom_slice_far_from_its_stack_is_refused(tmp_path) -> None:
    from brainlens.io.dicom_write import slice_datasets

    dss = slice_datasets(np.ones((8, 8, 5), np.int16), np.diag([1.0, 1.0, 2.0, 1.0]))
    x, y, z = (float(v) for v in dss[-1].ImagePositionPatient)
    dss[-1].ImagePositionPatient = [x, y, z + 500_000.0]
    for k, ds in enumerate(dss):
        ds.save_as(tmp_path / f"IM{k}.dcm", enforce_file_format=True)
    with pytest.raises(LoadError, match="far outside the stack"):
        load(tmp_path)
