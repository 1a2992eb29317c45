"""Invariants of the one classifier preprocessing path (shared by training and inference)."""

from __future__ import annotations

import numpy as np
import pytest

from brainlens.ml.classifier_preprocess import INPUT_SIZE, prepare, preprocess, to_original_grid, window_percentiles


def _head(size=(224, 224), value=200.0, dtype=np.uint8) -> np.ndarray:
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    inside = ((xx - w / 2) / (0.3 * w)) ** 2 + ((yy - h / 2) / (0.4 * h)) ** 2 <= 1
    return (inside * value).astype(dtype)


@pytest.mark.parametrize("image", [
    _head(),  # 8-bit grey
    np.repeat(_head()[..., None], 3, axis=2),  # RGB
    np.concatenate([np.repeat(_head()[..., None], 3, axis=2), np.full((224, 224, 1), 255, np.uint8)], axis=2),
    _head((300, 200), 3000.0, np.uint16),  # 16-bit DICOM-like, non-square
    _head((128, 96), 812.5, np.float64) - 1000.0,  # float slice with negative values (HU-like)
    _head((5, 7)),  # tiny
    np.zeros((64, 64), np.uint8),  # blank
])
def test_preprocess_shape_range_and_stats(image: np.ndarray) -> None:
    x, prep = preprocess(image)
    assert x.shape == (INPUT_SIZE, INPUT_SIZE) and x.dtype == np.float32
    assert np.isfinite(x).all()
    assert prep.image.dtype == np.uint8 and prep.image.shape == (INPUT_SIZE, INPUT_SIZE)
    assert prep.original_shape == image.shape[:2]
    r0, r1, c0, c1 = prep.box
    assert 0 <= r0 < r1 <= image.shape[0] and 0 <= c0 < c1 <= image.shape[1]
    if prep.blank:
        assert not x.any()
    else:
        assert abs(float(x.mean())) < 1e-3 and abs(float(x.std()) - 1.0) < 1e-2


def test_blank_is_marked_and_signal_is_not() -> None:
    assert prepare(np.full((50, 50), 7, np.uint16)).blank
    assert not prepare(_head()).blank


def test_crop_finds_the_head_and_already_cropped_input_is_kept_whole() -> None:
    img = np.zeros((256, 256), np.uint8)
    img[60:200, 80:170] = _head((140, 90))
    r0, r1, c0, c1 = prepare(img).box
    assert 55 <= r0 <= 80 and 180 <= r1 <= 205 and 75 <= c0 <= 100 and 150 <= c1 <= 175
    full = np.full((140, 90), 180, np.uint8)  # already cropped: signal touches every border
    full[40:60, 30:50] = 60
    assert prepare(full).box == (0, 140, 0, 90)


def test_rgb_and_grey_give_the_same_input() -> None:
    grey = _head()
    rgb = np.repeat(grey[..., None], 3, axis=2)
    np.testing.assert_allclose(preprocess(grey)[0], preprocess(rgb)[0], atol=1e-5)


def test_to_original_grid_undoes_crop_and_resize() -> None:
    img = np.zeros((300, 200), np.uint8)
    img[50:250, 40:160] = _head((200, 120))
    _, prep = preprocess(img)
    back = to_original_grid(np.ones((INPUT_SIZE, INPUT_SIZE), np.float32), prep)
    assert back.shape == img.shape
    r0, r1, c0, c1 = prep.box
    assert back[r0:r1, c0:c1].min() == 1.0 and back.sum() == (r1 - r0) * (c1 - c0)


def test_window_percentiles_equal_numpy_for_integer_and_float_slices() -> None:
    rng = np.random.default_rng(3)
    cases = [rng.integers(0, 256, (97, 131)), rng.integers(-1024, 3000, (64, 64)),  # PNG-like, CT/DICOM-like
             np.where(rng.random((50, 40)) < 0.9, 0, 7),  # mostly background
             rng.normal(size=(80, 80)), np.full((5, 5), 3.0), rng.integers(0, 70000, (30, 30))]  # float, flat, wide
    for case in cases:
        grey = case.astype(np.float32)
        assert window_percentiles(grey) == tuple(float(v) for v in np.percentile(grey, [0.5, 99.5]))
