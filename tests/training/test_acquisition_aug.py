"""Acquisition effects baked into 3D training slices: the cut spares the lesion, coarse pixels blur."""

import numpy as np

from brainlens.training.acquisition_aug import low_inplane_resolution, partial_fov


def _head(n: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[:n, :n]
    return ((xx - n / 2) ** 2 + (yy - n / 2) ** 2 < (n / 2.5) ** 2).astype(np.float32) * 100.0


def test_partial_fov_removes_part_of_the_head_but_keeps_the_lesion():
    head = _head()
    tumour = np.zeros(head.shape, bool)
    tumour[10:18, 28:36] = True  # near the low end of axis 0
    for seed in range(20):
        cut = partial_fov(head, tumour, np.random.default_rng(seed), min_tumour_px=int(tumour.sum()))
        assert cut is not None
        kept = (cut > 0).sum() / (head > 0).sum()
        assert 0.4 < kept < 0.95
        assert (cut[tumour] > 0).all()  # the lesion survives every cut
        assert np.array_equal(cut[cut > 0], head[cut > 0])  # what is kept is untouched


def test_partial_fov_gives_up_when_no_cut_keeps_enough_tumour():
    head = _head()
    tumour = head > 0  # the lesion fills the head: any cut loses some of it
    assert partial_fov(head, tumour, np.random.default_rng(0), min_tumour_px=int(tumour.sum())) is None


def test_low_inplane_resolution_blurs_edges_and_keeps_the_background_empty():
    rng = np.random.default_rng(0)
    head = _head()
    head[:, ::2] *= 0.5  # fine stripes a coarse acquisition cannot resolve
    low = low_inplane_resolution(head, rng)
    assert low.shape == head.shape
    assert (low[head == 0] == 0).all()
    assert np.abs(np.diff(low, axis=1)).mean() < 0.7 * np.abs(np.diff(head, axis=1)).mean() or \
        np.abs(np.diff(low, axis=0)).mean() < 0.7 * np.abs(np.diff(head, axis=0)).mean()
