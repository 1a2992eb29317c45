"""A broken image file gives one reason and nothing else on stderr (OpenCV and libpng print there directly)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from brainlens.core.errors import LoadError
from brainlens.ml.classify import read_image


def _png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray((np.random.default_rng(0).random((32, 32)) * 255).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("cut, fragment", [(lambda b: b[: len(b) // 2], "not a readable image"),
                                           (lambda b: b[:33] + b"\0\0\0\0" + b[37:], "CRC error")])
def test_broken_png_is_one_reason_and_a_quiet_stderr(tmp_path, capfd, cut, fragment) -> None:
    path = tmp_path / "broken.png"
    path.write_bytes(cut(_png()))
    with pytest.raises(LoadError, match=fragment):
        read_image(path)
    assert capfd.readouterr().err == ""
