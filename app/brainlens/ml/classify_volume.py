"""Whole-volume mode: classify every slice of one plane in batches and summarise the study.

Slices are cut from the RAS-canonical array and shown the way the 2D training images were: radiological
convention (patient right on the image left), anterior / superior at the top. `display_slice` and
`to_canonical_slice` convert between that display orientation and core.geometry.extract_slice's arrays so
a Grad-CAM map of a slice can be put back on the volume.

Study summary rule (2D slices of a tumour-bearing head are mostly tumour-free, so a plain mean would say
"notumor"): among slices with head signal that are not out-of-distribution, those whose label is a tumour
type vote; the study label is the tumour type with the largest summed probability over those slices, if at
least `min_tumour_slices` of them carry it; otherwise "notumor". The driving slices are the ones with the
highest probability of the study label.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from brainlens.core.errors import InputError
from brainlens.core.geometry import extract_slice, to_canonical
from brainlens.core.volume import Volume
from brainlens.ml.classifier_engine import Classifier, load_classifier
from brainlens.ml.classify import CancelFn, ClassificationResult, ProgressFn, classify_many

PLANES = ("axial", "coronal", "sagittal")
_AXIS = {"axial": 2, "coronal": 1, "sagittal": 0}
MIN_SIGNAL_FRACTION = 0.05  # share of the slice above 10 % of the volume's robust maximum
NO_TUMOUR = "notumor"


@dataclass
class SliceResult:
    index: int  # along the plane's normal in the RAS-canonical array
    has_signal: bool
    result: ClassificationResult | None  # None for skipped (almost empty) slices


@dataclass
class VolumeClassification:
    plane: str
    slices: list[SliceResult]
    label: str  # study-level label (see module docstring)
    mean_probabilities: dict[str, float]  # over classified, in-distribution slices
    driving_slices: list[int]  # canonical indices, most convincing first
    n_tumour_slices: dict[str, int]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"plane": self.plane, "label": self.label, "mean_probabilities": self.mean_probabilities,
                "driving_slices": self.driving_slices, "n_tumour_slices": self.n_tumour_slices,
                "n_slices": len(self.slices), "n_classified": sum(s.result is not None for s in self.slices),
                "n_ood": sum(s.result is not None and s.result.ood for s in self.slices),
                "notes": self.notes}


def display_slice(canonical: np.ndarray, plane: str, index: int) -> np.ndarray:
    """Slice `index` of a RAS-canonical array in display orientation (anterior/superior up, right on left)."""
    return np.ascontiguousarray(extract_slice(canonical, plane, index).T[::-1, ::-1])


def to_canonical_slice(display: np.ndarray) -> np.ndarray:
    """Inverse of display_slice's reorientation (e.g. for a Grad-CAM map of a display slice)."""
    return np.ascontiguousarray(display[::-1, ::-1].T)


def signal_mask(canonical: np.ndarray, plane: str) -> np.ndarray:
    """Per slice: does it hold enough head to be worth classifying?"""
    data = np.nan_to_num(np.asarray(canonical, np.float32))
    hi = float(np.percentile(data, 99.5)) if data.size else 0.0
    lo = float(data.min()) if data.size else 0.0
    if hi - lo <= 1e-6:
        return np.zeros(data.shape[_AXIS[plane]], bool)
    above = data > lo + 0.1 * (hi - lo)
    other = tuple(a for a in range(3) if a != _AXIS[plane])
    return above.mean(axis=other) >= MIN_SIGNAL_FRACTION


def summarise(results: list[ClassificationResult | None], labels: tuple[str, ...],
              min_tumour_slices: int = 3, top: int = 5) -> tuple[str, dict[str, float], list[int], dict[str, int]]:
    usable = [(i, r) for i, r in enumerate(results) if r is not None and not r.ood]
    if not usable:
        return "unknown", {k: float("nan") for k in labels}, [], {}
    probs = np.array([[r.probabilities[k] for k in labels] for _, r in usable])
    mean = {k: float(v) for k, v in zip(labels, probs.mean(0))}
    tumour = [k for k in labels if k != NO_TUMOUR]
    counts = {k: sum(r.label == k for _, r in usable) for k in tumour}
    votes = {k: float(sum(r.probabilities[k] for _, r in usable if r.label == k)) for k in tumour}
    best = max(votes, key=votes.get) if votes else NO_TUMOUR
    label = best if counts.get(best, 0) >= min_tumour_slices else NO_TUMOUR
    col = labels.index(label) if label in labels else 0
    order = np.argsort(-probs[:, col], kind="mergesort")[:top]
    return label, mean, [usable[i][0] for i in order], counts


def classify_volume(volume: Volume, plane: str = "axial", batch: int = 32, progress: ProgressFn | None = None,
                    cancel: CancelFn | None = None, model: Classifier | None = None, mc_samples: int | None = None,
                    tta: bool = True, min_tumour_slices: int = 3) -> VolumeClassification:
    """Classify every slice of `plane` (RAS-canonical index order); raises Cancelled when cancel() says so.

    `model=None` loads the default bundled classifier; pass a loaded one when classifying several volumes.
    """
    if plane not in PLANES:
        raise InputError(f"unknown plane '{plane}'; choose one of: {', '.join(PLANES)}")
    canonical, _ = to_canonical(volume)
    data = canonical.data
    n = data.shape[_AXIS[plane]]
    has_signal = signal_mask(data, plane)
    todo = [i for i in range(n) if has_signal[i]]
    images = [display_slice(data, plane, i) for i in todo]
    if model is None:
        model = load_classifier()
    done = classify_many(images, model, batch=batch, mc_samples=mc_samples, tta=tta, progress=progress,
                         cancel=cancel)
    by_index: list[ClassificationResult | None] = [None] * n
    for i, r in zip(todo, done):
        by_index[i] = r
    label, mean, driving, counts = summarise(by_index, model.labels, min_tumour_slices=min_tumour_slices)
    notes = [f"{n - len(todo)} of {n} {plane} slices skipped (almost no head signal)"] if len(todo) < n else []
    n_ood = sum(r.ood for r in done)
    if n_ood:
        notes.append(f"{n_ood} slices look unlike the training data (not counted in the summary)")
    slices = [SliceResult(i, bool(has_signal[i]), by_index[i]) for i in range(n)]
    return VolumeClassification(plane, slices, label, mean, driving, counts, notes)
