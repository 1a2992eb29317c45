"""Sampling-based uncertainty for the segmenter: flip test-time augmentation + MC dropout.

Sample 0 is the plain deterministic pass (so ``samples=1`` gives the ordinary prediction). Further
samples each use one flip combination of the input (undone on the output) with dropout active.
Uncertainty is the predictive entropy of the mean probability, averaged over the three regions
(bits, 0 = certain, 1 = p of 0.5 everywhere).
"""

from __future__ import annotations

from itertools import product
from typing import Any

import numpy as np

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


def volume_range_ml(sample_volumes_ml: list[float]) -> list[float]:
    """5th and 95th percentile of per-sample volumes (a single sample gives a zero-width range)."""
    if not sample_volumes_ml:
        return [0.0, 0.0]
    lo, hi = np.percentile(np.asarray(sample_volumes_ml, dtype=np.float64), [5, 95])
    return [float(lo), float(hi)]
