"""Near-duplicate grouping and a leakage-free, class-stratified group split for the 2D image set.

Duplicates are joined into groups when any of: identical pixels, 256-bit difference hashes within 8 bits,
or 32x32 thumbnail correlation >= 0.99 (the criteria the data README measured the leakage with). Groups,
never single images, are assigned to train / validation / test, so no near-twin crosses a split.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

import cv2
import numpy as np

DHASH_MAX_BITS = 8
THUMB_MIN_CORR = 0.99


def pixel_hash(grey: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(grey).tobytes() + str(grey.shape).encode()).hexdigest()


def dhash_bits(grey: np.ndarray) -> np.ndarray:
    """256-bit difference hash: sign of horizontal gradients on a 17x16 thumbnail."""
    small = cv2.resize(grey.astype(np.float32), (17, 16), interpolation=cv2.INTER_AREA)
    return (small[:, 1:] > small[:, :-1]).reshape(-1)


def thumb_vector(grey: np.ndarray) -> np.ndarray:
    """Zero-mean, unit-norm 32x32 thumbnail, so a dot product is the correlation."""
    v = cv2.resize(grey.astype(np.float32), (32, 32), interpolation=cv2.INTER_AREA).reshape(-1)
    v = v - v.mean()
    n = np.linalg.norm(v)
    return v / n if n > 1e-6 else v


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = np.arange(n)

    def find(self, a: int) -> int:
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return int(a)

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def group_duplicates(greys: list[np.ndarray], chunk: int = 1024) -> np.ndarray:
    """Group id per image (the smallest index in its near-duplicate group)."""
    n = len(greys)
    uf = _UnionFind(n)
    first_seen: dict[str, int] = {}
    for i, g in enumerate(greys):
        h = pixel_hash(g)
        if h in first_seen:
            uf.union(first_seen[h], i)
        else:
            first_seen[h] = i
    bits = np.stack([dhash_bits(g) for g in greys]).astype(np.float32)
    thumbs = np.stack([thumb_vector(g) for g in greys]).astype(np.float32)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        a = bits[start:stop]
        hamming = a @ (1 - bits).T + (1 - a) @ bits.T
        corr = thumbs[start:stop] @ thumbs.T
        close = (hamming <= DHASH_MAX_BITS) | (corr >= THUMB_MIN_CORR)
        rows, cols = np.nonzero(close)
        for r, c in zip(rows + start, cols):
            if r < c:
                uf.union(int(r), int(c))
    return np.array([uf.find(i) for i in range(n)])


@dataclass
class Split:
    """Index lists per split; val/test hold one representative per group, train keeps whole groups."""

    train: list[int]
    val: list[int]
    test: list[int]
    dropped_conflicting: list[int]  # images in groups whose members carry different class labels
    n_groups: int

    def counts(self, labels: np.ndarray, class_names: tuple[str, ...]) -> dict[str, dict[str, int]]:
        out = {}
        for name in ("train", "val", "test"):
            c = Counter(int(labels[i]) for i in getattr(self, name))
            out[name] = {class_names[k]: int(c.get(k, 0)) for k in range(len(class_names))}
        return out


def group_split(labels: np.ndarray, groups: np.ndarray, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
                seed: int = 0) -> Split:
    """Stratified by class at the group level; no group crosses splits."""
    rng = np.random.default_rng(seed)
    members: dict[int, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(int(g), []).append(i)
    train: list[int] = []
    val: list[int] = []
    test: list[int] = []
    dropped: list[int] = []
    by_class: dict[int, list[int]] = {}
    for g, idx in members.items():
        classes = {int(labels[i]) for i in idx}
        if len(classes) > 1:
            dropped.extend(idx)
        else:
            by_class.setdefault(classes.pop(), []).append(g)
    for cls in sorted(by_class):
        gs = sorted(by_class[cls])
        rng.shuffle(gs)
        n_test = int(round(fractions[2] * len(gs)))
        n_val = int(round(fractions[1] * len(gs)))
        for g in gs[:n_test]:
            test.append(min(members[g]))
        for g in gs[n_test:n_test + n_val]:
            val.append(min(members[g]))
        for g in gs[n_test + n_val:]:
            train.extend(members[g])
    return Split(sorted(train), sorted(val), sorted(test), sorted(dropped), len(members))
