"""Segmenter training data: BraTS (four sequences, labels 1/2/4) and clinical skull-on FLAIR (whole tumour only).

Both kinds go through the product's own preprocessing (ml.seg_preprocess with deepbet for skull-on
studies), so training sees exactly what inference sees. Each case carries ``known``: which of the
three regions (WT, TC, ET) its labels define; a FLAIR-abnormality mask defines WT only, and the loss
ignores the rest (training.seg_loss).

Patient-wise folds: one seeded permutation per source; fold k tests the k-th block, validates on the
next ``n_val`` patients, trains on the rest. Fold 0 of BraTS is the split the first segmenter used
(its test patients were never trained on), which is what lets fold 0 warm-start from those weights.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from brainlens.ml.seg_model import CHANNELS, REGIONS

SPLIT_SEED = 20240611
LGG_SEED = 20261201
FOLDS = 4
BRATS_VAL, LGG_VAL = 2, 4
ALL_KNOWN = np.ones(len(REGIONS), dtype=bool)
WT_ONLY = np.array([True, False, False])


@dataclass
class TrainCase:
    name: str
    source: str  # "brats" or "lgg-flair"
    image: np.ndarray  # (4, X, Y, Z) float32 on the cropped 2 mm grid
    regions: np.ndarray  # (3, X, Y, Z) bool
    known: np.ndarray  # (3,) bool: regions the labels define


def list_cases(data: Path) -> list[str]:
    """BraTS case folders (<case>/<case>_seg.nii.gz)."""
    cases = sorted(p.name for p in data.iterdir() if p.is_dir() and (p / f"{p.name}_seg.nii.gz").exists())
    if not cases:
        raise SystemExit(f"no BraTS cases (<case>/<case>_seg.nii.gz) under {data}")
    return cases


def list_lgg_cases(data: Path) -> list[str]:
    """Clinical FLAIR patients (<id>_flair.nii.gz beside <id>_mask.nii.gz)."""
    return sorted(p.name[: -len("_flair.nii.gz")] for p in data.glob("*_flair.nii.gz")
                  if (data / p.name.replace("_flair.nii.gz", "_mask.nii.gz")).exists())


def fold_split(cases: list[str], fold: int, folds: int = FOLDS, n_val: int = BRATS_VAL,
               seed: int = SPLIT_SEED) -> dict[str, list[str]]:
    """Patient-wise test / val / train for one fold (``fold`` = -1: no test, train on all but val)."""
    order = [sorted(cases)[i] for i in np.random.default_rng(seed).permutation(len(cases))]
    n = len(order)
    if fold < 0:
        return {"test": [], "val": sorted(order[:n_val]), "train": sorted(order[n_val:])}
    if not 0 <= fold < folds:
        raise ValueError(f"fold must be in 0..{folds - 1} (or -1 for the final model), got {fold}")
    bounds = np.linspace(0, n, folds + 1).round().astype(int)
    test = order[bounds[fold]:bounds[fold + 1]]
    rest = order[bounds[fold + 1]:] + order[:bounds[fold]]
    return {"test": sorted(test), "val": sorted(rest[:n_val]), "train": sorted(rest[n_val:])}


def split_cases(cases: list[str], seed: int = SPLIT_SEED) -> dict[str, list[str]]:
    """The first segmenter's BraTS split (= fold 0 of 4 with 2 validation patients)."""
    return fold_split(cases, 0, FOLDS, BRATS_VAL, seed)


def _load(path: Path, name: str) -> Any:
    import nibabel as nib

    from brainlens.core.volume import Volume

    img = nib.load(str(path))
    return Volume(np.asanyarray(img.dataobj), img.affine, name=name, sequence=name)


def _cache_io(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    if not path.exists():
        return None
    with np.load(path) as z:
        return z["image"].astype(np.float32), z["regions"].astype(bool)


def _cache_write(path: Path, image: np.ndarray, regions: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, image=image.astype(np.float16), regions=regions)
    os.replace(tmp, path)


def brats_case(data: Path, case: str, cache: Path, extractor: Any = None) -> TrainCase:
    """One BraTS patient on the 2 mm grid (cached as float16 / bool .npz)."""
    from brainlens.ml.seg_preprocess import labels_on_grid, preprocess

    path = cache / f"{case}.npz"
    hit = _cache_io(path)
    if hit is None:
        vols = {name: _load(data / case / f"{case}_{name}.nii.gz", name) for name in (*CHANNELS, "seg")}
        prep = preprocess({k: v for k, v in vols.items() if k in CHANNELS}, "flair", extractor=extractor)
        hit = prep.image, labels_on_grid(vols["seg"], prep.grid)
        _cache_write(path, *hit)
    return TrainCase(case, "brats", hit[0], hit[1], ALL_KNOWN)


def lgg_case(data: Path, case: str, cache: Path, extractor: Any) -> TrainCase:
    """One clinical FLAIR patient (skull on; deepbet brain mask) with its whole-tumour mask."""
    from brainlens.ml.seg_preprocess import labels_on_grid, preprocess

    path = cache / f"lgg_{case}.npz"
    hit = _cache_io(path)
    if hit is None:
        flair = _load(data / f"{case}_flair.nii.gz", "flair")
        mask = _load(data / f"{case}_mask.nii.gz", "seg")
        prep = preprocess({"flair": flair}, "flair", extractor=extractor)
        # The mask is the FLAIR abnormality = whole tumour; written as oedema (2) so WT is right and
        # TC / ET stay empty (they are masked out of the loss by ``known``).
        wt = mask.with_data((np.asarray(mask.data) > 0).astype(np.uint8) * 2)
        hit = prep.image, labels_on_grid(wt, prep.grid)
        _cache_write(path, *hit)
    return TrainCase(case, "lgg-flair", hit[0], hit[1], WT_ONLY)


def extractor_from_manifest(directory: Path | None = None) -> Any:
    """deepbet's models, hash-checked against the segmenter's manifest row (the same loader inference uses)."""
    from brainlens.ml.registry import get_entry
    from brainlens.ml.seg_model import MODEL_NAME
    from brainlens.ml.segment import load_brain_extractor

    return load_brain_extractor(get_entry(MODEL_NAME, directory))
