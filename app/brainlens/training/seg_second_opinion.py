"""The classifier that gives the segmenter's components a second opinion (ml.seg_verify), for evaluation:
each patient is judged by a classifier fold model that never trained on that patient's slices.

The classifier's 3D folds (training.classifier_slices.patient_folds) differ from the segmenter's, so the
product classifier, which trained on one of them, would have seen some of the segmenter's test patients.
Each fold model gets the temperature fitted on the 2D validation split (as the classifier card does) and
the bundled classifier's study rule (classify_study wants one; the segmentation-guided mode does not use
it). Studies of no known patient (template, phantom) never met any classifier, so they are judged as the
product judges them: by the bundled classifier (``for_case`` gives None).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class FoldClassifiers:
    by_fold: dict[int, Any]  # held-out 3D fold -> classifier that never saw it
    folds: dict[str, int]  # patient -> classifier fold
    runs: dict[int, str]  # held-out fold -> run folder

    def for_case(self, case: str) -> Any:
        """The fold model that never saw ``case``; None (the bundled classifier) for a study of no patient."""
        if case not in self.folds:
            return None
        fold = self.folds[case]
        if fold not in self.by_fold:
            raise SystemExit(f"no classifier fold model held out fold {fold} (patient {case})")
        return self.by_fold[fold]


def load_fold_classifiers(runs: list[Path], data_2d: Path, cache: Path, volumes_root: Path,
                          models_dir: Path | None = None, arch: str = "efflite0") -> FoldClassifiers:

    from brainlens.ml.classifier_default import default_classifier
    from brainlens.ml.registry import get_entry
    from brainlens.training.classifier_data import build_dataset
    from brainlens.training.classifier_slices import find_studies, patient_folds
    from brainlens.training.evaluate_classifier_study import held_out_fold, run_network, temperature_only

    data = build_dataset(data_2d, cache)
    rule = get_entry(default_classifier(models_dir), models_dir).extra["study_rule"]  # the manifest row only
    by_fold: dict[int, Any] = {}
    names: dict[int, str] = {}
    for run in runs:
        d = run / arch
        fold = held_out_fold(d)
        if fold is None:
            raise SystemExit(f"{run}: a classifier trained on every 3D patient cannot judge any of them")
        clf = temperature_only(run_network(d, arch)[0], arch, data)
        clf.extra["study_rule"] = rule
        by_fold[int(fold)] = clf
        names[int(fold)] = str(d)
    folds = patient_folds(find_studies(volumes_root))
    return FoldClassifiers(by_fold, {k: int(v) for k, v in folds.items()}, names)

