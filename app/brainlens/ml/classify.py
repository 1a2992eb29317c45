"""classify(image or slice) -> calibrated tumour-type probabilities, uncertainty and an out-of-distribution flag.

    clf = load_classifier("brainresnet")          # once; hash-checked weights + calibration + thresholds
    res = classify(array_or_path, clf)            # numpy 2D (grey/RGB, any dtype) or an image/DICOM path
    res.label, res.probabilities, res.confidence, res.entropy, res.uncertain, res.ood

Probabilities are softmax(logits / T) with T fitted on validation, averaged over test-time augmentation
(original + horizontal flip) and Monte-Carlo dropout samples. `uncertain`: predictive entropy above the
threshold chosen on validation. `ood`: Mahalanobis feature distance above the 99th percentile of validation
scores, a blank image or a colourful (non-grey) picture; such inputs read "not a brain MR slice?" in
messages while the probabilities are still returned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from brainlens.core.errors import Cancelled, InputError, LoadError
from brainlens.ml.classifier_engine import Classifier, load_classifier
from brainlens.ml.classifier_preprocess import Prepared, preprocess

OOD_LABEL = "not a brain MR slice?"
# MR slices are grey: the 3,832 RGB-stored training images have mean chroma <= 0.022 (JPEG colour noise),
# a photo or a colour-mapped screenshot is far above this. Checked again by the evaluation script.
MAX_CHROMA = 0.06
RASTER_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

ProgressFn = Callable[[float, str], None]
CancelFn = Callable[[], bool]


@dataclass
class ClassificationResult:
    label: str  # one of the model's class names (argmax of probabilities), even when ood
    probabilities: dict[str, float]
    confidence: float  # probability of `label`
    entropy: float  # predictive entropy, nats (max ln 4 = 1.386)
    mutual_information: float  # epistemic part of the entropy (MC dropout / TTA disagreement)
    uncertain: bool
    ood: bool
    ood_score: float
    model: str
    ood_reason: str | None = None  # "blank", "colour" or "feature distance" when ood
    prep: Prepared | None = field(default=None, repr=False, compare=False)

    @property
    def display_label(self) -> str:
        return OOD_LABEL if self.ood else self.label

    def message(self) -> str:
        """One line for a status bar or a table."""
        if self.ood:
            return f"{OOD_LABEL} (closest class {self.label}, {self.confidence:.0%}; input unlike training data)"
        flag = ", uncertain" if self.uncertain else ""
        return f"{self.label} {self.confidence:.0%}{flag}"

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "display_label": self.display_label,
                "probabilities": {k: round(v, 6) for k, v in self.probabilities.items()},
                "confidence": round(self.confidence, 6), "entropy": round(self.entropy, 6),
                "mutual_information": round(self.mutual_information, 6), "uncertain": self.uncertain,
                "ood": self.ood, "ood_reason": self.ood_reason, "ood_score": round(self.ood_score, 4),
                "model": self.model}


def read_image(path: Path | str) -> np.ndarray:
    """A raster image file as a numpy array (grey, RGB or RGBA; 8- or 16-bit kept as stored)."""
    import cv2

    from brainlens.io.limits import check_raster, require_regular
    from brainlens.io.native_stderr import captured_native_stderr

    p = Path(path)
    require_regular(p)
    check_raster(p)  # the header's size first: a small PNG can decode to gigabytes
    # OpenCV logs decoder complaints ("PNG input buffer is incomplete") on stderr; the reason we give is enough
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        raw = np.fromfile(p, dtype=np.uint8)  # fromfile + imdecode: non-ASCII paths work on Windows too
        with captured_native_stderr() as said:  # libpng prints its complaints straight to stderr
            img = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED) if raw.size else None
    except (OSError, cv2.error) as exc:
        raise LoadError(f"{p.name}: cannot read image ({exc})") from exc
    if img is None:
        raise LoadError(f"{p.name}: not a readable image file" + (f" ({said[0][:120]})" if said else ""))
    if img.ndim == 3 and img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    elif img.ndim == 3 and img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA)
    return img


def load_2d(source: np.ndarray | Path | str) -> np.ndarray:
    """A 2D image from an array, a raster file or a single-slice study (DICOM/NIfTI via brainlens.io)."""
    if isinstance(source, np.ndarray):
        arr = source
    else:
        p = Path(source)
        if p.suffix.lower() in RASTER_SUFFIXES:
            arr = read_image(p)
        else:
            vol = _single_volume(p)
            if sum(s > 1 for s in vol.shape) > 2:
                raise InputError(f"{p.name} is a 3D series {vol.shape}: classify it slice by slice "
                                 "(classify_volume or `brainlens classify --plane`)")
            arr = np.squeeze(vol.data)
    return check_image(arr)


def _single_volume(path: Path):
    try:
        from brainlens.io import load  # type: ignore[attr-defined]
    except ImportError as exc:
        raise LoadError(f"{path.name}: reading studies needs brainlens.io, which is not available") from exc
    study = load(path)
    if not study.series:
        raise LoadError(f"{path.name}: no image series found")
    return study.series[0]


def check_image(image: np.ndarray) -> np.ndarray:
    """Refuse what no preprocessing can make a slice of, with one line."""
    arr = np.asarray(image)
    if arr.dtype == object or np.issubdtype(arr.dtype, np.complexfloating) \
            or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise InputError(f"image has unsupported data type {arr.dtype}")
    if arr.ndim == 3 and arr.shape[-1] not in (1, 3, 4):
        raise InputError(f"expected a 2D slice (grey or RGB), got an array of shape {arr.shape}")
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise InputError(f"expected a 2D slice (grey or RGB), got an array of shape {arr.shape}")
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    return arr


def chroma(image: np.ndarray) -> float:
    """Mean (max - min) over the colour channels, as a fraction of the dtype's range; 0 for grey images."""
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[-1] < 3:
        return 0.0
    rgb = arr[::2, ::2, :3].astype(np.float32)  # every other pixel is plenty for a mean
    if np.issubdtype(arr.dtype, np.integer):
        span = float(np.iinfo(arr.dtype).max)
    else:
        span = float(np.nanmax(rgb) - np.nanmin(rgb)) if rgb.size else 0.0
    if span <= 0:
        return 0.0
    return float(np.nanmean(rgb.max(-1) - rgb.min(-1)) / span)


def _ood_reason(prep: Prepared, colour: float, score: float, clf: Classifier) -> str | None:
    if prep.blank:
        return "blank"
    if colour > MAX_CHROMA:
        return "colour"
    if score > clf.ood_threshold:
        return "feature distance"
    return None


def _results(out, preps: Sequence[Prepared], chromas: Sequence[float],
             clf: Classifier) -> list[ClassificationResult]:
    results = []
    for i, prep in enumerate(preps):
        probs = out.probabilities[i]
        k = int(np.argmax(probs))
        reason = _ood_reason(prep, chromas[i], float(out.ood_score[i]), clf)
        ood = reason is not None
        results.append(ClassificationResult(
            label=clf.labels[k], probabilities={n: float(p) for n, p in zip(clf.labels, probs)},
            confidence=float(probs[k]), entropy=float(out.entropy[i]),
            mutual_information=float(out.mutual_information[i]),
            uncertain=bool(out.entropy[i] > clf.entropy_threshold), ood=ood,
            ood_score=float("inf") if prep.blank else float(out.ood_score[i]), model=clf.tag,
            ood_reason=reason, prep=prep))
    return results


def classify_arrays(images: Sequence[np.ndarray], model: Classifier, mc_samples: int | None = None,
                    tta: bool = True) -> list[ClassificationResult]:
    """Classify 2D arrays in one batch (the same path as classify(), batched)."""
    if not images:
        return []
    xs, preps, chromas = [], [], []
    for img in images:
        arr = check_image(img)
        x, prep = preprocess(arr)
        xs.append(x)
        preps.append(prep)
        chromas.append(chroma(arr))
    batch = torch.from_numpy(np.stack(xs)).unsqueeze(1)
    return _results(model.predict(batch, mc_samples=mc_samples, tta=tta), preps, chromas, model)


def classify(image_or_slice: np.ndarray | Path | str, model: Classifier | None = None,
             mc_samples: int | None = None, tta: bool = True) -> ClassificationResult:
    """Classify one 2D image or slice. `model=None` loads the default bundled model (slow: pass one in)."""
    clf = model if model is not None else load_classifier()
    return classify_arrays([load_2d(image_or_slice)], clf, mc_samples=mc_samples, tta=tta)[0]


def classify_many(images: Sequence[np.ndarray], model: Classifier, batch: int = 32, mc_samples: int | None = None,
                  tta: bool = True, progress: ProgressFn | None = None,
                  cancel: CancelFn | None = None) -> list[ClassificationResult]:
    """Batched classification with progress(frac, msg) and cancel() checked between batches."""
    results: list[ClassificationResult] = []
    n = len(images)
    for start in range(0, n, max(1, batch)):
        if cancel is not None and cancel():
            raise Cancelled("classification cancelled")
        results += classify_arrays(list(images[start:start + batch]), model, mc_samples=mc_samples, tta=tta)
        if progress is not None:
            progress(len(results) / n, f"classified {len(results)} of {n} images")
    return results
