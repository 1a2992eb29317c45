"""Card metrics against hand-checkable cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from brainlens.training import metrics


def test_confusion_balanced_accuracy_and_per_class() -> None:
    y = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    p = np.array([0, 0, 0, 1, 1, 1, 2, 0])
    cm = metrics.confusion(y, p, 3)
    assert cm.tolist() == [[3, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert metrics.accuracy(y, p) == pytest.approx(6 / 8)
    assert metrics.balanced_accuracy(y, p, 3) == pytest.approx((0.75 + 1.0 + 0.5) / 3)
    rows = metrics.per_class(y, p, 3)
    assert rows[0]["precision"] == pytest.approx(3 / 4) and rows[0]["recall"] == pytest.approx(3 / 4)
    assert rows[2]["precision"] == pytest.approx(1.0) and rows[2]["f1"] == pytest.approx(2 * 0.5 / 1.5)


def test_auroc_known_values() -> None:
    pos = np.array([True, True, False, False])
    assert metrics.auroc(np.array([0.9, 0.8, 0.2, 0.1]), pos) == 1.0
    assert metrics.auroc(np.array([0.1, 0.2, 0.8, 0.9]), pos) == 0.0
    assert metrics.auroc(np.array([0.5, 0.5, 0.5, 0.5]), pos) == 0.5
    assert metrics.auroc(np.array([0.9, 0.3, 0.5, 0.1]), pos) == pytest.approx(0.75)


def test_ece_zero_when_confidence_matches_accuracy_and_large_when_not() -> None:
    probs = np.tile([0.75, 0.25], (8, 1))
    y = np.array([0, 0, 0, 1, 0, 0, 0, 1])  # 75 % correct at 75 % confidence
    assert metrics.ece(probs, y) == pytest.approx(0.0)
    assert metrics.ece(np.tile([0.99, 0.01], (8, 1)), y) == pytest.approx(0.24)


def test_temperature_recovers_a_known_temperature() -> None:
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2, (4000, 4))
    p_true = torch.softmax(torch.from_numpy(true_logits), 1).numpy()
    y = np.array([rng.choice(4, p=row) for row in p_true])
    overconfident = true_logits * 3.0  # a net that is 3x too sharp: the fitted T should be about 3

    def probs(t: float) -> np.ndarray:
        return torch.softmax(torch.from_numpy(overconfident / t), 1).numpy()

    t = metrics.fit_temperature(probs, y)
    assert 2.6 < t < 3.4
    assert metrics.ece(probs(t), y) < metrics.ece(probs(1.0), y)


def test_entropy_threshold_rule() -> None:
    entropy = np.linspace(0.0, 1.0, 100)
    correct = np.ones(100, bool)
    correct[90:] = False  # the 10 most uncertain are wrong
    t = metrics.entropy_threshold(entropy, correct, target_acc=0.99, max_flagged=0.2)
    assert entropy[89] <= t < entropy[91]  # everything up to the last right answer (plus <=1 % error) kept
    # When accuracy never reaches the target, at most max_flagged is flagged.
    t2 = metrics.entropy_threshold(entropy, np.arange(100) % 2 == 0, target_acc=0.99, max_flagged=0.2)
    assert (entropy > t2).mean() <= 0.2


def test_bootstrap_interval_contains_the_estimate() -> None:
    y = (np.arange(200) % 4 != 0).astype(int)  # 75 % ones
    lo, hi = metrics.bootstrap_ci(lambda i: float(y[i].mean()), len(y), resamples=300)
    assert lo < 0.75 < hi and hi - lo < 0.2
