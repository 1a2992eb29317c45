"""The one definition of the tumour labels and regions (BraTS convention), numpy-free and Qt-free.

Used by the measurements, the segmenter (label <-> region conversion), the GUI legend, the exports and the
report. A generic label map read from a file keeps its own names; these are the tumour segmenter's.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TumourLabel:
    value: int  # voxel value in a mask
    key: str  # stable machine name (CSV, JSON, DICOM SEG segment label)
    name: str  # what a person reads (legend, report)
    color: tuple[int, int, int]


@dataclass(frozen=True)
class TumourRegion:
    key: str
    name: str
    abbreviation: str
    labels: tuple[int, ...]  # label values that belong to the region (nested: ET in TC in WT)


NECROTIC, OEDEMA, ENHANCING = 1, 2, 4
TUMOUR_LABELS: tuple[TumourLabel, ...] = (
    TumourLabel(NECROTIC, "necrotic_core", "necrotic / non-enhancing core", (230, 60, 50)),
    TumourLabel(OEDEMA, "oedema", "oedema", (60, 200, 90)),
    TumourLabel(ENHANCING, "enhancing_tumor", "enhancing tumour", (255, 215, 0)),
)
TUMOUR_REGIONS: tuple[TumourRegion, ...] = (
    TumourRegion("whole_tumor", "whole tumour", "WT", (NECROTIC, OEDEMA, ENHANCING)),
    TumourRegion("tumor_core", "tumour core", "TC", (NECROTIC, ENHANCING)),
    TumourRegion("enhancing_tumor", "enhancing tumour", "ET", (ENHANCING,)),
)

LABEL_VALUES: tuple[int, ...] = tuple(lab.value for lab in TUMOUR_LABELS)
LABEL_NAMES: dict[int, str] = {lab.value: lab.name for lab in TUMOUR_LABELS}
LABEL_COLORS: dict[int, tuple[int, int, int]] = {lab.value: lab.color for lab in TUMOUR_LABELS}
REGION_LABELS: dict[str, tuple[int, ...]] = {r.key: r.labels for r in TUMOUR_REGIONS}
REGION_NAMES: dict[str, str] = {r.key: r.name for r in TUMOUR_REGIONS}


def tumour_label(value: int) -> TumourLabel:
    for lab in TUMOUR_LABELS:
        if lab.value == value:
            return lab
    raise KeyError(f"{value} is not a tumour label ({', '.join(map(str, LABEL_VALUES))})")
