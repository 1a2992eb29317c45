"""Rendering regression: the axial view of a small phantom (with its lesion overlay) against a stored
reference image, with a tolerance. Orientation or overlay mistakes (a flip, a transpose, a shifted mask)
change many pixels; anti-aliasing and font differences do not (the border with the letters is ignored).

Regenerate after an intended change with BRAINLENS_UPDATE_REFERENCE=1; a missing reference is a failure.
"""

import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtGui import QImage  # noqa: E402

from brainlens.core.phantom import make_head_phantom_with_labels  # noqa: E402
from brainlens.core.scene import Scene, SeriesDisplay  # noqa: E402
from brainlens.gui.slice_view import SliceView  # noqa: E402

pytestmark = pytest.mark.gui
REFERENCE = Path(__file__).parent / "reference" / "axial_phantom.png"
BORDER = 40  # pixels of the frame (orientation letters, title) left out of the comparison


def to_rgb(img: QImage) -> np.ndarray:
    img = img.convertToFormat(QImage.Format.Format_RGB888)
    arr = np.frombuffer(img.constBits(), np.uint8, img.sizeInBytes()).reshape(img.height(), img.bytesPerLine())
    return arr[:, : img.width() * 3].reshape(img.height(), img.width(), 3).copy()


def render_axial(qtbot, mirrored: bool = False) -> QImage:
    """The axial view at the lesion; ``mirrored`` stores the voxels left-right flipped under the same affine,
    as a reader that lost an axis flip would (the picture must then fail the comparison)."""
    study, labels = make_head_phantom_with_labels(shape=(64, 80, 64), spacing_mm=2.5)
    if mirrored:
        study.series[0].data = np.ascontiguousarray(study.series[0].data[::-1])
        labels.data = np.ascontiguousarray(labels.data[::-1])
    scene = Scene()
    flair = SeriesDisplay.prepare(study.series[0])
    scene.set_series([flair])
    scene.add_label_layer("lesion", labels.data, opacity=0.5)
    view = SliceView(scene, "axial")
    qtbot.addWidget(view)
    view.resize(320, 360)
    view.show()
    qtbot.waitExposed(view)
    idx = np.argwhere(labels.data > 0).mean(axis=0)
    world = labels.affine @ np.append(idx, 1.0)
    scene.set_cursor_world(world[:3])
    view.reset_view()
    qtbot.wait(50)
    return view.grab().toImage()


def _difference(img: QImage) -> tuple[float, float]:
    """(mean absolute difference, fraction of pixels off by more than 60) against the stored reference."""
    assert REFERENCE.exists(), f"reference image {REFERENCE} is missing (BRAINLENS_UPDATE_REFERENCE=1 writes it)"
    got = to_rgb(img).astype(int)[BORDER:-BORDER, BORDER:-BORDER]
    ref = to_rgb(QImage(str(REFERENCE))).astype(int)[BORDER:-BORDER, BORDER:-BORDER]
    assert got.shape == ref.shape
    diff = np.abs(got - ref)
    return float(diff.mean()), float((diff.max(axis=2) > 60).mean())


def test_axial_view_matches_reference(qtbot, tmp_path):
    img = render_axial(qtbot)
    if os.environ.get("BRAINLENS_UPDATE_REFERENCE"):  # an intended change: rewrite the reference on request only
        REFERENCE.parent.mkdir(exist_ok=True)
        img.save(str(REFERENCE))
    mean, far = _difference(img)
    if mean >= 3.0 or far >= 0.02:
        img.save(str(tmp_path / "axial_got.png"))
    assert mean < 3.0, f"mean abs difference {mean:.2f}; see {tmp_path / 'axial_got.png'}"
    assert far < 0.02


def test_reference_check_catches_a_mirrored_rendering(qtbot):
    """The product rendering of left-right flipped voxels must fail the same tolerance the real one passes."""
    mean, far = _difference(render_axial(qtbot, mirrored=True))
    assert mean >= 3.0 or far >= 0.02
