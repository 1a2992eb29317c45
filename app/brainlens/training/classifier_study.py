"""Study-level evaluation of the classifier: held-out 3D studies, the aggregation rule fitted on validation
bags, Grad-CAM pointing game, and a healthy head template.

Bags (sets of slice probabilities with one truth) are what the study rule is fitted and checked on:
- a whole 3D study (truth glioma: every BraTS / lgg-flair study is one);
- the tumour-free slices of that study alone (truth notumor: slices with no mask voxel within 6 mm);
- a whole tumour-free head made from that study: its healthy hemisphere joined to its bent mirror image
  (training.mirror; truth notumor; none when the lesion crosses the midline). The other 3D negatives are the
  top and bottom of a head; without these the rule never saw a whole 3D head without tumour;
- synthetic bags from the 2D validation split: 2-3 adjacent tumour images of one class among notumor
  images (a tumour spans neighbouring slices), or notumor images only (they carry meningioma and pituitary,
  which no 3D source has).
Bags keep slice order: the rule may score adjacent slices (StudyRule.window).
A 3D study is only ever scored by a model that never trained on its patient (model A for fold 2, model B
for fold 1), so its bags are validation data for that model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from brainlens.ml.classifier_engine import Classifier
from brainlens.ml.classifier_models import CLASS_NAMES
from brainlens.ml.classify_study import (
    StudyRule,
    aggregate_slices,
    score_slices,
    study_slices,
    tumour_score,
    tumour_slices,
)
from brainlens.ml.classify_volume import NO_TUMOUR, display_slice
from brainlens.training import metrics
from brainlens.training.classifier_probes import GRADCAM_TARGET_MS, median_ms
from brainlens.training.classifier_slices import Study3D, load_nifti, tumour_areas, tumour_free
from brainlens.training.mirror import mirrored, whole_head_split

TOP_K_GRID = (1, 2, 3, 4, 6, 8)
WINDOW_GRID = (2, 3, 4, 5)  # adjacent-slice runs the rule may score instead of the top_k slices
SLOPE_GRID = np.exp(np.linspace(np.log(2.0), np.log(200.0), 40))
MIN_FREE_SLICES = 5  # a tumour-free bag needs at least this many slices
MIRRORED = "healthy hemisphere mirrored"


@dataclass
class Bag:
    name: str
    truth: str
    probs: np.ndarray  # (N, C) plain-mode slice probabilities


@dataclass
class ScoredStudy:
    source: str
    patient: str
    sequence: str
    fold: int
    slice_mm: float
    indices: list[int]
    probs: np.ndarray  # (N, C)
    ood: np.ndarray  # (N,) bool
    areas: np.ndarray  # (N,) tumour mm^2 on each scored slice
    free: np.ndarray  # (N,) bool: tumour-free slice
    native: bool = True  # False for a thick-slab version made by `thicken`
    mirrored_probs: np.ndarray | None = None  # (M, C) slices of the mirrored healthy head, when one was made

    @property
    def name(self) -> str:
        return f"{self.patient} {self.sequence} {self.slice_mm:g} mm"

    def bags(self) -> list[Bag]:
        out = [Bag(self.name, "glioma", self.probs)]
        if self.free.sum() >= MIN_FREE_SLICES:
            out.append(Bag(f"{self.name} tumour-free slices", NO_TUMOUR, self.probs[self.free]))
        if self.mirrored_probs is not None:
            out.append(Bag(f"{self.name} {MIRRORED}", NO_TUMOUR, self.mirrored_probs))
        return out


def thicken(canonical: np.ndarray, slice_mm: float, target_mm: float, reduce: str = "mean") -> tuple[np.ndarray, float]:
    """Non-overlapping slabs along the axial axis (a thick-slice acquisition of the same head); masks use max."""
    step = max(1, int(round(target_mm / slice_mm)))
    if step == 1:
        return canonical, slice_mm
    n = canonical.shape[2] // step
    blocks = canonical[:, :, :n * step].reshape(canonical.shape[0], canonical.shape[1], n, step)
    return (blocks.max(-1) if reduce == "max" else blocks.mean(-1)), slice_mm * step


def study_arrays(study: Study3D, sequence: str, target_mm: float | None = None
                 ) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(RAS-canonical image, canonical mask, slice spacing mm, pixel area mm^2), optionally made thick."""
    from brainlens.core.geometry import to_canonical

    vol = to_canonical(load_nifti(study.images[sequence], study.patient, sequence))[0]
    mask = to_canonical(load_nifti(study.mask))[0].data
    sx, sy, sz = vol.spacing
    data = vol.data
    if target_mm:
        data, _ = thicken(data, sz, target_mm)
        mask, sz = thicken(mask, sz, target_mm, reduce="max")
    return data, mask, float(sz), float(sx * sy)


def mirrored_head(data: np.ndarray, mask: np.ndarray, pixel_mm: float, seed: int = 0) -> np.ndarray | None:
    """A tumour-free whole head from a RAS-canonical study: the hemisphere without tumour joined to its bent
    mirror image; None when the lesion reaches both sides of the midline."""
    split = whole_head_split(mask > 0, data, pixel_mm)
    if split is None:
        return None
    return mirrored(np.asarray(data, np.float32)[None], *split, np.random.default_rng(seed))[0]


def score_study(clf: Classifier, study: Study3D, sequence: str, fold: int, target_mm: float | None = None
                ) -> tuple[ScoredStudy, np.ndarray, np.ndarray, float]:
    """Classify the brain slices of one study the way classify_study does (and, at native thickness, those of
    its mirrored healthy head); also return the canonical image, mask and pixel area (for Grad-CAM)."""
    data, mask, sz, pixel_mm2 = study_arrays(study, sequence, target_mm)
    indices = study_slices(data)
    results, probs = score_slices(data, indices, clf)
    head = mirrored_head(data, mask, float(np.sqrt(pixel_mm2))) if not target_mm else None
    mirrored_probs = score_slices(head, study_slices(head), clf)[1] if head is not None else None
    areas_all = tumour_areas(mask, pixel_mm2)
    free = tumour_free(areas_all, sz)
    scored = ScoredStudy(study.source, study.patient, sequence, fold, round(sz, 2), indices, probs,
                         np.array([r.ood for r in results], bool), areas_all[indices], free[indices],
                         native=not target_mm, mirrored_probs=mirrored_probs)
    return scored, data, mask, pixel_mm2


def synthetic_val_bags(probs: np.ndarray, y: np.ndarray, seed: int = 0, per_class: int = 40, n_negative: int = 80,
                       size: int = 20) -> list[Bag]:
    """Bags from the 2D validation split (plain-mode probabilities): see the module docstring."""
    rng = np.random.default_rng(seed)
    nt = CLASS_NAMES.index(NO_TUMOUR)
    healthy = np.nonzero(y == nt)[0]
    bags = [Bag(f"2D val notumor bag {i}", NO_TUMOUR, probs[rng.choice(healthy, size, replace=False)])
            for i in range(n_negative)]
    for k, name in enumerate(CLASS_NAMES):
        if k == nt:
            continue
        members = np.nonzero(y == k)[0]
        for i in range(per_class):
            m = int(rng.integers(2, 4))
            empty = rng.choice(healthy, size - m, replace=False)
            at = int(rng.integers(0, size - m + 1))
            idx = np.concatenate([empty[:at], rng.choice(members, m, replace=False), empty[at:]])
            bags.append(Bag(f"2D val {name} bag {i}", name, probs[idx]))
    return bags


def bag_score(bag: Bag, rule: StudyRule) -> float:
    """The study rule's tumour score S of one bag (ml.classify_study.tumour_score)."""
    return tumour_score(1.0 - bag.probs[:, CLASS_NAMES.index(NO_TUMOUR)], rule)


def candidate_scores() -> list[StudyRule]:
    """The kinds of score the fit chooses from (threshold and slope are fitted per kind)."""
    return ([StudyRule(k, 0.5, 1.0, float("inf")) for k in TOP_K_GRID]
            + [StudyRule(1, 0.5, 1.0, float("inf"), window=w) for w in WINDOW_GRID])


def fit_rule(bags: list[Bag]) -> tuple[StudyRule, dict]:
    """Kind of score (top_k slices or an adjacent window) and threshold maximising balanced tumour/no-tumour
    accuracy over the bags (ties: the widest margin to the nearest bag, then fewer slices); slope by minimum
    NLL; entropy threshold by the slice rule."""
    is_tumour = np.array([b.truth != NO_TUMOUR for b in bags])
    best = None
    for kind in candidate_scores():
        s = np.array([bag_score(b, kind) for b in bags])
        cuts = np.unique(np.concatenate([[0.5], (np.sort(s)[1:] + np.sort(s)[:-1]) / 2]))
        for t in cuts[(cuts > 0.05) & (cuts < 0.995)]:
            pred = s >= t
            bacc = 0.5 * (pred[is_tumour].mean() + (~pred[~is_tumour]).mean())
            key = (round(float(bacc), 6), float(np.abs(s - t).min()), -(kind.window or kind.top_k))
            if best is None or key > best[0]:
                best = (key, kind, float(t), s)
    assert best is not None
    (bacc, margin, _), kind, t, s = best
    k, window = kind.top_k, kind.window
    nll = [float(-np.mean(np.log(np.clip(np.where(is_tumour, 1 / (1 + np.exp(-a * (s - t))),
                                                           1 - 1 / (1 + np.exp(-a * (s - t)))), 1e-12, 1))))
           for a in SLOPE_GRID]
    slope = float(SLOPE_GRID[int(np.argmin(nll))])
    provisional = StudyRule(k, t, slope, float("inf"), window)
    verdicts = [aggregate_slices(b.probs, CLASS_NAMES, provisional) for b in bags]
    p = np.array([[v.probabilities[c] for c in CLASS_NAMES] for v in verdicts])
    correct = np.array([v.label == b.truth for v, b in zip(verdicts, bags)])
    ent = -(p * np.log(np.clip(p, 1e-12, 1))).sum(1)
    rule = StudyRule(k, t, slope, float(metrics.entropy_threshold(ent, correct)), window)
    return rule, {"n_bags": len(bags), "n_tumour_bags": int(is_tumour.sum()), "balanced_accuracy": bacc,
                  "margin": margin, "label_accuracy": float(correct.mean())}


def bag_kind(bag: Bag) -> str:
    """Which kind of bag: "study", "tumour-free slices" or "mirrored healthy head" (the card reports them apart)."""
    if bag.name.endswith(MIRRORED):
        return "mirrored healthy head"
    return "tumour-free slices" if bag.truth == NO_TUMOUR else "study"


def verdict_row(bag: Bag, rule: StudyRule) -> dict:
    v = aggregate_slices(bag.probs, CLASS_NAMES, rule)
    p = np.array([v.probabilities[c] for c in CLASS_NAMES])
    ent = float(-(p * np.log(np.clip(p, 1e-12, 1))).sum())
    return {"bag": bag.name, "truth": bag.truth, "label": v.label, "correct": v.label == bag.truth,
            "p_tumour": round(1.0 - v.probabilities[NO_TUMOUR], 4), "confidence": round(v.probabilities[v.label], 4),
            "uncertain": ent > rule.entropy_threshold, "n_slices": int(len(bag.probs)),
            "score": round(bag_score(bag, rule), 4)}


def pointing_game(clf: Classifier, canonical: np.ndarray, mask: np.ndarray, slice_mm2: float, n: int = 3,
                  target: str = "glioma") -> list[bool]:
    """Does the Grad-CAM peak (for `target`) fall inside the tumour mask? On the n largest-tumour slices."""
    from brainlens.ml.gradcam import gradcam

    hits = []
    for k in tumour_slices(tumour_areas(mask, slice_mm2), n):
        heat, _ = gradcam(display_slice(canonical, "axial", k), clf, target=target)
        inside = display_slice(mask, "axial", k) > 0
        hits.append(bool(inside[np.unravel_index(int(np.argmax(heat)), heat.shape)]))
    return hits


def healthy_template_rows(clf: Classifier, rule: StudyRule, thicknesses: tuple[float, ...] = (1.0, 3.0, 6.0)
                          ) -> list[dict]:
    """nilearn's MNI152 (ICBM 2009a, 1 mm, tumour-free) at several slice thicknesses: should say no tumour."""
    from nilearn.datasets import load_mni152_template

    from brainlens.core.geometry import to_canonical
    from brainlens.core.volume import Volume

    img = load_mni152_template(resolution=1)
    vol = to_canonical(Volume(np.asarray(img.dataobj, np.float32), img.affine, "MNI152", "t1"))[0]
    rows = []
    for mm in thicknesses:
        data, sz = thicken(vol.data, vol.spacing[2], mm)
        indices = study_slices(data)
        results, probs = score_slices(data, indices, clf)
        row = verdict_row(Bag(f"MNI152 T1 {sz:g} mm", NO_TUMOUR, probs), rule)
        row["slices_notumor"] = float((probs.argmax(1) == CLASS_NAMES.index(NO_TUMOUR)).mean()) if len(probs) else 1.0
        row["ood_slices"] = int(sum(r.ood for r in results))
        rows.append(row)
    return rows


# Grad-CAM settings (feature stage, views averaged: ml.classifier_engine.CAM_VIEWS), simplest first: ties go to
# the earlier one. EfficientNet-Lite0 stages: -1 = 1x1 head (5x5 px), 12 / 9 = ends of the 112- and 80-channel
# stages (both 10x10 px at 160 px input).
CAM_SETTINGS: tuple[tuple[int, str], ...] = ((-1, "single"), (-1, "shift"), (-1, "flip"), (-1, "shift+flip"),
                                            (12, "single"), (9, "single"))
BRATS_THICK_MM = 5.0


def cam_setting_name(stage: int, views: str) -> str:
    return str(stage) if views == "single" else f"{stage} {views}"


def set_cam_stage(clf: Classifier, stage: int, views: str = "single") -> None:
    clf.net.cam_stage = stage
    clf.net.cam_views = views
    clf.cam_net = None  # Grad-CAM's private copy is rebuilt for the new setting


def cam_sequences(study: Study3D) -> list[str]:
    return ["t1ce", "flair"] if study.source == "brats" else ["flair"]


def cam_setting_cpu_ms(clf: Classifier, image: np.ndarray, runs: int = 10) -> dict[tuple[int, str], float]:
    """Median CPU milliseconds of one Grad-CAM call per setting on one thread (each view is a forward and a
    backward pass, so the view count sets the cost; a larger input size makes each pass dearer)."""
    import torch

    from brainlens.ml.gradcam import gradcam

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = {}
        for setting in CAM_SETTINGS:
            set_cam_stage(clf, *setting)
            out[setting] = median_ms(lambda: gradcam(image, clf, target="glioma"), runs, warmup=2)[1]
        return out
    finally:
        torch.set_num_threads(before)


def choose_cam_setting(clf: Classifier, studies: list[Study3D], budget_ms: float = GRADCAM_TARGET_MS
                       ) -> tuple[tuple[int, str], dict[str, float], dict[str, float]]:
    """The Grad-CAM setting with the best pointing game on the given (training-fold) studies among those whose
    CPU time per slice fits ``budget_ms`` (the simplest one when none does), the rate of every candidate and
    its CPU milliseconds (both by cam_setting_name)."""
    hits: dict[tuple[int, str], list[bool]] = {s: [] for s in CAM_SETTINGS}
    first = None
    for study in studies:
        for seq in cam_sequences(study):
            data, mask, _, pixel_mm2 = study_arrays(study, seq)
            if first is None:
                first = display_slice(data, "axial", int(np.argmax(mask.sum(axis=(0, 1)))))
            for setting in CAM_SETTINGS:
                set_cam_stage(clf, *setting)
                hits[setting] += pointing_game(clf, data, mask, pixel_mm2, n=2)
    rates = {s: float(np.mean(h)) if h else float("nan") for s, h in hits.items()}
    cost = cam_setting_cpu_ms(clf, first) if first is not None else {s: 0.0 for s in CAM_SETTINGS}
    return (pick_cam_setting(rates, cost, budget_ms), {cam_setting_name(*s): r for s, r in rates.items()},
            {cam_setting_name(*s): round(c, 1) for s, c in cost.items()})


def pick_cam_setting(rates: dict[tuple[int, str], float], cost_ms: dict[tuple[int, str], float],
                     budget_ms: float) -> tuple[int, str]:
    """Best pointing rate among the settings within the budget (ties: the earlier, simpler one in
    CAM_SETTINGS); the simplest setting when none fits."""
    affordable = [s for s in CAM_SETTINGS if cost_ms[s] <= budget_ms] or [CAM_SETTINGS[0]]
    top = max(np.nan_to_num(rates[s], nan=-1.0) for s in affordable)
    return next(s for s in affordable if np.nan_to_num(rates[s], nan=-1.0) >= top - 1e-9)


def rule_groups(scored: list[ScoredStudy]) -> dict[str, int]:
    """Patient -> 1 or 2 for cross-fitting the rule: the data folds when both were scored, otherwise the
    scored patients of each source alternately (sorted by name), so a study is never judged by a rule fitted
    on its own patient."""
    if {s.fold for s in scored} == {1, 2}:
        return {s.patient: s.fold for s in scored}
    groups: dict[str, int] = {}
    for source in sorted({s.source for s in scored}):
        for rank, patient in enumerate(sorted({s.patient for s in scored if s.source == source})):
            groups[patient] = rank % 2 + 1
    return groups


def evaluate_studies(scorers: dict[int, Classifier], studies: list[Study3D], folds: dict[str, int],
                     val_bags: list[Bag], cam_setting: tuple[int, str], log=print,
                     brats_sequences: tuple[str, ...] = ("t1ce", "flair", "t1", "t2"),
                     thick_mm: float | None = BRATS_THICK_MM) -> dict:
    """Every 3D study scored by the model of its held-out fold (scorers: fold -> model that never saw it);
    the rule cross-fitted between two patient groups (rule_groups; each judged with the rule fitted on the
    other group's bags + 2D validation bags), the product rule fitted on all of them; pointing game
    (Grad-CAM with `cam_setting`: stage, views) on held-out studies."""
    scored: list[ScoredStudy] = []
    cam: dict[str, list[bool]] = {}
    for clf in scorers.values():
        set_cam_stage(clf, *cam_setting)
    for study in studies:
        clf = scorers.get(folds[study.patient])
        if clf is None:
            continue
        sequences = brats_sequences if study.source == "brats" else ["flair"]
        for seq in sequences:
            for mm in ([None, thick_mm] if study.source == "brats" and thick_mm else [None]):
                s, data, mask, pixel_mm2 = score_study(clf, study, seq, folds[study.patient], mm)
                scored.append(s)
                if mm is None and seq in cam_sequences(study):
                    cam.setdefault(f"{study.source} {seq}", []).extend(pointing_game(clf, data, mask, pixel_mm2))
        log(f"scored {study.patient}")
    group = rule_groups(scored)
    by_group = {g: [b for s in scored if group[s.patient] == g for b in s.bags()] for g in (1, 2)}
    rows, rules = [], {}
    for g in (1, 2):
        rule, fit = fit_rule(by_group[3 - g] + val_bags)
        rules[g] = {**rule.to_dict(), **fit}
        rows += [{**verdict_row(b, rule), "fold": s.fold, "rule_group": g, "source": s.source, "bag_kind": bag_kind(b),
                  "patient": s.patient, "sequence": s.sequence, "slice_mm": s.slice_mm,
                  "ood_slices": int(s.ood.sum())}
                 for s in scored if group[s.patient] == g for b in s.bags()]
    product_rule, product_fit = fit_rule(by_group[1] + by_group[2] + val_bags)
    healthy = [s for s in scored if s.native and s.free.any()]
    nt = CLASS_NAMES.index(NO_TUMOUR)
    free_pred = np.concatenate([s.probs[s.free].argmax(1) for s in healthy]) if healthy else np.zeros(0)
    seg_rows = []
    for s in scored:
        chosen = tumour_slices(s.areas)
        if chosen:
            mean = s.probs[chosen].mean(0)
            seg_rows.append({"patient": s.patient, "sequence": s.sequence, "slice_mm": s.slice_mm,
                             "label": CLASS_NAMES[int(mean.argmax())]})
    return {
        "rule": product_rule.to_dict(), "rule_fit": product_fit, "cross_fitted_rules": rules, "rows": rows,
        "folds_scored": sorted({s.fold for s in scored}),
        "healthy_slice_notumor_rate": float((free_pred == nt).mean()) if len(free_pred) else float("nan"),
        "healthy_slices": int(len(free_pred)),
        "segmentation_guided": seg_rows,
        "pointing_game": {k: {"n": len(v), "hits": int(sum(v))} for k, v in cam.items()},
        "cam_stage": cam_setting[0], "cam_views": cam_setting[1],
    }
