"""The 2D tumour-type image set: indexing, de-duplication, leakage-free split, cached preprocessed arrays."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from brainlens.ml.classifier_models import CLASS_NAMES
from brainlens.ml.classifier_preprocess import prepare, to_grey
from brainlens.training.dedup import Split, group_duplicates, group_split

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")


def index_images(data_dir: Path) -> tuple[list[str], np.ndarray]:
    """All images under <data_dir>/{train,test}/<class>/ (relative paths, class ids), sorted for stability."""
    paths: list[str] = []
    labels: list[int] = []
    for part in ("train", "test"):
        for k, cls in enumerate(CLASS_NAMES):
            folder = data_dir / part / cls
            for p in sorted(folder.glob("*")):
                if p.suffix.lower() in IMAGE_SUFFIXES:
                    paths.append(str(p.relative_to(data_dir)))
                    labels.append(k)
    if not paths:
        raise FileNotFoundError(f"no images under {data_dir}/{{train,test}}/<class>/")
    return paths, np.array(labels, dtype=np.int64)


def build_dataset(data_dir: Path, cache_dir: Path, seed: int = 0) -> dict:
    """Preprocess every image once and split; cached in cache_dir (dataset.npz + split.json)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    npz, split_json = cache_dir / "dataset.npz", cache_dir / "split.json"
    if npz.exists() and split_json.exists():
        arrays = np.load(npz)
        meta = json.loads(split_json.read_text())
        return {"images": arrays["images"], "labels": arrays["labels"], **meta}
    paths, labels = index_images(data_dir)
    greys, prepared = [], []
    for rel in paths:
        raw = cv2.imread(str(data_dir / rel), cv2.IMREAD_UNCHANGED)
        if raw is None:
            raise ValueError(f"unreadable image {rel}")
        if raw.ndim == 3:
            raw = cv2.cvtColor(raw, cv2.COLOR_BGR2RGB)
        grey = to_grey(raw)
        greys.append(np.clip(grey, 0, 255).astype(np.uint8))
        prepared.append(prepare(raw).image)
    groups = group_duplicates(greys)
    split = group_split(labels, groups, seed=seed)
    meta = {
        "paths": paths,
        "groups": groups.tolist(),
        "split": {"train": split.train, "val": split.val, "test": split.test,
                  "dropped_conflicting": split.dropped_conflicting},
        "summary": summarize(paths, labels, groups, split),
    }
    images = np.stack(prepared)
    np.savez(npz, images=images, labels=labels)
    split_json.write_text(json.dumps(meta))
    return {"images": images, "labels": labels, **meta}


def summarize(paths: list[str], labels: np.ndarray, groups: np.ndarray, split: Split) -> dict:
    """Counts for the model card: what de-duplication found and what each split holds."""
    n = len(paths)
    sizes = np.bincount(groups, minlength=n)
    in_dup_groups = int(sizes[groups].__gt__(1).sum())
    orig_test = [i for i, p in enumerate(paths) if p.startswith("test")]
    orig_train_groups = {int(groups[i]) for i, p in enumerate(paths) if p.startswith("train")}
    test_with_train_twin = sum(1 for i in orig_test if int(groups[i]) in orig_train_groups)
    return {
        "n_images": n,
        "n_groups": split.n_groups,
        "n_images_in_duplicate_groups": in_dup_groups,
        "n_original_test_with_train_twin": test_with_train_twin,
        "n_dropped_conflicting_labels": len(split.dropped_conflicting),
        "split_counts": split.counts(labels, CLASS_NAMES),
        "criteria": "identical pixels, or 256-bit dHash within 8 bits, or 32x32 thumbnail correlation >= 0.99",
        "policy": "groups never cross splits; val/test keep one image per group, train keeps all members",
    }
