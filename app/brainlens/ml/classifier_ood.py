"""Out-of-distribution score: Mahalanobis distance of a slice's embedding to the nearest class mean.

Class means and one shared (tied) precision matrix are estimated on TRAIN embeddings by the evaluation
script (Lee et al. 2018, "A simple unified framework for detecting OOD samples"); the threshold is a high
percentile of VALIDATION in-distribution scores. The statistics travel inside the weights file under the
``ood.`` key prefix, so they are covered by the same SHA-256 check as the network.

Embeddings are divided by one global scale first so the stored tensors are O(1) and survive float16.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

PREFIX = "ood."
SHRINKAGE = 0.05  # toward a scaled identity: some pooled ReLU features are nearly constant


@dataclass
class OODStats:
    means: torch.Tensor  # (C, D) on scaled features
    precision: torch.Tensor  # (D, D) on scaled features
    scale: float  # embeddings are divided by this before the distance

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor], scale: float) -> OODStats:
        return cls(tensors["means"].float(), tensors["precision"].float(), float(scale))

    def to_tensors(self) -> dict[str, torch.Tensor]:
        return {PREFIX + "means": self.means.contiguous(), PREFIX + "precision": self.precision.contiguous()}

    @cached_property
    def whitening(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(L, means @ L) with precision = L L^T, so a distance is one (D, D) product per embedding instead of
        one per class; None when the precision is not positive definite (then the direct form is used)."""
        chol, info = torch.linalg.cholesky_ex(self.precision.double())
        if int(info) != 0:
            return None
        lower = chol.float()
        return lower, self.means @ lower


def split_state(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(network state_dict, OOD tensors without the prefix)."""
    net = {k: v for k, v in state.items() if not k.startswith(PREFIX)}
    ood = {k[len(PREFIX):]: v for k, v in state.items() if k.startswith(PREFIX)}
    return net, ood


def fit(embeddings: np.ndarray, labels: np.ndarray, n_classes: int) -> OODStats:
    """Class means and a shrunk tied covariance of train embeddings (N, D)."""
    z = np.asarray(embeddings, np.float64)
    scale = float(z.std(axis=0).mean()) or 1.0
    z = z / scale
    means = np.stack([z[labels == k].mean(0) for k in range(n_classes)])
    centred = z - means[labels]
    cov = centred.T @ centred / max(len(z) - n_classes, 1)
    d = cov.shape[0]
    cov = (1 - SHRINKAGE) * cov + SHRINKAGE * (np.trace(cov) / d) * np.eye(d)
    precision = np.linalg.inv(cov)
    precision = (precision + precision.T) / 2
    return OODStats(torch.from_numpy(means.astype(np.float32)), torch.from_numpy(precision.astype(np.float32)),
                    scale)


def mahalanobis(embeddings: torch.Tensor, stats: OODStats) -> torch.Tensor:
    """(B,) square root of the smallest class-conditional Mahalanobis distance."""
    z = embeddings.float().cpu() / stats.scale
    if stats.whitening is not None:
        lower, white_means = stats.whitening
        d2 = ((z @ lower).unsqueeze(1) - white_means.unsqueeze(0)).square().sum(-1)  # (B, C)
    else:
        diff = z.unsqueeze(1) - stats.means.unsqueeze(0)  # (B, C, D)
        d2 = torch.einsum("bcd,de,bce->bc", diff, stats.precision, diff)
    return d2.min(dim=1).values.clamp_min(0.0).sqrt()
