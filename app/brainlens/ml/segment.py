"""Tumour segmentation engine (no Qt): study in, label mask + uncertainty + measurements out.

``segment(...)`` picks the sequences present, checks they belong together, runs the bundled
SegResNet with sliding-window inference on the 2 mm network grid (progress reported and cancel
checked between windows), and maps the result back onto the reference series' source grid.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from brainlens.core.errors import Cancelled, InputError, ModelError
from brainlens.core.labels import LABEL_NAMES
from brainlens.core.plain import plain
from brainlens.core.volume import Study, Volume
from brainlens.ml.seg_detection import DetectionRule, disagreement, keep_components
from brainlens.ml.seg_model import CHANNELS, MODEL_NAME, PATCH, REGIONS, SPACING_MM, regions_to_labels

Progress = Callable[[float, str], None]
CancelFlag = Callable[[], bool]
OVERLAP = 0.25
DEFAULT_SAMPLES = 4
MIN_SLICES = 8
NO_TUMOUR = "no tumour detected"
_PATIENT_KEYS = ("patient_hash", "patient_id", "PatientID")
_TITLES = {"flair": "FLAIR", "t1": "T1", "t1ce": "T1c", "t2": "T2"}


@dataclass
class SegmentationResult:
    mask: Volume  # uint8 labels 0/1/2/4 on the reference source grid
    uncertainty: Volume  # float32 predictive entropy (bits) on the same grid
    reference: str
    sequences_used: list[str]
    missing_sequences: list[str]
    regions: dict[str, dict[str, Any]]  # volume_ml, volume_ml_range, max_diameter_mm, lesions
    rano: dict[str, Any] | None
    device: str
    seconds: float
    samples: int
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    model: dict[str, str] = field(default_factory=dict)
    tumour_detected: bool = True
    uncertain: bool = False  # the samples disagree more than on validation studies that went well
    disagreement: float = 0.0
    components: list[dict[str, Any]] = field(default_factory=list)
    brain_extraction: str = ""

    @property
    def finding(self) -> str:
        return "tumour detected" if self.tumour_detected else NO_TUMOUR

    def to_json(self, source: str | Path | None = None) -> dict[str, Any]:
        """The measurements object written by the CLI (plain JSON types only)."""
        return plain({"source": str(source) if source is not None else None,
                "reference_sequence": self.reference,
                "sequences_used": list(self.sequences_used),
                "missing_sequences": list(self.missing_sequences),
                "device": self.device, "seconds": round(self.seconds, 3), "samples": self.samples,
                "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
                "model": dict(self.model),
                "finding": self.finding, "tumour_detected": self.tumour_detected,
                "uncertain": self.uncertain, "disagreement": round(self.disagreement, 4),
                "brain_extraction": self.brain_extraction,
                "components": self.components,
                "regions": self.regions,
                "rano": self.rano,
                "warnings": list(self.warnings),
                "intended_use": "research only; not for diagnosis"})


def _gather(study_or_volumes: Study | Mapping[str, Volume] | Iterable[Volume],
            sequences: Mapping[str, Volume] | None) -> dict[str, Volume]:
    if isinstance(study_or_volumes, Study):
        found = {k: v for k, v in study_or_volumes.by_sequence().items() if not v.metadata.get("is_label")}
    elif isinstance(study_or_volumes, Mapping):
        found = dict(study_or_volumes)
    else:
        found = {}
        for vol in study_or_volumes:
            if vol.sequence and vol.sequence not in found and not vol.metadata.get("is_label"):
                found[vol.sequence] = vol
    found.update(sequences or {})
    return {k: found[k] for k in CHANNELS if k in found}


def _world_box(vol: Volume) -> tuple[np.ndarray, np.ndarray]:
    corners = np.array([[i, j, k, 1.0] for i in (-0.5, vol.shape[0] - 0.5) for j in (-0.5, vol.shape[1] - 0.5)
                        for k in (-0.5, vol.shape[2] - 0.5)])
    world = (vol.affine @ corners.T)[:3].T
    return world.min(axis=0), world.max(axis=0)


def check_compatible(volumes: Mapping[str, Volume]) -> None:
    """Same patient (when known) and overlapping fields of view, else InputError."""
    ids = {}
    for name, vol in volumes.items():
        pid = next((vol.metadata[k] for k in _PATIENT_KEYS if vol.metadata.get(k)), None)
        if pid is not None:
            ids[name] = str(pid)
    if len(set(ids.values())) > 1:
        pairs = ", ".join(f"{_TITLES[k]}={v}" for k, v in ids.items())
        raise InputError(f"the sequences belong to different patients ({pairs})")
    names = list(volumes)
    for a in names[1:]:
        lo_a, hi_a = _world_box(volumes[names[0]])
        lo_b, hi_b = _world_box(volumes[a])
        inter = np.prod(np.clip(np.minimum(hi_a, hi_b) - np.maximum(lo_a, lo_b), 0, None))
        smaller = min(np.prod(hi_a - lo_a), np.prod(hi_b - lo_b))
        if smaller <= 0 or inter / smaller < 0.5:
            raise InputError(f"{_TITLES[a]} and {_TITLES[names[0]]} do not overlap in space "
                             "(different patients or not co-registered)")


def load_model(device: Any, directory: Path | str | None = None) -> tuple[Any, Any]:
    """The bundled segmenter on ``device`` (eval mode) and its registry entry."""
    from brainlens.ml.registry import load_weights
    from brainlens.ml.seg_model import build_model

    state, entry = load_weights(MODEL_NAME, directory)
    if list(entry.input.get("channels", [])) != list(CHANNELS):
        raise ModelError(f"model '{MODEL_NAME}' expects channels {entry.input.get('channels')}, not {CHANNELS}")
    model = build_model(init_filters=int(entry.extra.get("init_filters", 8)),
                        dropout=float(entry.extra.get("dropout", 0.1)))
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelError(f"model '{MODEL_NAME}' does not match the network definition: reinstall BrainLens") \
            from exc
    return model.to(device).eval(), entry


def load_segmenter(device: Any, directory: Path | str | None = None) -> tuple[Any, Any, Any]:
    """(network, registry entry, brain extractor): everything ``segment`` loads, to load once and pass in."""
    net, entry = load_model(device, directory)
    return net, entry, load_brain_extractor(entry)


def fold_enhancing_into_core(labels: np.ndarray) -> np.ndarray:
    """Labels with enhancing tumour (4) counted as non-enhancing core (1): for studies without T1c."""
    return np.where(labels == 4, np.uint8(1), labels).astype(np.uint8)


def load_brain_extractor(entry: Any) -> Any:
    """deepbet's models for skull-on studies, pinned by the segmenter's manifest row (None if it names none)."""
    from brainlens.ml.skull_strip import load_extractor

    spec = entry.extra.get("brain_extraction")
    return load_extractor(spec["sha256"]) if spec else None


def _n_windows(shape: tuple[int, ...]) -> int:
    n = 1
    for size, roi in zip(shape, PATCH):
        step = max(1, int(roi * (1 - OVERLAP)))
        n *= 1 if size <= roi else int(np.ceil((size - roi) / step)) + 1
    return n


def predict_samples(model: Any, image: np.ndarray, device: Any, samples: int,
                    progress: Progress | None = None, cancel: CancelFlag | None = None,
                    span: tuple[float, float] = (0.0, 1.0)) -> tuple[np.ndarray, list[np.ndarray]]:
    """Mean sigmoid probabilities (3, X, Y, Z) over the samples, and each sample's p > 0.5 masks."""
    import torch
    from monai.inferers import sliding_window_inference

    from brainlens.ml.seg_model import autocast
    from brainlens.ml.seg_uncertainty import sample_plan, set_mc_dropout

    plan = sample_plan(samples)
    total = len(plan) * _n_windows(image.shape[1:])
    done = [0]

    def predictor(x: torch.Tensor) -> torch.Tensor:
        if cancel is not None and cancel():
            raise Cancelled("segmentation cancelled")
        out = model(x).float()  # blend windows in float32 even under bf16 autocast
        done[0] += 1
        if progress is not None:
            progress(span[0] + (span[1] - span[0]) * min(done[0] / total, 1.0),
                     f"segmenting: window {done[0]} of {total}")
        return out

    x = torch.from_numpy(np.ascontiguousarray(image))[None].to(device)
    mean = np.zeros((len(REGIONS),) + image.shape[1:], dtype=np.float32)
    per_sample = []
    # Fixed MC-dropout masks (reproducible results) without touching the caller's global RNG.
    with torch.random.fork_rng(devices=[]), torch.inference_mode(), autocast(device):
        torch.manual_seed(0)
        for dims, dropout in plan:
            set_mc_dropout(model, dropout)
            xin = torch.flip(x, dims) if dims else x
            logits = sliding_window_inference(xin, PATCH, 1, predictor, overlap=OVERLAP, mode="gaussian")
            if dims:
                logits = torch.flip(logits, dims)
            p = torch.sigmoid(logits.float())[0].cpu().numpy()
            mean += p
            per_sample.append(p > 0.5)
    set_mc_dropout(model, False)
    return mean / len(plan), per_sample


def _second_opinion(labels: np.ndarray, wt_prob: np.ndarray, found: list[dict[str, Any]],
                    volumes: Mapping[str, Volume], reference: str, classifier: Any, rule: DetectionRule,
                    warnings: list[str]) -> np.ndarray:
    from brainlens.ml.classifier_engine import load_classifier
    from brainlens.ml.seg_verify import doubt_warning, verify_components

    try:
        clf = classifier if classifier is not None else load_classifier()
    except ModelError as exc:  # a segmentation without the second opinion beats none at all
        warnings.append(f"the classifier's second opinion was skipped: {exc}")
        return labels
    out = verify_components(labels, wt_prob, found, volumes, reference, clf, rule)
    vetoed = sum(bool(c.get("vetoed_by_classifier")) for c in found)
    if vetoed:
        warnings.append(f"{vetoed} component(s) discarded: the tumour-type classifier saw no tumour on the "
                        "slices through them")
    doubt = doubt_warning(found)
    if doubt:
        warnings.append(doubt)
    return out


def segment(study_or_volumes: Study | Mapping[str, Volume] | Iterable[Volume], progress: Progress | None = None,
            cancel: CancelFlag | None = None, samples: int = DEFAULT_SAMPLES, device: str = "auto",
            sequences: Mapping[str, Volume] | None = None, model_dir: Path | str | None = None,
            detection: DetectionRule | None = None, model: tuple[Any, ...] | None = None,
            classifier: Any = None) -> SegmentationResult:
    """Segment the tumour; see the module doc. Raises InputError, ModelError or Cancelled.

    ``detection`` overrides the manifest's validated component / no-tumour thresholds (evaluation only).
    ``model``: a ``load_segmenter(device)`` result to reuse (load once, pass it in); None loads the bundled one.
    ``classifier``: the tumour-type classifier that gives kept components a second opinion (ml.seg_verify);
    None loads the default one when the rule asks for it. Given, it is asked even if the rule would not
    drop anything (the evaluation records its opinion to choose the rule).
    """
    from brainlens.core.measurements import measure_labels
    from brainlens.ml.device import choose_device, describe_device
    from brainlens.ml.seg_preprocess import preprocess, to_source
    from brainlens.ml.seg_uncertainty import predictive_entropy, range_margin, volume_range_ml

    t_start = time.perf_counter()
    report = progress or (lambda f, m: None)
    if samples < 1:
        raise InputError(f"samples must be at least 1, got {samples}")
    volumes = _gather(study_or_volumes, sequences)
    if not volumes:
        raise InputError("no usable sequence: need at least one of FLAIR, T1, T1c or T2 "
                         "(sequence not recognised from the file names or DICOM tags)")
    flat = [f"{_TITLES[k]} ({min(v.shape)} slices)" for k, v in volumes.items() if min(v.shape) < MIN_SLICES]
    if flat:
        raise InputError(f"segmentation needs 3D series; too few slices in {', '.join(flat)}")
    check_compatible(volumes)
    missing = [k for k in CHANNELS if k not in volumes]
    warnings: list[str] = []
    if missing:
        warnings.append("missing sequence(s): " + ", ".join(_TITLES[k] for k in missing)
                        + "; the model was trained with random sequence drop-out, but accuracy is lower")
    reference = "flair" if "flair" in volumes else "t1ce" if "t1ce" in volumes else next(iter(volumes))
    timings: dict[str, float] = {}
    t = time.perf_counter()
    if model is None:
        dev = choose_device(device)
        model = load_segmenter(dev, model_dir)
    else:
        dev = next(model[0].parameters()).device
    net, entry, extractor = model
    rule = detection or DetectionRule.from_extra(entry.extra)
    timings["model_load"] = time.perf_counter() - t

    report(0.02, "preprocessing")
    t = time.perf_counter()
    prep = preprocess(volumes, reference, SPACING_MM, extractor=extractor)
    warnings += prep.warnings
    if prep.brain_method.startswith("heuristic"):
        warnings.append(f"{prep.brain_method}: scalp may be included")
    timings["preprocess"] = time.perf_counter() - t
    if cancel is not None and cancel():
        raise Cancelled("segmentation cancelled")

    t = time.perf_counter()
    first_share = 1.0 / samples
    mean, masks = predict_samples(net, prep.image, dev, samples, report, cancel, span=(0.1, 0.85))
    net_total = time.perf_counter() - t
    timings["network"] = net_total * first_share
    timings["uncertainty"] = net_total * (1 - first_share)

    report(0.88, "mapping back to the source grid")
    t = time.perf_counter()
    entropy = predictive_entropy(mean)
    probs_src = to_source(mean, prep.grid)
    ref_vol = volumes[reference]
    src_voxel_ml = abs(float(np.linalg.det(ref_vol.affine[:3, :3]))) / 1000.0
    labels, found = keep_components(regions_to_labels(probs_src > 0.5), probs_src[0], src_voxel_ml, rule)
    timings["uncertainty"] += time.perf_counter() - t
    if (rule.asks_classifier or classifier is not None) and any(c.get("kept") for c in found):
        report(0.9, "second opinion from the classifier")
        t = time.perf_counter()
        labels = _second_opinion(labels, probs_src[0], found, volumes, reference, classifier, rule, warnings)
        timings["classifier_check"] = time.perf_counter() - t
    t = time.perf_counter()
    # Enhancement is what T1c shows: without it the network's ET output is a guess (FLAIR-only ET Dice
    # was near zero on held-out BraTS), so it is folded into the core and said so, not reported as ET.
    enhancement_seen = "t1ce" in volumes
    if not enhancement_seen:
        labels = fold_enhancing_into_core(labels)
        warnings.append("no T1c: enhancing tumour cannot be assessed; it is counted in the tumour core")
    uncertainty = to_source(entropy, prep.grid).astype(np.float32)
    timings["uncertainty"] += time.perf_counter() - t
    if cancel is not None and cancel():
        raise Cancelled("segmentation cancelled")

    report(0.94, "measuring")
    t = time.perf_counter()
    measured = measure_labels(labels, ref_vol.affine)
    voxel_ml = SPACING_MM ** 3 / 1000.0
    # Per-sample volumes on the 2 mm grid, nested the same way as the labels (ET in TC in WT).
    # The spread is measured on the 2 mm grid, then rescaled to the delivered mask's volume, so
    # the range describes the same (1 mm) mask the point value does.

    size_only = DetectionRule(rule.min_component_ml, 0.0)

    def region_volumes(m: np.ndarray) -> list[float]:
        lab, _ = keep_components(regions_to_labels(m), m[0].astype(np.float32), voxel_ml, size_only)
        lab = lab if enhancement_seen else fold_enhancing_into_core(lab)
        return [float(r.sum()) * voxel_ml for r in (lab > 0, (lab == 1) | (lab == 4), lab == 4)]

    spread = disagreement([m[0] for m in masks])
    margin = range_margin(entry.extra, spread)
    per_sample = np.array([region_volumes(m) for m in masks])  # (samples, 3)
    at_mean = region_volumes(mean > 0.5)
    for i, name in enumerate(REGIONS):
        point = measured["regions"][name]["volume_ml"]
        scale = point / at_mean[i] if at_mean[i] > 0 else 1.0
        measured["regions"][name]["volume_ml_range"] = volume_range_ml(list(per_sample[:, i] * scale), margin)
    detected = bool(labels.any())
    if not detected:
        faint = sum(not c.get("vetoed_by_classifier") for c in found)
        warnings.append(NO_TUMOUR + (f": {faint} faint or small component(s) below the validated "
                                     "thresholds were discarded" if faint else ""))
    timings["postprocess"] = time.perf_counter() - t
    report(1.0, "done")
    mask_vol = ref_vol.with_data(labels, name=f"Tumour segmentation ({entry.name})")
    mask_vol.metadata.update(is_label=True, label_names=dict(LABEL_NAMES))
    unc_vol = ref_vol.with_data(uncertainty, name="Segmentation uncertainty (entropy, bits)")
    return SegmentationResult(
        mask=mask_vol, uncertainty=unc_vol, reference=reference, sequences_used=list(volumes),
        missing_sequences=missing, regions=measured["regions"], rano=measured["rano"],
        device=describe_device(dev), seconds=time.perf_counter() - t_start, samples=samples, timings=timings,
        warnings=warnings, model={"name": entry.name, "version": entry.version, "sha256": entry.sha256},
        tumour_detected=detected, uncertain=spread > rule.max_disagreement, disagreement=spread,
        components=found, brain_extraction=prep.brain_method)
