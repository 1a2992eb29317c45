"""Sampling-based uncertainty for the segmenter: flip test-time augmentation + MC dropout.

Sample 0 is the plain deterministic pass (so ``samples=1`` gives the ordinary prediction). Further
samples each use one flip combination of the input (undone on the output) with dropout active.
Uncertainty is the predictive entropy of the mean probability, averaged over the three regions
(bits, 0 = certain, 1 = p of 0.5 everywhere).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from itertools import product
from typing import Any

import numpy as np

from brainlens.core.errors import ModelError

RANGE_DISAGREEMENT_FLOOR = 0.05  # even samples that agree perfectly are not a certain volume

# Flip combinations over the three spatial axes, single-axis flips first.
FLIPS: tuple[tuple[int, ...], ...] = tuple(sorted(
    (tuple(a for a, f in zip((2, 3, 4), bits) if f) for bits in product((0, 1), repeat=3)),
    key=lambda t: (len(t), t)))


def sample_plan(samples: int) -> list[tuple[tuple[int, ...], bool]]:
    """(flip dims of a (B, C, X, Y, Z) tensor, dropout on?) for each sample."""
    plan = [((), False)]
    for k in range(1, max(1, samples)):
        plan.append((FLIPS[k % len(FLIPS)] if k % len(FLIPS) else (), True))
    return plan


def set_mc_dropout(model: Any, active: bool) -> None:
    """Eval mode everywhere, except dropout layers when ``active`` (MC dropout)."""
    import torch

    model.eval()
    if active:
        for m in model.modules():
            if isinstance(m, torch.nn.modules.dropout._DropoutNd):
                m.train()


def binary_entropy_bits(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float32), 1e-6, 1 - 1e-6)
    return (-(p * np.log2(p) + (1 - p) * np.log2(1 - p))).astype(np.float32)


def predictive_entropy(mean_probs: np.ndarray) -> np.ndarray:
    """(3, X, Y, Z) mean sigmoid probabilities -> (X, Y, Z) entropy in bits, mean over regions."""
    return binary_entropy_bits(mean_probs).mean(axis=0)


def volume_range_ml(sample_volumes_ml: list[float], margin: float = 0.0) -> list[float]:
    """5th and 95th percentile of per-sample volumes, widened by the factor (1 + margin) on both sides.

    Four samples only show how much the network wavers, which is far less than its error on a new study;
    ``margin`` comes from ``range_margin``: the widening per unit of sample disagreement that the evaluation
    script found necessary on validation patients. A single sample and no margin give a zero-width range.
    """
    if not sample_volumes_ml:
        return [0.0, 0.0]
    lo, hi = np.percentile(np.asarray(sample_volumes_ml, dtype=np.float64), [5, 95])
    return [float(lo) / (1.0 + margin), float(hi) * (1.0 + margin)]


def unwidened(volume_range: list[float] | tuple[float, float], margin: float) -> list[float]:
    """volume_range_ml's range before its widening by ``margin`` (to re-calibrate a range already reported)."""
    lo, hi = volume_range
    return [float(lo) * (1.0 + margin), float(hi) / (1.0 + margin)]


def range_score(volume_range: list[float] | tuple[float, float], true_ml: float, disagreement: float) -> float:
    """The conformal score of one study: the margin its unwidened range needs to contain the truth, per unit
    of sample disagreement (the unit ``range_margin`` multiplies back)."""
    return range_margin_needed(volume_range, true_ml) / max(float(disagreement), RANGE_DISAGREEMENT_FLOOR)


def range_margin_needed(volume_range: list[float] | tuple[float, float], true_ml: float) -> float:
    """The smallest margin for which volume_range_ml's widened range contains ``true_ml`` (inf when the
    range is empty and the truth is not)."""
    lo, hi = volume_range
    if true_ml <= 0.0:
        return 0.0 if lo <= 0.0 else math.inf
    if hi <= 0.0:
        return math.inf
    return max(0.0, lo / true_ml - 1.0, true_ml / hi - 1.0)


def conformal_margin(needed: list[float], coverage: float = 0.9) -> float:
    """Split-conformal choice: the ceil((n + 1) * coverage)-th smallest needed margin (the largest one when
    there are too few validation studies for that rank), so about ``coverage`` of new studies are covered."""
    finite = sorted(m for m in needed if math.isfinite(m))
    if not finite:
        return 0.0
    rank = math.ceil((len(finite) + 1) * coverage)
    return float(finite[min(rank, len(finite)) - 1])


def range_margin(extra: Mapping[str, Any], disagreement: float) -> float:
    """The widening for a study whose samples disagree by ``disagreement`` (1 - IoU of their masks): the
    validated factor per unit of disagreement in ``extra.volume_range.per_disagreement`` (0 when absent)
    times the disagreement, so a study the samples are unsure of gets a wider range."""
    block = extra.get("volume_range") or {}
    k = block.get("per_disagreement", 0.0) if isinstance(block, Mapping) else None
    if isinstance(k, bool) or not isinstance(k, int | float) or not 0.0 <= float(k) <= 1000.0:
        raise ModelError(f"segmenter manifest: volume_range.per_disagreement must be a number in [0, 1000], "
                         f"got {k!r}")
    return float(k) * max(float(disagreement), RANGE_DISAGREEMENT_FLOOR)
