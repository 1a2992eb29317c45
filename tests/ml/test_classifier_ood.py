"""The OOD score: the whitened form used at inference equals the textbook Mahalanobis distance."""

from __future__ import annotations

import numpy as np
import torch

from brainlens.ml import classifier_ood


def _direct(z: np.ndarray, stats: classifier_ood.OODStats) -> np.ndarray:
    zz = z / stats.scale
    prec = stats.precision.double().numpy()
    d2 = [[(v - m) @ prec @ (v - m) for m in stats.means.double().numpy()] for v in zz]
    return np.sqrt(np.min(d2, axis=1))


def test_whitened_distance_matches_the_definition_and_ranks_far_points_higher() -> None:
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(200, 16)) * rng.uniform(0.1, 3.0, size=16) + 5.0
    labels = np.arange(200) % 4
    stats = classifier_ood.fit(feats, labels, 4)
    assert stats.whitening is not None
    probe = np.concatenate([feats[:5], feats[:5] + 40.0])
    got = classifier_ood.mahalanobis(torch.from_numpy(probe), stats).numpy()
    np.testing.assert_allclose(got, _direct(probe, stats), rtol=1e-4)
    assert got[5:].min() > got[:5].max()


def test_a_precision_that_is_not_positive_definite_falls_back_to_the_direct_form() -> None:
    means = torch.zeros(2, 3)
    precision = torch.diag(torch.tensor([1.0, 1.0, -1.0]))  # indefinite: no Cholesky factor
    stats = classifier_ood.OODStats(means, precision, 1.0)
    assert stats.whitening is None
    z = torch.tensor([[2.0, 0.0, 1.0]])
    assert torch.allclose(classifier_ood.mahalanobis(z, stats), torch.tensor([3.0 ** 0.5]))
