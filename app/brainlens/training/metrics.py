"""Classification metrics for the model card (numpy only): accuracy, balanced accuracy, per-class P/R/F1,
confusion matrix, one-vs-rest AUROC, expected calibration error, bootstrap intervals, temperature fitting
and the validation rules that choose the uncertainty and OOD thresholds."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def confusion(y: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Rows = true class, columns = predicted class."""
    cm = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(cm, (y, pred), 1)
    return cm


def accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(y == pred)) if len(y) else float("nan")


def recall_of(y: np.ndarray, pred: np.ndarray, k: int) -> float:
    mask = y == k
    return float(np.mean(pred[mask] == k)) if mask.any() else float("nan")


def balanced_accuracy(y: np.ndarray, pred: np.ndarray, n_classes: int) -> float:
    recalls = [recall_of(y, pred, k) for k in range(n_classes) if (y == k).any()]
    return float(np.mean(recalls)) if recalls else float("nan")


def per_class(y: np.ndarray, pred: np.ndarray, n_classes: int) -> list[dict[str, float]]:
    cm = confusion(y, pred, n_classes)
    rows = []
    for k in range(n_classes):
        tp = cm[k, k]
        p = tp / cm[:, k].sum() if cm[:, k].sum() else 0.0
        r = tp / cm[k].sum() if cm[k].sum() else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        rows.append({"precision": float(p), "recall": float(r), "f1": float(f1), "support": int(cm[k].sum())})
    return rows


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve via the rank-sum (Mann-Whitney) statistic, ties counted half."""
    pos, neg = scores[positive], scores[~positive]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), np.float64)
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):  # average ranks over ties
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    u = ranks[positive].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(pos) * len(neg)))


def ovr_auroc(probs: np.ndarray, y: np.ndarray) -> list[float]:
    return [auroc(probs[:, k], y == k) for k in range(probs.shape[1])]


def ece(probs: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error of the top-1 confidence, equal-width bins on (0, 1]."""
    conf = probs.max(1)
    correct = probs.argmax(1) == y
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            total += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(total)


def nll(probs: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, 1.0))))


def fit_temperature(prob_fn: Callable[[float], np.ndarray], y: np.ndarray,
                    lo: float = 0.05, hi: float = 10.0) -> float:
    """Temperature minimising validation NLL: log-spaced grid, then golden-section refinement.

    prob_fn(T) returns the calibrated probabilities for temperature T (so it can include TTA/MC averaging).
    """
    grid = np.exp(np.linspace(np.log(lo), np.log(hi), 60))
    losses = [nll(prob_fn(t), y) for t in grid]
    i = int(np.argmin(losses))
    a, b = np.log(grid[max(i - 1, 0)]), np.log(grid[min(i + 1, len(grid) - 1)])
    g = (np.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    for _ in range(30):
        if nll(prob_fn(np.exp(c)), y) < nll(prob_fn(np.exp(d)), y):
            b = d
        else:
            a = c
        c, d = b - g * (b - a), a + g * (b - a)
    return float(np.exp((a + b) / 2))


def entropy_threshold(entropy: np.ndarray, correct: np.ndarray, target_acc: float = 0.99,
                      max_flagged: float = 0.2) -> float:
    """Rule: the largest entropy t such that validation cases with entropy <= t are >= target_acc accurate,
    but never flagging more than max_flagged of validation (t at least that quantile)."""
    order = np.argsort(entropy, kind="mergesort")
    e, c = entropy[order], correct[order].astype(np.float64)
    cum_acc = np.cumsum(c) / np.arange(1, len(c) + 1)
    ok = np.nonzero(cum_acc >= target_acc)[0]
    t_acc = float(e[ok[-1]]) if len(ok) else 0.0
    t_cap = float(np.quantile(entropy, 1.0 - max_flagged))
    return max(t_acc, t_cap)


def bootstrap_ci(stat: Callable[[np.ndarray], float], n: int, resamples: int = 1000, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of stat(indices) over resamples of n cases with replacement."""
    rng = np.random.default_rng(seed)
    values = np.array([stat(rng.integers(0, n, n)) for _ in range(resamples)])
    values = values[np.isfinite(values)]
    alpha = (1 - level) / 2
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))
