"""Hostile inputs opened in the window (offscreen): each bad one gives exactly one one-line dialog and the open
study stays; one with unusable geometry opens with its fallback stated in the series warnings."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

pytest.importorskip("pytestqt")
from brainlens.gui import main_window as mw  # noqa: E402

pytestmark = pytest.mark.gui


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header declares width x height (a decompression bomb is refused from the header alone)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(width + 1))))
    return path


def _bad_inputs(tmp: Path) -> dict[str, str]:
    os.mkfifo(tmp / "pipe.nii")
    (tmp / "zero.dcm").symlink_to("/dev/zero")
    (tmp / "loop.nii").symlink_to("loop.nii")
    huge = nib.Nifti1Image(np.zeros((4, 4, 4), np.int16), np.eye(4))
    raw = bytearray(huge.to_bytes())
    struct.pack_into("<3h", raw, 42, 30000, 30000, 30000)
    (tmp / "huge.nii").write_bytes(bytes(raw))
    (tmp / "new\nline.nii").write_bytes(b"broken")
    return {"fifo": str(tmp / "pipe.nii"), "device": str(tmp / "zero.dcm"), "loop": str(tmp / "loop.nii"),
            "bomb": str(_png_header_only(tmp / "bomb.png", 20000, 20000)), "huge": str(tmp / "huge.nii"),
            "newline": str(tmp / "new\nline.nii"), "empty": ""}


@pytest.fixture
def window(qtbot):
    win = mw.MainWindow()
    qtbot.addWidget(win)
    win.resize(1000, 700)
    win.show()
    yield win
    win.close()


def _open(qtbot, win, path) -> str:
    job = win.open_path(path)
    with qtbot.waitSignal(job.finished, timeout=30000):
        pass
    return job.outcome


def test_each_bad_input_gives_one_dialog_and_keeps_the_study(qtbot, window, tmp_path, monkeypatch):
    job = window.open_demo(shape=(48, 56, 48), spacing_mm=3.0)
    with qtbot.waitSignal(job.finished, timeout=30000):
        pass
    before, title = window.scene_model.series, window.windowTitle()
    shown: list[str] = []
    monkeypatch.setattr(mw.QMessageBox, "warning", lambda parent, t, text: shown.append(text))
    for n, (kind, path) in enumerate(_bad_inputs(tmp_path).items(), 1):
        assert _open(qtbot, window, path) == "error", kind
        assert len(shown) == n, f"{kind}: {shown}"
        assert shown[-1] and "\n" not in shown[-1] and "Traceback" not in shown[-1], kind
        assert window.scene_model.series is before and window.windowTitle() == title, kind


def test_unusable_geometry_opens_with_its_fallback_stated(qtbot, window, tmp_path):
    img = nib.Nifti1Image((np.random.default_rng(0).random((24, 24, 12)) * 100).astype(np.int16), np.eye(4))
    raw = bytearray(img.to_bytes())
    struct.pack_into("<12f", raw, 280, *([float("nan")] * 12))  # sform rows NaN
    path = tmp_path / "nan_affine.nii"
    path.write_bytes(bytes(raw))
    assert _open(qtbot, window, path) == "result"
    vol = window.loaded.study.series[0]
    assert np.all(np.isfinite(vol.affine)) and not vol.spacing_known
    assert any("unusable geometry" in w for w in vol.warnings)
