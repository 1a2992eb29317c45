"""The one preprocessing path for the 2D tumour-type classifier, shared by training and inference.

Follows seed paper GBMnet: greyscale, Gaussian smoothing, threshold + erosion/dilation, largest contour,
crop to its extreme points, resize to 256x256, intensity normalisation. Works on 8-bit RGB/grey images,
16-bit DICOM slices, float slices cut from a volume, tiny, blank and already-cropped inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

INPUT_SIZE = 256
_THRESHOLD = 45  # on the 0..255 robust-scaled image, as in the seed recipe
_MIN_CROP_FRACTION = 0.02  # a "head" smaller than this share of the image is noise: keep the full frame


@dataclass(frozen=True)
class Prepared:
    """A 256x256 uint8 crop plus what is needed to map results back onto the original grid."""

    image: np.ndarray  # (256, 256) uint8
    box: tuple[int, int, int, int]  # row0, row1, col0, col1 (exclusive ends) in the original image
    original_shape: tuple[int, int]
    blank: bool  # no signal at all (constant image)


def to_grey(image: np.ndarray) -> np.ndarray:
    """Any 2D image (grey, RGB, RGBA, any dtype) as float32 grey."""
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[-1] in (3, 4):
        arr = arr[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    elif arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 2:
        raise ValueError(f"expected a 2D image, got shape {arr.shape}")
    return arr.astype(np.float32, copy=False)


def window_percentiles(finite: np.ndarray, q: tuple[float, float] = (0.5, 99.5)) -> tuple[float, float]:
    """np.percentile(finite, q) ('linear' method), from a histogram when every value is an integer in a range
    below 65536 (PNG, JPEG and DICOM slices): about four times faster than sorting, same values."""
    flat = finite.ravel()
    low = float(flat.min())
    if float(flat.max()) - low >= 65536 or not np.array_equal(flat, np.round(flat)):
        lo, hi = np.percentile(flat, q)
        return float(lo), float(hi)
    cumulative = np.cumsum(np.bincount((flat - low).astype(np.int64)))
    out = []
    for quantile in q:
        position = quantile / 100.0 * (flat.size - 1)
        below = int(np.floor(position))
        a, b = np.searchsorted(cumulative, [below, min(below + 1, flat.size - 1)], side="right")
        t = position - below
        # numpy's lerp, so ties in rounding come out as np.percentile's
        out.append(low + (a + (b - a) * t if t < 0.5 else b - (b - a) * (1.0 - t)))
    return float(out[0]), float(out[1])


def robust_uint8(grey: np.ndarray) -> tuple[np.ndarray, bool]:
    """Window 0.5..99.5 percentile to 0..255 so 8-bit JPEGs, 16-bit DICOM and float slices look alike."""
    finite = np.nan_to_num(grey, nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = window_percentiles(finite)
    if hi - lo < 1e-6:
        lo, hi = float(finite.min()), float(finite.max())
    if hi - lo < 1e-6:
        return np.zeros(finite.shape, np.uint8), True
    scaled = np.clip((finite - lo) / (hi - lo), 0.0, 1.0) * 255.0
    return scaled.astype(np.uint8), False


def head_box(img8: np.ndarray) -> tuple[int, int, int, int]:
    """Bounding box of the largest bright contour (the head), or the full frame if none is credible."""
    h, w = img8.shape
    blurred = cv2.GaussianBlur(img8, (5, 5), 0)
    _, mask = cv2.threshold(blurred, _THRESHOLD, 255, cv2.THRESH_BINARY)
    mask = cv2.erode(mask, None, iterations=2)
    mask = cv2.dilate(mask, None, iterations=2)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return 0, h, 0, w
    largest = max(contours, key=cv2.contourArea)
    x, y, bw, bh = cv2.boundingRect(largest)  # extreme points of the contour
    if bw * bh < _MIN_CROP_FRACTION * h * w or bw < 8 or bh < 8:
        return 0, h, 0, w
    return y, y + bh, x, x + bw


def prepare(image: np.ndarray) -> Prepared:
    """Grey, robust-scale, crop to the head and resize to 256x256 (uint8; augmentation happens after)."""
    grey = to_grey(image)
    if min(grey.shape) < 2:
        grey = cv2.resize(grey, (max(2, grey.shape[1]), max(2, grey.shape[0])), interpolation=cv2.INTER_NEAREST)
    img8, blank = robust_uint8(grey)
    r0, r1, c0, c1 = (0, img8.shape[0], 0, img8.shape[1]) if blank else head_box(img8)
    crop = img8[r0:r1, c0:c1]
    interp = cv2.INTER_AREA if crop.shape[0] > INPUT_SIZE and crop.shape[1] > INPUT_SIZE else cv2.INTER_LINEAR
    resized = cv2.resize(crop, (INPUT_SIZE, INPUT_SIZE), interpolation=interp)
    return Prepared(resized, (r0, r1, c0, c1), tuple(grey.shape), blank)  # type: ignore[arg-type]


def normalize(image01: np.ndarray) -> np.ndarray:
    """Per-image standardisation of a [0,1] float image (mean 0, sd 1); blank stays all zeros."""
    x = image01.astype(np.float32, copy=False)
    sd = float(x.std())
    return (x - float(x.mean())) / sd if sd > 1e-6 else np.zeros_like(x)


def preprocess(image: np.ndarray) -> tuple[np.ndarray, Prepared]:
    """Inference input (256x256 float32, standardised) and the crop record for undoing it."""
    prep = prepare(image)
    return normalize(prep.image.astype(np.float32) / 255.0), prep


def to_original_grid(map256: np.ndarray, prep: Prepared) -> np.ndarray:
    """Undo crop + resize: a 256x256 map (e.g. Grad-CAM) placed on the original image grid (zeros outside)."""
    r0, r1, c0, c1 = prep.box
    out = np.zeros(prep.original_shape, np.float32)
    out[r0:r1, c0:c1] = cv2.resize(map256.astype(np.float32), (c1 - c0, r1 - r0), interpolation=cv2.INTER_LINEAR)
    return out
