"""The synthetic head phantom: four co-registered sequences, a labelled lesion with the right contrasts."""

import numpy as np
import pytest

from brainlens.core.geometry import axcodes, to_canonical
from brainlens.core.phantom import make_head_phantom, make_head_phantom_with_labels, phantom_label_map
from brainlens.core.volume import SEQUENCES

SMALL = (48, 56, 48)


@pytest.fixture(scope="module")
def phantom():
    return make_head_phantom_with_labels(shape=SMALL, spacing_mm=3.0, seed=1)


def test_four_coregistered_sequences_titled_synthetic(phantom):
    study, labels = phantom
    assert [v.sequence for v in study.series] == list(SEQUENCES)
    assert set(study.by_sequence()) == set(SEQUENCES)
    for vol in study.series:
        assert vol.shape == SMALL
        assert vol.name.startswith("Synthetic phantom")
        assert vol.metadata["synthetic"] is True
        np.testing.assert_allclose(vol.affine, labels.affine)
        assert vol.spacing == pytest.approx((3.0, 3.0, 3.0))
    assert axcodes(labels.affine) == ("L", "P", "S")


def test_labels_follow_brats_convention(phantom):
    _, labels = phantom
    assert labels.data.dtype == np.uint8
    assert set(np.unique(labels.data)) == {0, 1, 2, 4}


def test_lesion_contrasts(phantom):
    study, labels = phantom
    seq = study.by_sequence()
    lab = labels.data
    brain_wm = (lab == 0) & (seq["t1"].data > np.percentile(seq["t1"].data, 90))

    def mean(name, mask):
        return float(seq[name].data[mask].mean())

    # enhancing rim is bright on post-contrast T1 and not on plain T1
    assert mean("t1ce", lab == 4) > 1.5 * mean("t1", lab == 4)
    # oedema is bright on FLAIR and T2 compared with the core on FLAIR / healthy tissue
    assert mean("flair", lab == 2) > 1.3 * mean("flair", brain_wm)
    assert mean("t2", lab == 2) > 1.3 * mean("t2", brain_wm)
    # necrotic core dark on T1ce compared with its rim
    assert mean("t1ce", lab == 1) < 0.7 * mean("t1ce", lab == 4)


def test_lesion_is_in_the_right_hemisphere(phantom):
    _, labels = phantom
    canon, _ = to_canonical(labels)
    centre_i = np.argwhere(canon.data > 0).mean(axis=0)[0]
    # canonical RAS: larger i is further to the patient's right
    assert centre_i > canon.shape[0] / 2


def test_label_map_rebuilt_from_study_is_identical(phantom):
    study, labels = phantom
    again = phantom_label_map(study)
    np.testing.assert_array_equal(again.data, labels.data)
    np.testing.assert_allclose(again.affine, labels.affine)


def test_deterministic_and_ras_option():
    a = make_head_phantom(shape=(32, 32, 32), spacing_mm=4.0, seed=3)
    b = make_head_phantom(shape=(32, 32, 32), spacing_mm=4.0, seed=3, orientation="RAS")
    np.testing.assert_array_equal(a.series[0].data[::-1, ::-1, :], b.series[0].data)
    assert axcodes(b.series[0].affine) == ("R", "A", "S")
    with pytest.raises(ValueError):
        make_head_phantom(orientation="XYZ")


def test_not_a_phantom_is_refused(phantom):
    study, _ = phantom
    plain = study.series[0].with_data(study.series[0].data)
    plain.metadata.pop("phantom")
    with pytest.raises(ValueError):
        phantom_label_map(plain)
