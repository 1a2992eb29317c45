"""Brain extraction for the segmenter: deepbet's networks for skull-on studies, the foreground otherwise.

Why a network: the numpy heuristic (core.brain_extraction) keeps the bright scalp fat of clinical FLAIR,
and the segmenter then calls that fat tumour. deepbet (Fisch et al. 2024, MIT licence) ships two
TorchScript models inside its wheel (nothing is downloaded): a 128^3 bounding-box net and a 256^3 mask
net. We call those two files directly, with deepbet's input normalisation, after checking their SHA-256
against models/manifest.json; deepbet's own Python (file I/O, pandas, GUI) is not used.

When: deepbet over-reaches on volumes that are already skull-stripped (it was trained on heads), so a
stripped volume keeps its own foreground. "Stripped" is decided from the image itself (see
``already_stripped``), on the segmenter's 2 mm canonical grid.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from brainlens.core.brain_extraction import brain_mask, largest_component
from brainlens.core.errors import ModelError
from brainlens.ml.registry import sha256_file

SMALL_SHAPE = (128, 128, 128)
CROP_SHAPE = (256, 256, 256)
BBOX_MARGIN = 0.1
# A stripped volume has a background at exactly its minimum and no bright rim around the brain: the
# outer 4 mm shell of its foreground is no brighter than the interior. A head keeps scalp fat and
# skull marrow there (FLAIR, T1) or at least a far larger foreground than a brain.
STRIPPED_MIN_BACKGROUND = 0.25
STRIPPED_MAX_FOREGROUND_ML = 2200.0
STRIPPED_MAX_RIM_RATIO = 1.15


@dataclass
class BrainExtractor:
    """The two deepbet TorchScript models, loaded once (pass this object around, like a model)."""

    bbox_model: Any
    mask_model: Any
    source: str


def deepbet_files() -> dict[str, Path]:
    """Paths of deepbet's bundled model files (its wheel installs them under site-packages/data/models)."""
    import importlib.util

    spec = importlib.util.find_spec("deepbet")
    if spec is None or spec.origin is None:
        raise ModelError("brain extraction needs the 'deepbet' package (pip install deepbet)")
    folder = Path(spec.origin).resolve().parents[1] / "data" / "models"
    return {"bbox_model": folder / "bbox_model.pt", "mask_model": folder / "model.pt"}


def load_extractor(expected_sha256: dict[str, str], device: Any = "cpu") -> BrainExtractor:
    """Load deepbet's models after checking each file's SHA-256 against the manifest's values."""
    import torch

    files = deepbet_files()
    models = {}
    for key, path in files.items():
        if not path.is_file():
            raise ModelError(f"deepbet model file missing: {path}")
        digest = sha256_file(path)
        if digest != expected_sha256.get(key):
            raise ModelError(f"deepbet {key} does not match the manifest's SHA-256 (got {digest[:12]}…)")
        # TorchScript archives are read by torch's own restricted unpickler (tensors and TorchScript
        # code only, no arbitrary Python objects), and the hash above pins the exact file.
        with warnings.catch_warnings():  # torch's "jit.load is deprecated" notice is not the user's business
            warnings.simplefilter("ignore")
            model = torch.jit.load(str(path), map_location=device)
        model.eval()
        models[key] = model
    return BrainExtractor(models["bbox_model"], models["mask_model"], source="deepbet")


def already_stripped(image: np.ndarray, spacing_mm: float) -> bool:
    """True when ``image`` looks skull-stripped: constant background, brain-sized, no bright rim."""
    data = np.nan_to_num(np.asarray(image, dtype=np.float32))
    if data.size == 0 or float(np.mean(data == data.min())) < STRIPPED_MIN_BACKGROUND:
        return False
    fg = ndimage.binary_fill_holes(data > data.min())
    if fg.sum() * spacing_mm ** 3 / 1000.0 > STRIPPED_MAX_FOREGROUND_ML:
        return False
    shell_vox = max(1, int(round(4.0 / spacing_mm)))
    inner = ndimage.binary_erosion(fg, iterations=shell_vox)
    rim = fg & ~inner
    if not inner.any() or not rim.any():
        return True
    return float(np.median(data[rim])) <= STRIPPED_MAX_RIM_RATIO * float(np.median(data[inner]))


def _normalise(x: Any, low: Any, high: Any) -> Any:
    """deepbet's input scaling: window to the 0.5-99.5 % quantiles, standardise, map to ImageNet-ish stats."""
    x = ((x - low) / (high - low)).clamp(0, 1)
    x = (x - x.mean()) / x.std().clamp_min(1e-6)
    return 0.226 * x + 0.449


def _bbox(mask_small: np.ndarray, shape: tuple[int, ...]) -> tuple[slice, slice, slice]:
    """Bounding box of the coarse mask scaled to ``shape``, widened by BBOX_MARGIN of its size per side."""
    idx = np.nonzero(mask_small)
    scale = np.asarray(shape) / np.asarray(mask_small.shape)
    out = []
    for axis, n in enumerate(shape):
        lo, hi = idx[axis].min() * scale[axis], (idx[axis].max() + 1) * scale[axis]
        pad = (hi - lo) * BBOX_MARGIN
        out.append(slice(max(0, int(round(lo - pad))), min(n, int(round(hi + pad)))))
    return tuple(out)  # type: ignore[return-value]


def deep_brain_mask(image: np.ndarray, extractor: BrainExtractor) -> np.ndarray:
    """Brain mask of a canonical (RAS-ordered) volume with deepbet's two networks."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.nan_to_num(np.asarray(image, dtype=np.float32)))
    with torch.no_grad():
        small = F.interpolate(x[None, None], SMALL_SHAPE, mode="nearest-exact")[0, 0]
        low, high = torch.quantile(small.flatten(), 0.005), torch.quantile(small.flatten(), 0.995)
        if float(high - low) <= 0:
            return np.zeros(image.shape, dtype=bool)
        p_small = extractor.bbox_model(_normalise(small, low, high)[None, None])[0, 1]
        m_small = p_small.float().numpy() > 0.5
        if not m_small.any():
            return np.zeros(image.shape, dtype=bool)
        box = _bbox(largest_component(m_small), x.shape)
        crop = F.interpolate(x[box][None, None], CROP_SHAPE, mode="nearest-exact")
        p = extractor.mask_model(_normalise(crop[0, 0], low, high)[None, None])[0, 1]
        p_box = F.interpolate(p[None, None].float(), x[box].shape, mode="nearest-exact")[0, 0]
    mask = np.zeros(image.shape, dtype=bool)
    mask[box] = p_box.numpy() > 0.5
    if not mask.any():
        return mask
    return ndimage.binary_fill_holes(largest_component(mask))


def find_brain(image: np.ndarray, spacing_mm: float, extractor: BrainExtractor | None) -> tuple[np.ndarray, str]:
    """(brain mask, method) on the segmenter grid: stripped foreground, deepbet, or the heuristic fallback."""
    if already_stripped(image, spacing_mm):
        return brain_mask(image, (spacing_mm,) * 3), "already skull-stripped: foreground kept"
    if extractor is not None:
        mask = deep_brain_mask(image, extractor)
        if mask.sum() * spacing_mm ** 3 / 1000.0 >= 50.0:  # a real brain (or a good part of one) was found
            return mask, "deepbet brain extraction"
    return brain_mask(image, (spacing_mm,) * 3), "heuristic brain extraction (deepbet found no brain)"
