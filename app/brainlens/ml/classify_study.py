"""Study-level tumour-type verdict for a 3D study: which slices, how their results combine, when to doubt.

    result = classify_study(volume)                        # or classify_study(volume, segmentation=mask)
    result.label, result.probabilities, result.confidence, result.uncertain, result.ood, result.slices

Slices: the axial slices of the RAS-canonical study that hold head signal (any slice thickness; a 6 mm
study simply has fewer). Each is classified with the product classifier in its plain mode (one pass,
calibrated temperature): TTA/MC dropout would triple a 155-slice study's time for little gain at study level.

Without a segmentation (most studies): a tumour shows on a few slices of many, so an average would drown it.
Per slice the tumour evidence is t = 1 - p(notumor); the study's tumour score S is either the mean t of its
`top_k` most tumour-like slices, or (``window`` > 0) the best mean t over ``window`` adjacent slices: a
tumour spans neighbouring slices, while a healthy head's stray tumour-like slices mostly stand alone.
P(tumour) = sigmoid(slope * (S - threshold)). The tumour type splits P(tumour) in proportion to the
tumour-class probabilities summed over the slices that gave S. The kind of score, `top_k` / `window`,
`threshold` and `slope` are fitted on validation studies by the evaluation script and stored in the model's
manifest entry (``study_rule``); they are not typed in by hand.

With a segmentation (the segmenter says where, the classifier says what): the slices through the segmented
tumour, largest tumour area first (up to `SEGMENTED_SLICES`), are classified and their probabilities
averaged. An empty segmentation falls back to the rule above.

`uncertain`: the study's predictive entropy is above the rule's ``entropy_threshold`` (chosen on validation
like the slice-level one), or the classifier calls a segmented tumour "no tumour". `ood`: more than half of
the slices looked at are out of distribution for the classifier (not a brain MR study as it knows them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from brainlens.core.errors import InputError, ModelError
from brainlens.core.geometry import to_canonical
from brainlens.core.volume import Volume
from brainlens.ml.classifier_engine import Classifier, load_classifier
from brainlens.ml.classify import CancelFn, ClassificationResult, ProgressFn, classify_many
from brainlens.ml.classify_volume import NO_TUMOUR, display_slice, signal_mask

SEGMENTED_SLICES = 5  # slices through the segmented tumour that are classified, largest area first
OOD_STUDY_FRACTION = 0.5


@dataclass(frozen=True)
class StudyRule:
    """Aggregation parameters (fitted on validation studies; stored in the manifest as ``study_rule``)."""

    top_k: int
    threshold: float  # tumour score S at which P(tumour) = 0.5
    slope: float  # of the logistic link from S to P(tumour)
    entropy_threshold: float  # study entropy (nats) above which the verdict is flagged uncertain
    window: int = 0  # > 0: S is the best mean over this many adjacent slices (top_k unused); 0: top_k

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StudyRule:
        return cls(int(d["top_k"]), float(d["threshold"]), float(d["slope"]), float(d["entropy_threshold"]),
                   int(d.get("window", 0)))

    def to_dict(self) -> dict[str, Any]:
        return {"top_k": self.top_k, "threshold": self.threshold, "slope": self.slope,
                "entropy_threshold": self.entropy_threshold, "window": self.window}


def tumour_evidence_slices(evidence: np.ndarray, rule: StudyRule) -> np.ndarray:
    """Positions of the slices that make the study's tumour score S, most convincing first: the top_k
    highest evidence, or the adjacent run of ``rule.window`` slices (in slice order) with the highest mean."""
    evidence = np.asarray(evidence, np.float64)
    if rule.window <= 0:
        return np.argsort(-evidence, kind="mergesort")[:max(1, rule.top_k)]
    if len(evidence) <= rule.window:  # fewer slices than the window: all of them
        run = np.arange(len(evidence))
    else:
        start = int(np.argmax(np.convolve(evidence, np.ones(rule.window) / rule.window, mode="valid")))
        run = np.arange(start, start + rule.window)
    return run[np.argsort(-evidence[run], kind="mergesort")]


def tumour_score(evidence: np.ndarray, rule: StudyRule) -> float:
    """The rule's S over per-slice tumour evidence (1 - p(notumor)) given in slice order; 0 without slices."""
    evidence = np.asarray(evidence, np.float64)
    return float(evidence[tumour_evidence_slices(evidence, rule)].mean()) if len(evidence) else 0.0


@dataclass
class Verdict:
    label: str
    probabilities: dict[str, float]
    driving: list[int]  # positions (into the slice list given) that decided it, most convincing first


@dataclass
class StudySlice:
    index: int  # axial index in the RAS-canonical array (0 = most inferior)
    result: ClassificationResult
    tumour_area_mm2: float | None = None  # from the segmentation, when one was given

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"index": self.index, "label": self.result.label,
                             "probabilities": {k: round(v, 6) for k, v in self.result.probabilities.items()},
                             "confidence": round(self.result.confidence, 6), "ood": self.result.ood}
        if self.tumour_area_mm2 is not None:
            d["tumour_area_mm2"] = round(self.tumour_area_mm2, 1)
        return d


@dataclass
class StudyResult:
    label: str  # a class name of the model ("notumor" = no tumour found)
    probabilities: dict[str, float]
    confidence: float  # probability of `label`
    uncertain: bool
    ood: bool
    method: str  # "segmentation" or "all slices"
    plane: str
    slices: list[StudySlice]  # every slice looked at, in index order
    driving_slices: list[int]  # canonical indices that decided the verdict, most convincing first
    n_slices: int  # slices of the study along the plane's normal
    model: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; every number is finite (strict JSON)."""
        return {"label": self.label, "probabilities": {k: round(v, 6) for k, v in self.probabilities.items()},
                "confidence": round(self.confidence, 6), "uncertain": self.uncertain, "ood": self.ood,
                "method": self.method, "plane": self.plane, "slices_used": [s.index for s in self.slices],
                "driving_slices": self.driving_slices, "n_slices": self.n_slices, "model": self.model,
                "notes": self.notes, "slices": [s.to_dict() for s in self.slices]}


def _entropy(p: np.ndarray) -> float:
    return float(-(p * np.log(np.clip(p, 1e-12, 1.0))).sum())


def aggregate_slices(probs: np.ndarray, labels: tuple[str, ...], rule: StudyRule) -> Verdict:
    """The all-slices rule on (N, C) slice probabilities in slice order. No slices at all -> "no tumour"
    with certainty."""
    nt = labels.index(NO_TUMOUR)
    if len(probs) == 0:
        return Verdict(NO_TUMOUR, {k: float(k == NO_TUMOUR) for k in labels}, [])
    evidence = 1.0 - probs[:, nt]
    top = tumour_evidence_slices(evidence, rule)
    score = float(evidence[top].mean())
    p_tumour = float(1.0 / (1.0 + np.exp(-rule.slope * (score - rule.threshold))))
    mass = probs[top].sum(0)
    mass[nt] = 0.0
    shares = mass / mass.sum() if mass.sum() > 0 else np.full(len(labels), 1.0 / (len(labels) - 1))
    shares[nt] = 0.0
    study = shares * p_tumour
    study[nt] = 1.0 - p_tumour
    label = labels[int(np.argmax(study))]
    return Verdict(label, {k: float(v) for k, v in zip(labels, study)}, [int(i) for i in top])


def aggregate_segmented(probs: np.ndarray, labels: tuple[str, ...]) -> Verdict:
    """Mean probabilities over the slices through the segmented tumour (given largest area first, which is
    also the order they are reported as driving the verdict)."""
    mean = probs.mean(0)
    return Verdict(labels[int(np.argmax(mean))], {k: float(v) for k, v in zip(labels, mean)},
                   list(range(len(probs))))


def tumour_slices(areas: np.ndarray, n: int = SEGMENTED_SLICES) -> list[int]:
    """Slice indices with the largest segmented tumour area, largest first; only slices with tumour."""
    areas = np.asarray(areas)
    order = np.argsort(-areas, kind="mergesort")
    return [int(k) for k in order[:n] if areas[k] > 0]


def study_rule(model: Classifier) -> StudyRule:
    rule = model.extra.get("study_rule")
    if not rule:
        raise ModelError(f"model {model.tag} has no study-level rule: use a classifier exported with one "
                         "(the default model has it)")
    return StudyRule.from_dict(rule)


def study_slices(canonical: np.ndarray) -> list[int]:
    """The axial slices looked at without a segmentation: those holding head signal."""
    return [int(k) for k in np.nonzero(signal_mask(canonical, "axial"))[0]]


def score_slices(canonical: np.ndarray, indices: list[int], model: Classifier, batch: int = 32,
                 progress: ProgressFn | None = None,
                 cancel: CancelFn | None = None) -> tuple[list[ClassificationResult], np.ndarray]:
    """Plain-mode classification of axial slices of a RAS-canonical array: (results, (N, C) probabilities)."""
    results = classify_many([display_slice(canonical, "axial", k) for k in indices], model, batch=batch,
                            mc_samples=0, tta=False, progress=progress, cancel=cancel)
    probs = np.array([[r.probabilities[k] for k in model.labels] for r in results], np.float64)
    return results, probs.reshape(len(results), len(model.labels))


def classify_study(volume: Volume, segmentation: Volume | np.ndarray | None = None, model: Classifier | None = None,
                   progress: ProgressFn | None = None, cancel: CancelFn | None = None,
                   batch: int = 32) -> StudyResult:
    """Study-level verdict for one 3D series (see the module docstring).

    segmentation: optional label volume (or array) on the same voxel grid; any value > 0 is tumour.
    model: a loaded classifier (load_classifier()); None loads the default one (slow: pass it in when
    classifying several studies). progress(fraction, message) is called between batches and cancel() is
    checked there (raises core.errors.Cancelled). Bad input raises core.errors.InputError with one line.
    """
    clf = model if model is not None else load_classifier()
    rule = study_rule(clf)
    canonical, reorient = to_canonical(volume)
    data = canonical.data
    sx, sy, _ = canonical.spacing
    notes: list[str] = []
    areas = None
    if segmentation is not None:
        seg = segmentation.data if isinstance(segmentation, Volume) else np.asarray(segmentation)
        if seg.shape != volume.shape:
            raise InputError(f"segmentation shape {seg.shape} does not match the study grid {volume.shape}")
        areas = (reorient.apply(seg) > 0).sum(axis=(0, 1)) * sx * sy
    chosen = tumour_slices(areas) if areas is not None else []
    if areas is not None and not chosen:
        notes.append("the segmentation is empty: all slices were looked at")
    indices = chosen or study_slices(data)
    results, probs = score_slices(data, indices, clf, batch, progress, cancel)
    verdict = aggregate_segmented(probs, clf.labels) if chosen else aggregate_slices(probs, clf.labels, rule)
    p = np.array([verdict.probabilities[k] for k in clf.labels])
    uncertain = _entropy(p) > rule.entropy_threshold
    if chosen and verdict.label == NO_TUMOUR:
        uncertain = True
        notes.append("the segmentation marks a tumour, but the classifier sees none on those slices")
    n_ood = sum(r.ood for r in results)
    if n_ood:
        notes.append(f"{n_ood} of {len(results)} slices look unlike the classifier's training data")
    if not indices:
        notes.append("no slice holds head signal")
    slices = sorted((StudySlice(k, r, float(areas[k]) if areas is not None else None)
                     for k, r in zip(indices, results)), key=lambda s: s.index)
    return StudyResult(verdict.label, verdict.probabilities, verdict.probabilities[verdict.label], bool(uncertain),
                       bool(results) and n_ood > OOD_STUDY_FRACTION * len(results),
                       "segmentation" if chosen else "all slices", "axial", slices,
                       [indices[i] for i in verdict.driving], int(data.shape[2]), clf.tag, notes)
