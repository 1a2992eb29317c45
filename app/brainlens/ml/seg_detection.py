"""Is there a tumour at all? Component filtering, the "no tumour detected" outcome and a study-level
uncertainty flag, with thresholds that the evaluation script chooses on validation patients and writes
to the segmenter's manifest row (``extra.detection``).

A whole-tumour component is kept when it is big enough AND the network was confident about it on
average; small, faint components are what a healthy head produces. A component that passes may still be
dropped by a second opinion: the tumour-type classifier shown the slices through it (ml.seg_verify), when
the validated rule sets a limit on its "no tumour" probability. When no component passes, the study's
answer is "no tumour detected" (empty mask), not a list of specks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from brainlens.core.errors import ModelError

# Used only when a manifest row has no validated values (older bundles): the previous fixed rule.
DEFAULT_MIN_COMPONENT_ML = 0.5
DEFAULT_MIN_MEAN_PROBABILITY = 0.0
DEFAULT_MAX_DISAGREEMENT = 1.0


@dataclass(frozen=True)
class DetectionRule:
    min_component_ml: float = DEFAULT_MIN_COMPONENT_ML
    min_mean_probability: float = DEFAULT_MIN_MEAN_PROBABILITY
    max_disagreement: float = DEFAULT_MAX_DISAGREEMENT  # above: the study is flagged uncertain
    # a kept component is dropped when the classifier's P(notumor) on the slices through it is above this
    # (1.0: the classifier is not asked)
    max_classifier_notumor: float = 1.0

    @property
    def asks_classifier(self) -> bool:
        return self.max_classifier_notumor < 1.0

    @classmethod
    def from_extra(cls, extra: Mapping[str, Any]) -> DetectionRule:
        """The rule in a manifest row's ``extra.detection``; ModelError when a value is not a number in range."""
        d = extra.get("detection") or {}
        if not isinstance(d, Mapping):
            raise ModelError("segmenter manifest: 'detection' must be an object")
        values = []
        for key, default, hi in (("min_component_ml", DEFAULT_MIN_COMPONENT_ML, 1000.0),
                                 ("min_mean_probability", DEFAULT_MIN_MEAN_PROBABILITY, 1.0),
                                 ("max_disagreement", DEFAULT_MAX_DISAGREEMENT, 1.0),
                                 ("max_classifier_notumor", 1.0, 1.0)):
            v = d.get(key, default)
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0.0 <= float(v) <= hi:
                raise ModelError(f"segmenter manifest: detection.{key} must be a number in [0, {hi:g}], got {v!r}")
            values.append(float(v))
        return cls(*values)


def component_labels(wt_prob: np.ndarray) -> tuple[np.ndarray, int]:
    """The p > 0.5 whole-tumour components (26-connected), numbered 1..n in the order ``components`` lists them."""
    return ndimage.label(np.asarray(wt_prob) > 0.5, structure=np.ones((3, 3, 3), bool))


def components(wt_prob: np.ndarray, voxel_ml: float) -> tuple[np.ndarray, list[dict[str, float]]]:
    """Label image of the p > 0.5 whole-tumour components and, per component, volume, mean p and its
    most confident voxel (index on the grid of ``wt_prob``)."""
    comp, n = component_labels(wt_prob)
    if n == 0:
        return comp, []
    index = np.arange(1, n + 1)
    sizes = np.bincount(comp.ravel(), minlength=n + 1)[1:]
    prob = np.asarray(wt_prob, dtype=np.float32)
    means = ndimage.mean(prob, comp, index=index)
    peaks = ndimage.maximum_position(prob, comp, index=index)
    return comp, [{"volume_ml": float(s) * voxel_ml, "mean_probability": float(m), "voxel": [int(v) for v in pk]}
                  for s, m, pk in zip(sizes, means, peaks)]


def keep_components(labels: np.ndarray, wt_prob: np.ndarray, voxel_ml: float,
                    rule: DetectionRule) -> tuple[np.ndarray, list[dict[str, float]]]:
    """Labels with the components that fail ``rule`` removed, and the stats of every component."""
    comp, stats = components(wt_prob, voxel_ml)
    if not stats:
        return np.zeros_like(labels), stats
    keep = np.array([False] + [s["volume_ml"] >= rule.min_component_ml
                               and s["mean_probability"] >= rule.min_mean_probability for s in stats])
    for s, k in zip(stats, keep[1:]):
        s["kept"] = bool(k)
    out = labels.copy()
    out[~keep[comp]] = 0
    return out, stats


def disagreement(sample_masks: Sequence[np.ndarray]) -> float:
    """1 - |intersection| / |union| of the samples' whole-tumour masks: 0 when every sample agrees,
    near 1 when they mark different places (the study-level uncertainty that flags likely failures)."""
    if not sample_masks:
        return 0.0
    union = np.logical_or.reduce([np.asarray(m, bool) for m in sample_masks])
    if not union.any():
        return 0.0
    inter = np.logical_and.reduce([np.asarray(m, bool) for m in sample_masks])
    return float(1.0 - inter.sum() / union.sum())
