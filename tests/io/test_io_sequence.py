"""Sequence detection rules (core.sequence): names first, then DICOM physics and contrast tags."""

from __future__ import annotations

import pytest

from brainlens.core.sequence import detect_sequence, is_label_name


@pytest.mark.parametrize("text, expected", [
    ("Brats18_2013_20_1_flair.nii.gz", "flair"),
    ("Brats18_2013_20_1_t1.nii.gz", "t1"),
    ("Brats18_2013_20_1_t1ce.nii.gz", "t1ce"),  # must not become t1
    ("Brats18_TCIA02_370_1_t2.nii.gz", "t2"),  # 'TCIA02' must not read as t2-anything else
    ("Brats18_2013_20_1_seg.nii.gz", None),
    ("t2_flair", "flair"),  # t2 token present, but it is a FLAIR
    ("AX T2 FLAIR FS", "flair"),
    ("sag 3D T2FLAIR", "flair"),
    ("T1 FLAIR", "t1"),  # T1-weighted inversion recovery, not dark-fluid FLAIR
    ("AX T1 POST GD", "t1ce"),
    ("T1 +C", "t1ce"),
    ("t1c", "t1ce"),
    ("T1_MPRAGE_post_contrast", "t1ce"),
    ("t1_mprage_sag", "t1"),
    ("T2W_TSE_tra", "t2"),
    ("DWI b1000", None),
    ("ADC map", None),
    ("T2* GRE", None),
    ("localizer", None),
    ("", None),
])
def test_names(text, expected):
    assert detect_sequence(text, None) == expected


@pytest.mark.parametrize("tags, expected", [
    ({"InversionTime": 2500, "RepetitionTime": 9000, "EchoTime": 120}, "flair"),
    ({"InversionTime": 900, "RepetitionTime": 2300, "EchoTime": 3}, "t1"),  # MPRAGE
    ({"RepetitionTime": 500, "EchoTime": 10}, "t1"),
    ({"RepetitionTime": 4000, "EchoTime": 100}, "t2"),
    ({"RepetitionTime": 500, "EchoTime": 10, "ContrastBolusAgent": "Gadovist 7.5 ml"}, "t1ce"),
    ({"RepetitionTime": 500, "EchoTime": 10, "ContrastBolusAgent": "NONE"}, "t1"),
    ({"RepetitionTime": 1500, "EchoTime": 40}, None),  # proton-density-ish: no guess
    ({"InversionTime": 150, "RepetitionTime": 4000, "EchoTime": 60, "ScanningSequence": "IR"}, None),  # STIR
    ({}, None),
])
def test_physics_tags(tags, expected):
    assert detect_sequence("", tags) == expected


def test_names_win_over_physics_and_contrast_upgrades_t1():
    flair_tags = {"InversionTime": 2500, "RepetitionTime": 9000, "EchoTime": 120}
    assert detect_sequence("DWI", {"RepetitionTime": 5000, "EchoTime": 90}) is None
    assert detect_sequence("AX T2", flair_tags) == "t2"
    assert detect_sequence("sag T1 SE", {"ContrastBolusAgent": "Dotarem"}) == "t1ce"
    assert detect_sequence("t2 tse", {"ContrastBolusAgent": "Dotarem"}) == "t2"


def test_label_names():
    assert is_label_name("Brats18_2013_20_1_seg")
    assert is_label_name("tumour-mask")
    assert not is_label_name("Brats18_2013_20_1_t1ce")
    assert not is_label_name("segment")  # only whole tokens count
