"""Training augmentation: patch sampling and the sequence drop-out contract."""

from __future__ import annotations

import numpy as np

from brainlens.ml.seg_augment import augment, drop_sequences, low_resolution, sample_patch


def _volume(shape=(50, 70, 40)):
    rng = np.random.default_rng(0)
    img = rng.normal(size=(4,) + shape).astype(np.float32)
    reg = np.zeros((3,) + shape, dtype=bool)
    reg[:, 20:26, 30:36, 10:16] = True
    return img, reg


def test_patches_have_the_patch_shape_even_from_small_volumes() -> None:
    img, reg = _volume()
    rng = np.random.default_rng(1)
    for _ in range(12):
        x, y = sample_patch(img, reg, (64, 64, 64), rng, rotate_p=0.5)
        assert x.shape == (4, 64, 64, 64) and y.shape == (3, 64, 64, 64)
        x, y = augment(x, y, rng)
        assert x.shape == (4, 64, 64, 64) and np.isfinite(x).all()
        assert set(np.unique(y)) <= {0.0, 1.0}


def test_tumour_centred_sampling_finds_the_tumour() -> None:
    img, reg = _volume((120, 120, 120))
    rng = np.random.default_rng(2)
    hits = sum(sample_patch(img, reg, (32, 32, 32), rng, tumour_fraction=1.0, rotate_p=0.0)[1].any()
               for _ in range(10))
    assert hits == 10


def test_sequence_dropout_never_drops_everything() -> None:
    rng = np.random.default_rng(3)
    img = np.ones((4, 8, 8, 8), np.float32)
    kept = [drop_sequences(img, rng, p=1.0) for _ in range(200)]
    assert all(k.any(axis=(1, 2, 3)).sum() >= 1 for k in kept)
    assert any(k.any(axis=(1, 2, 3)).sum() < 4 for k in kept)
    flair_only = sum(k.any(axis=(1, 2, 3)).tolist() == [True, False, False, False] for k in kept)
    assert flair_only > 20  # the favoured FLAIR-only configuration really is frequent


def test_low_resolution_blurs_along_one_axis_only() -> None:
    rng = np.random.default_rng(4)
    # A separable image f(x) + g(y) + h(z): blurring along one axis leaves the other profiles intact.
    f, g, h = (rng.normal(size=32).astype(np.float32) for _ in range(3))
    img = (f[:, None, None] + g[None, :, None] + h[None, None, :])[None]
    out = low_resolution(img, rng, p=1.0)
    assert out.shape == img.shape
    ratios = sorted(float(np.abs(np.diff(out, axis=a)).mean() / np.abs(np.diff(img, axis=a)).mean())
                    for a in (1, 2, 3))
    assert ratios[0] < 0.8
    assert ratios[1] == ratios[2] == 1.0 or np.allclose(ratios[1:], 1.0, atol=1e-4)
