"""AI job functions for the window: classify a slice / a study, segment, export. No Qt, no torch at import.

The window runs them in its AI process (jobs.ai_process), reached through the job runner; ``brainlens.ml``
(and so torch) is imported inside them, never in the viewer's process. Models are loaded once per (model,
device) into a ``ModelCache`` that the caller passes in (the AI process keeps one), so the second run does
not reload or re-hash weights. Results come back as plain data classes
(numpy arrays, Volumes, dicts) so the GUI never needs an ml type.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from brainlens.core.errors import Cancelled, InputError
from brainlens.core.geometry import PLANE_NORMAL_AXIS, Reorientation
from brainlens.core.volume import Volume

Progress = Callable[[float, str], None]
CancelFlag = Callable[[], bool]
# Uncertainty samples (flip TTA + MC dropout) per setting. "fast" is the count the segmenter's detection rule,
# uncertainty flag and volume ranges were validated with (ml.segment.DEFAULT_SAMPLES; a test keeps them equal,
# this module must not import torch to read it): with 2, a 0.9 ml component grew past the 1 ml rule and the
# window said "tumour detected" where `brainlens segment` said "no tumour detected" on the same study.
SAMPLES = {"fast": 4, "thorough": 8}


class ModelCache:
    """Loaded models keyed by (kind, name, device); thread-safe, owned by one window (no global state)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[tuple[str, ...], Any] = {}

    def get(self, key: tuple[str, ...], load: Callable[[], Any]) -> Any:
        with self._lock:  # two jobs asking at once load it once
            if key not in self._models:
                self._models[key] = load()
            return self._models[key]

    def __contains__(self, key: tuple[str, ...]) -> bool:
        return key in self._models


def resolve_device(requested: str) -> tuple[Any, str | None]:
    """(torch device, note): an unavailable choice falls back to the automatic one and says so."""
    from brainlens.ml.device import choose_device

    try:
        return choose_device(requested), None
    except InputError as exc:
        dev = choose_device("auto")
        return dev, f"{exc}; using {dev.type} instead"


def card_figures(kind: str, name: str) -> str:
    """One line of the model card's test figures for the report ('' when the card is not there)."""
    import json

    from brainlens.ml.registry import models_dir

    try:
        card = json.loads((models_dir() / f"{kind}_card.json").read_text(encoding="utf-8"))
        if kind == "classifier":
            test = card["models"][name]["test"]
            return (f"test set n={test['n']}: accuracy {test['accuracy']:.1%}, balanced accuracy "
                    f"{test['balanced_accuracy']:.1%}, macro F1 {test['macro_f1']:.3f}")
        summary = card["summary"]["all four"]
        dice = ", ".join(f"{k} {summary[k]['dice_mean']:.2f}" for k in ("whole_tumor", "tumor_core",
                                                                        "enhancing_tumor"))
        return f"{len(card['split']['test'])} BraTS test cases, Dice {dice}"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def _classifier(cache: ModelCache, name: str | None, device: Any) -> Any:
    """The named classifier, or (None) the product default, loaded once per device."""
    from brainlens.ml.classifier_default import default_classifier
    from brainlens.ml.classifier_engine import load_classifier

    name = name or default_classifier()
    return cache.get(("classifier", name, str(device)), lambda: load_classifier(name, device=str(device)))


def preload(cache: ModelCache, device: str = "auto", classifier: str | None = None,
            progress: Progress | None = None, cancel: CancelFlag | None = None) -> str:
    """Import torch/MONAI and load both models while the user is still reading the images.

    In the window this runs in the AI process (jobs.ai_process) soon after start-up, so the first Segment
    or Classify does not wait seconds for torch's native libraries and the weights' hash checks.
    """
    report = progress or (lambda f, m: None)
    report(0.1, "loading AI libraries")
    dev, _ = resolve_device(device)
    if cancel is not None and cancel():
        raise Cancelled("cancelled")
    report(0.6, "loading models")
    from brainlens.ml.segment import load_segmenter

    cache.get(("segmenter", str(dev)), lambda: load_segmenter(dev))
    _classifier(cache, classifier, dev)
    report(1.0, "AI ready")
    return _describe(dev)


# ---- classification --------------------------------------------------------------------------------------
@dataclass
class SliceClassification:
    result: dict[str, Any]  # ClassificationResult.to_dict()
    message: str
    heatmap: np.ndarray  # Grad-CAM on the source grid of the classified volume (0 off the slice)
    plane: str
    index: int  # canonical slice index
    device: str
    notes: list[str] = field(default_factory=list)
    card: str = ""


def _describe(device: Any) -> str:
    from brainlens.ml.device import describe_device

    return describe_device(device)


def classify_slice(source: Volume, reorientation: Reorientation, plane: str, index: int, cache: ModelCache,
                   device: str = "auto", model_name: str | None = None,
                   original: np.ndarray | Path | str | None = None,
                   progress: Progress | None = None, cancel: CancelFlag | None = None) -> SliceClassification:
    """Classify one slice (the one on show) with Grad-CAM. ``original``: the image's own pixels (a colour
    PNG before greying) so the colour out-of-distribution rule sees what the file holds."""
    report = progress or (lambda f, m: None)
    report(0.05, "loading the classifier")
    dev, note = resolve_device(device)
    clf = _classifier(cache, model_name, dev)
    from brainlens.ml.classifier_preprocess import preprocess
    from brainlens.ml.classify import check_image, classify_arrays, read_image
    from brainlens.ml.classify_volume import display_slice, to_canonical_slice
    from brainlens.ml.gradcam import gradcam

    if cancel is not None and cancel():
        raise Cancelled("cancelled")
    canonical = np.ascontiguousarray(reorientation.apply(source.data))
    if original is not None:
        image = check_image(original if isinstance(original, np.ndarray) else read_image(original))
    else:
        image = display_slice(canonical, plane, index)
    report(0.3, "classifying")
    res = classify_arrays([image], clf)[0]
    if cancel is not None and cancel():
        raise Cancelled("cancelled")
    report(0.7, "Grad-CAM")
    heat, _ = gradcam(image, clf, prepared=preprocess(image))
    heat3 = np.zeros(canonical.shape, np.float32)
    if original is not None:  # raster: image rows/cols are the volume's j/i axes (see io.load_raster)
        src = np.zeros(source.shape, np.float32)
        src[:, :, 0] = heat.T
        heat_src = src
    else:
        sl = [slice(None)] * 3
        sl[PLANE_NORMAL_AXIS[plane]] = index
        heat3[tuple(sl)] = to_canonical_slice(heat)
        heat_src = np.ascontiguousarray(reorientation.invert(heat3))
    report(1.0, "done")
    return SliceClassification(res.to_dict(), res.message(), heat_src, plane, index, _describe(dev),
                               [note] if note else [], card_figures("classifier", clf.name))


@dataclass
class StudyClassification:
    summary: dict[str, Any]  # label, mean_probabilities, driving_slices, notes ... (VolumeClassification.to_dict)
    plane: str
    device: str
    model: str
    notes: list[str] = field(default_factory=list)
    card: str = ""
    heatmap: np.ndarray | None = None  # Grad-CAM of the driving slices, stacked on the source grid


def study_verdict(volume: Volume, clf: Any, progress: Progress | None, cancel: CancelFlag | None,
                  segmentation: np.ndarray | None = None) -> dict[str, Any]:
    """The study-level verdict (ml.classify_study): axial slices, or the slices through the segmented
    tumour when a segmentation on the same grid is given. A classifier exported without a study rule
    (``extra["study_rule"]``) gets the older summary over the axial slices (classify_volume), said in a note."""
    if not clf.extra.get("study_rule"):
        from brainlens.ml.classify_volume import classify_volume

        d = classify_volume(volume, "axial", progress=progress, cancel=cancel, model=clf).to_dict()
        probs = d["mean_probabilities"]
        confidence = probs.get(d["label"], 0.0)
        d.update(probabilities=probs, confidence=confidence if np.isfinite(confidence) else 0.0,
                 method="slice summary", uncertain=False, ood=d["n_ood"] > d["n_classified"] / 2,
                 slices_used=list(range(d["n_classified"])),
                 notes=[f"{clf.tag} has no study-level rule: summary over the axial slices", *d["notes"]])
        return d
    from brainlens.ml.classify_study import classify_study as verdict

    return verdict(volume, segmentation, model=clf, progress=progress, cancel=cancel).to_dict()


def classify_study(volume: Volume, cache: ModelCache, device: str = "auto", model_name: str | None = None,
                   segmentation: np.ndarray | None = None, progress: Progress | None = None,
                   cancel: CancelFlag | None = None) -> StudyClassification:
    report = progress or (lambda f, m: None)
    report(0.02, "loading the classifier")
    dev, note = resolve_device(device)
    clf = _classifier(cache, model_name, dev)
    summary = study_verdict(volume, clf, lambda f, m: report(0.05 + 0.9 * f, m), cancel, segmentation)
    plane = str(summary.get("plane", "axial"))
    report(0.96, "Grad-CAM of the driving slices")
    heat = stacked_gradcam(volume, plane, summary.get("driving_slices", [])[:STACKED_CAM_SLICES], clf, cancel)
    return StudyClassification(summary, plane, _describe(dev), clf.tag, [note] if note else [],
                               card_figures("classifier", clf.name), heat)


STACKED_CAM_SLICES = 5


def stacked_gradcam(volume: Volume, plane: str, indices: list[int], clf: Any, cancel: CancelFlag | None = None,
                    progress: Progress | None = None, skip_no_tumour: bool = False) -> np.ndarray | None:
    """Grad-CAM of each listed canonical slice of ``plane``, put back on the volume's source grid.

    ``skip_no_tumour``: leave slices the classifier calls "no tumour" empty (what it attends to when it
    finds nothing is not something to show a reader)."""
    if not indices:
        return None
    from brainlens.core.geometry import to_canonical
    from brainlens.ml.classify_volume import NO_TUMOUR, display_slice, to_canonical_slice
    from brainlens.ml.gradcam import gradcam

    canonical, reo = to_canonical(volume)
    heat3 = np.zeros(canonical.shape, np.float32)
    axis = PLANE_NORMAL_AXIS[plane]
    for n, index in enumerate(indices):
        if cancel is not None and cancel():
            raise Cancelled("cancelled")
        if progress is not None:
            progress(n / len(indices), f"Grad-CAM slice {n + 1} of {len(indices)}")
        heat, explained = gradcam(display_slice(canonical.data, plane, index), clf)
        if skip_no_tumour and clf.labels[explained] == NO_TUMOUR:
            continue
        sl = [slice(None)] * 3
        sl[axis] = index
        heat3[tuple(sl)] = to_canonical_slice(heat)
    return np.ascontiguousarray(reo.invert(heat3))


@dataclass
class PlaneGradCAM:
    heatmap: np.ndarray  # on the volume's source grid; 0 on slices without head or called "no tumour"
    plane: str
    slices: int  # slices explained
    device: str
    model: str
    notes: list[str] = field(default_factory=list)


def plane_gradcam(volume: Volume, plane: str, cache: ModelCache, device: str = "auto", model_name: str | None = None,
                  progress: Progress | None = None, cancel: CancelFlag | None = None) -> PlaneGradCAM:
    """Grad-CAM on every slice of ``plane`` that holds head signal, so a reader can scroll through where the
    classifier looks; slices it calls "no tumour" stay empty."""
    report = progress or (lambda f, m: None)
    report(0.02, "loading the classifier")
    dev, note = resolve_device(device)
    clf = _classifier(cache, model_name, dev)
    from brainlens.core.geometry import to_canonical
    from brainlens.ml.classify_volume import signal_mask

    canonical, _ = to_canonical(volume)
    indices = [int(k) for k in np.nonzero(signal_mask(canonical.data, plane))[0]]
    if not indices:
        raise InputError(f"no {plane} slice of this series holds enough head signal to explain")
    heat = stacked_gradcam(volume, plane, indices, clf, cancel, lambda f, m: report(0.05 + 0.93 * f, m),
                           skip_no_tumour=True)
    report(1.0, "done")
    return PlaneGradCAM(heat, plane, len(indices), _describe(dev), clf.tag, [note] if note else [])


# ---- segmentation ----------------------------------------------------------------------------------------
@dataclass
class Segmentation:
    mask: Volume  # uint8 labels on the reference series' source grid
    uncertainty: Volume  # float32 entropy (bits), same grid
    reference: Volume  # the source series the grid belongs to
    doc: dict[str, Any]  # the measurements document (same as `brainlens segment --json`)
    origin: dict[str, str]
    seconds: float
    notes: list[str] = field(default_factory=list)
    card: str = ""
    reference_sequence: str = ""  # which of the input volumes ``reference`` is
    # counted here, on the worker, so showing the result does not scan the volumes on the GUI thread
    labels_present: tuple[int, ...] = ()
    uncertainty_max: float | None = None


def segment_study(volumes: dict[str, Volume], cache: ModelCache, device: str = "auto", samples: int = SAMPLES["fast"],
                  progress: Progress | None = None, cancel: CancelFlag | None = None) -> Segmentation:
    """Segment with the cached segmenter; the mask and uncertainty come back on the reference source grid."""
    report = progress or (lambda f, m: None)
    if not volumes:
        raise InputError("no series is assigned a sequence (FLAIR, T1, T1c or T2): assign them first")
    report(0.0, "loading the segmenter")
    dev, note = resolve_device(device)
    from brainlens.ml.segment import load_segmenter, segment

    model = cache.get(("segmenter", str(dev)), lambda: load_segmenter(dev))
    result = segment(volumes, progress=report, cancel=cancel, samples=samples, model=model)
    origin = {"kind": "automatic", "model": result.model.get("name", ""), "version": result.model.get("version", "")}
    result.mask.metadata["origin"] = dict(origin)
    counts = np.bincount(np.asarray(result.mask.data, dtype=np.uint8).reshape(-1), minlength=256)
    unc = np.asarray(result.uncertainty.data)
    finite = np.isfinite(unc)
    return Segmentation(result.mask, result.uncertainty, volumes[result.reference], result.to_json(), origin,
                        result.seconds, ([note] if note else []) + list(result.warnings),
                        card_figures("segmenter", origin["model"]), result.reference,
                        tuple(int(v) for v in np.flatnonzero(counts[1:]) + 1),
                        float(unc[finite].max()) if finite.any() else None)


# ---- export ----------------------------------------------------------------------------------------------
def export_files(items: Sequence[tuple[Any, Path]], protect: Iterable[Path] = (), source: Volume | None = None,
                 progress: Progress | None = None, cancel: CancelFlag | None = None) -> list[Path]:
    """Write every export file through io.save_all: all appear together or none (never over a source)."""
    from brainlens.io.writers import save_all

    if progress is not None:
        progress(0.1, f"writing {len(items)} files")
    if cancel is not None and cancel():
        raise Cancelled("cancelled")
    return save_all(list(items), protect=list(protect), source=source, cancel=cancel)
