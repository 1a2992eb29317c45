"""Inputs and timings for the classifier card: synthetic non-MR images for the OOD check, and batch-1 latency.

Nothing here is downloaded: the "not an MR slice" set is generated (blank, noise, gradients, checkerboards,
a document-like page and photo-like scenes drawn with PIL) plus pydicom's bundled CT test slice.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np

from brainlens.ml.classifier_engine import Classifier
from brainlens.ml.classify import classify
from brainlens.ml.gradcam import gradcam


def _photo_like(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """An outdoor-scene-like RGB picture: sky gradient, ground, coloured shapes (PIL-drawn)."""
    from PIL import Image, ImageDraw, ImageFilter

    sky = np.linspace(rng.uniform(120, 200), rng.uniform(200, 255), size)[:, None, None]
    base = np.broadcast_to(sky * np.array([0.6, 0.8, 1.0]), (size, size, 3)).astype(np.uint8)
    img = Image.fromarray(np.ascontiguousarray(base))
    draw = ImageDraw.Draw(img)
    horizon = int(rng.uniform(0.5, 0.75) * size)
    draw.rectangle([0, horizon, size, size], fill=tuple(int(v) for v in rng.integers(40, 140, 3)))
    for _ in range(int(rng.integers(4, 9))):
        x0, y0 = rng.integers(0, size - 40, 2)
        w, h = rng.integers(20, 110, 2)
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape([int(x0), int(y0), int(x0 + w), int(y0 + h)], fill=colour)
    return np.asarray(img.filter(ImageFilter.GaussianBlur(1.0)))


def _document(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """A scanned-page-like image: white paper, dark text-like bars."""
    page = np.full((size, size), 245, np.uint8)
    for y in range(20, size - 20, 14):
        x = 20
        while x < size - 30:
            w = int(rng.integers(8, 40))
            page[y:y + 7, x:min(x + w, size - 20)] = int(rng.integers(10, 60))
            x += w + int(rng.integers(4, 9))
    return page


def _ct_slice() -> np.ndarray | None:
    try:
        import pydicom
        from pydicom.data import get_testdata_file

        path = get_testdata_file("CT_small.dcm")
        ds = pydicom.dcmread(path)
        hu = ds.pixel_array.astype(np.float32) * float(getattr(ds, "RescaleSlope", 1)) \
            + float(getattr(ds, "RescaleIntercept", 0))
        return hu
    except Exception:  # a pydicom without its bundled test files: the card then lists no CT row
        return None


def synthetic_ood_inputs(n_each: int = 10, seed: int = 0) -> dict[str, list[np.ndarray]]:
    """Named groups of inputs that are not brain MR slices."""
    rng = np.random.default_rng(seed)
    s = 256
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
    groups: dict[str, list[np.ndarray]] = {
        "blank (constant)": [np.full((s, s), v, np.uint8) for v in np.linspace(0, 255, n_each).astype(int)],
        "uniform noise": [rng.integers(0, 256, (s, s)).astype(np.uint8) for _ in range(n_each)],
        "gaussian noise": [np.clip(rng.normal(128, 40, (s, s)), 0, 255).astype(np.uint8) for _ in range(n_each)],
        "gradient": [((np.cos(a) * xx + np.sin(a) * yy) % (2 * s)).astype(np.float32)
                     for a in np.linspace(0, np.pi, n_each, endpoint=False)],
        "checkerboard": [(((xx // k) + (yy // k)) % 2 * 255).astype(np.uint8)
                         for k in np.linspace(4, 64, n_each).astype(int)],
        "document page": [_document(rng) for _ in range(n_each)],
        "photo-like scene (RGB)": [_photo_like(rng) for _ in range(n_each)],
    }
    # The same kind of scene in grey: the colour rule cannot help, only the feature distance.
    groups["photo-like scene (grey)"] = [img.mean(axis=2).astype(np.uint8) for img in groups["photo-like scene (RGB)"]]
    ct = _ct_slice()
    if ct is not None:
        # The one CT slice, plus copies under other display windows (what a user might export).
        groups["CT slice (pydicom CT_small.dcm)"] = [ct] + [np.clip(ct, c - w / 2, c + w / 2)
                                                          for c, w in ((40, 80), (40, 400), (300, 1500))]
    return groups


# Grad-CAM CPU milliseconds per slice the viewer can afford (the card's target; the evaluation only picks
# Grad-CAM settings that fit it).
GRADCAM_TARGET_MS = 60.0


def median_ms(fn: Callable[[], object], runs: int, warmup: int = 5) -> tuple[float, float]:
    """(median wall-clock ms, median process CPU ms). CPU time is what one idle core would take (all torch
    threads counted); wall-clock also contains waiting for the CPU when other jobs share it."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return float(np.median(wall) * 1000.0), float(np.median(cpu) * 1000.0)


def latency(clf: Classifier, image: np.ndarray, runs: int = 100, threads: int = 1) -> dict[str, float | int | str]:
    """Median batch-1 milliseconds per slice, end to end from a numpy image (preprocessing included), on
    ``threads`` torch threads (the target is per slice on one CPU thread; with more, CPU time adds up)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _latency(clf, image, runs)
    finally:
        torch.set_num_threads(before)


def _latency(clf: Classifier, image: np.ndarray, runs: int) -> dict[str, float | int | str]:
    import torch

    label = classify(image, clf).label
    out: dict[str, float | int | str] = {"mc_samples": clf.mc_samples, "threads": torch.get_num_threads(),
                                         "device": str(clf.device), "runs": runs,
                                         "runtime": "ONNX Runtime trunk" if clf.trunk is not None else "PyTorch"}
    if hasattr(os, "getloadavg"):
        out["load_average_1min_before"] = round(os.getloadavg()[0], 2)
    timings = {"plain": (lambda: classify(image, clf, mc_samples=0, tta=False), runs),
               "mc_tta": (lambda: classify(image, clf), runs),
               "gradcam": (lambda: gradcam(image, clf, target=label), max(10, runs // 2))}
    for name, (fn, n) in timings.items():
        out[f"{name}_ms"], out[f"{name}_cpu_ms"] = median_ms(fn, n)
    if hasattr(os, "getloadavg"):
        out["load_average_1min"] = round(os.getloadavg()[0], 2)
    return out
