"""Label <-> region conversions (BraTS WT/TC/ET) and the network's shape contract."""

from __future__ import annotations

import numpy as np
import pytest

from brainlens.ml.seg_model import REGIONS, labels_to_regions, regions_to_labels


def test_labels_to_regions_follow_brats_definitions() -> None:
    labels = np.array([0, 1, 2, 4], dtype=np.uint8).reshape(4, 1, 1)
    wt, tc, et = labels_to_regions(labels)
    assert wt.ravel().tolist() == [False, True, True, True]
    assert tc.ravel().tolist() == [False, True, False, True]
    assert et.ravel().tolist() == [False, False, False, True]


def test_round_trip_labels_regions_labels() -> None:
    rng = np.random.default_rng(1)
    labels = rng.choice(np.array([0, 1, 2, 4], dtype=np.uint8), size=(8, 9, 7))
    assert np.array_equal(regions_to_labels(labels_to_regions(labels)), labels)


def test_regions_to_labels_nests_inconsistent_predictions() -> None:
    # ET predicted without TC/WT still becomes enhancing tumour; TC without WT becomes core.
    wt = np.array([0, 1, 0, 0], bool)
    tc = np.array([0, 0, 1, 0], bool)
    et = np.array([0, 0, 0, 1], bool)
    assert regions_to_labels(np.stack([wt, tc, et])).tolist() == [0, 2, 1, 4]


def test_network_maps_four_channels_to_three_regions() -> None:
    torch = pytest.importorskip("torch")
    from brainlens.ml.seg_model import build_model

    model = build_model().eval()
    with torch.no_grad():
        out = model(torch.zeros(1, 4, 16, 16, 16))
    assert tuple(out.shape) == (1, len(REGIONS), 16, 16, 16)
