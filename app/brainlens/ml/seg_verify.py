"""Second opinion on segmented tumour components: the segmenter says where, the classifier says whether.

Why: on healthy heads the segmenter still marks some normal tissue as tumour, while the tumour-type
classifier, shown the slices through such a component (its segmentation-guided mode, ml.classify_study),
often calls them "no tumour" with high confidence; through real tumours it stays far lower (figures in
models/segmenter_card.md). So each component that passed the size and
confidence rule is shown to the classifier on every sequence that lies on the mask's grid, and it is
dropped when even the most tumour-like of those views has P(notumor) above the rule's
``max_classifier_notumor``, a limit the segmenter's evaluation chooses on validation patients (1.0 = not
asked). The classifier's answer is recorded on the component either way.

A kept component whose most tumour-like view the classifier still labels "no tumour" (but not confidently
enough to drop it) is marked ``doubted_by_classifier`` and the user is told to check it: on the bundled
model's validation and test patients every component on a real tumour got a tumour-type label, most false
alarms "no tumour" (figures in models/segmenter_card.md). It stays in the mask: the doubt informs, the
validated limit decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from brainlens.core.volume import Volume
from brainlens.ml.classify_study import classify_study
from brainlens.ml.classify_volume import NO_TUMOUR
from brainlens.ml.seg_detection import DetectionRule, component_labels


def on_grid(volume: Volume, reference: Volume) -> bool:
    """Does ``volume`` share the reference's voxel grid (so the reference's mask indexes it)?"""
    return volume.shape == reference.shape and np.allclose(volume.affine, reference.affine, atol=1e-4)


def classifier_opinion(mask: np.ndarray, volumes: Mapping[str, Volume], reference: str,
                       classifier: Any) -> dict[str, Any]:
    """The classifier's most tumour-like verdict on the slices through ``mask`` over the sequences on the
    reference grid: P(notumor), label and the sequence that gave it."""
    best: dict[str, Any] | None = None
    for name, vol in volumes.items():
        if name != reference and not on_grid(vol, volumes[reference]):
            continue
        result = classify_study(vol, mask, model=classifier)
        p = float(result.probabilities[NO_TUMOUR])
        if best is None or p < best["classifier_notumor"]:
            best = {"classifier_notumor": round(p, 6), "classifier_label": result.label, "classifier_sequence": name}
    assert best is not None  # the reference itself is always on its grid
    return best


def verify_components(labels: np.ndarray, wt_prob: np.ndarray, stats: list[dict[str, Any]],
                      volumes: Mapping[str, Volume], reference: str, classifier: Any,
                      rule: DetectionRule) -> np.ndarray:
    """Labels without the kept components the classifier sees no tumour in (see the module doc); ``stats``
    (from seg_detection.keep_components, same order) gain the classifier's opinion on each kept component
    and ``vetoed_by_classifier``. ``labels`` and ``wt_prob`` lie on the reference volume's grid."""
    comp, _ = component_labels(wt_prob)
    out = labels.copy()
    for i, s in enumerate(stats, start=1):
        if not s.get("kept"):
            continue
        member = comp == i
        s.update(classifier_opinion(member, volumes, reference, classifier))
        vetoed = s["classifier_notumor"] > rule.max_classifier_notumor
        s["vetoed_by_classifier"] = bool(vetoed)
        if vetoed:
            s["kept"] = False
            out[member] = 0
        s.pop("doubted_by_classifier", None)  # judged afresh from this opinion
        s["doubted_by_classifier"] = doubted(s)
    return out


def doubted(component: dict[str, Any]) -> bool:
    """Kept, yet the classifier's most tumour-like view still says "no tumour" (see the module doc): the
    recorded flag, or, for evaluation records written before the flag existed, the recorded label."""
    if "doubted_by_classifier" in component:
        return bool(component.get("kept") and component["doubted_by_classifier"])
    return bool(component.get("kept") and component.get("classifier_label") == NO_TUMOUR)


def doubt_warning(stats: list[dict[str, Any]]) -> str | None:
    """The user's warning for kept components the classifier doubts (see the module doc), or None."""
    doubts = [s for s in stats if doubted(s)]
    if not doubts:
        return None
    sizes = ", ".join(f"{s['volume_ml']:.1f} ml" for s in doubts)
    worst = max(s["classifier_notumor"] for s in doubts)
    return (f"possible false alarm: the tumour-type classifier calls the slices through {len(doubts)} kept "
            f"component(s) ({sizes}) 'no tumour' (P up to {worst:.2f}); check them")
