"""Segmenter training recipe: patient-wise split, schedule, HD95, and a tiny resumable end-to-end run."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from brainlens.training.segmenter import lr_factor, replan_total, split_cases


def test_training_dispatcher_rejects_unknown_recipe(capsys) -> None:
    from brainlens.training.cli import main

    assert main([]) == 2 and main(["nonsense"]) == 2
    assert "segmenter" in capsys.readouterr().err


def test_split_is_patient_wise_fixed_and_complete() -> None:
    cases = [f"case{i:02d}" for i in range(16)]
    a, b = split_cases(cases), split_cases(list(reversed(cases))[::-1])
    assert a == b
    assert (len(a["test"]), len(a["val"]), len(a["train"])) == (4, 2, 10)
    groups = [set(a[k]) for k in ("test", "val", "train")]
    assert set().union(*groups) == set(cases)
    assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])


def test_schedule_warms_up_then_decays_to_floor() -> None:
    assert lr_factor(0, 1000) < 0.05
    assert lr_factor(49, 1000) == pytest.approx(1.0, abs=0.01)
    assert lr_factor(500, 1000) == pytest.approx(0.51, abs=0.01)
    assert lr_factor(1000, 1000) == pytest.approx(0.02)
    assert lr_factor(5000, 1000) == pytest.approx(0.02)


def test_replan_fits_the_remaining_time_in_whole_epochs() -> None:
    assert replan_total(300, 2.0, 3000.0, 75) == 300 + 1500
    assert replan_total(300, 2.0, 100.0, 75) == 300  # less than one epoch left: stop here
    assert replan_total(300, 2.0, -5.0, 75) == 300


def test_hd95_of_concentric_spheres_is_the_radius_gap() -> None:
    from brainlens.training.evaluate_segmenter import HD95_EMPTY_MM, hd95

    grid = np.indices((60, 60, 60)) - 30
    r = np.sqrt((grid ** 2).sum(0))
    small, big = r <= 10, r <= 14
    assert hd95(small, big, (1.0, 1.0, 1.0)) == pytest.approx(4.0, abs=1.0)
    assert hd95(small, big, (2.0, 2.0, 2.0)) == pytest.approx(8.0, abs=2.0)  # spacing is honoured
    assert hd95(small, small, (1.0, 1.0, 1.0)) == 0.0
    assert hd95(small, np.zeros_like(small), (1.0, 1.0, 1.0)) == HD95_EMPTY_MM


@pytest.fixture(scope="module")
def tiny_brats(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seven phantom 'patients' laid out like BraTS (<case>/<case>_{flair,t1,t1ce,t2,seg}.nii.gz)."""
    from brainlens.core.phantom import make_head_phantom_with_labels

    root = tmp_path_factory.mktemp("brats")
    for i in range(7):
        study, labels = make_head_phantom_with_labels(shape=(40, 48, 40), spacing_mm=3.0, seed=i)
        case = root / f"P{i}"
        case.mkdir()
        for vol in study.series:
            nib.save(nib.Nifti1Image(vol.data, vol.affine), str(case / f"P{i}_{vol.sequence}.nii.gz"))
        nib.save(nib.Nifti1Image(labels.data, labels.affine), str(case / f"P{i}_seg.nii.gz"))
    return root


@pytest.fixture(scope="module")
def tiny_clinical(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seven FLAIR-only phantom 'patients' laid out like lgg-flair (<id>_flair / <id>_mask), skull on."""
    from brainlens.core.phantom import make_head_phantom_with_labels

    root = tmp_path_factory.mktemp("lgg")
    for i in range(7):
        study, labels = make_head_phantom_with_labels(shape=(40, 48, 16), spacing_mm=3.0, seed=10 + i,
                                                      orientation="RAS")
        flair = next(v for v in study.series if v.sequence == "flair")
        nib.save(nib.Nifti1Image(flair.data, flair.affine), str(root / f"C{i}_flair.nii.gz"))
        nib.save(nib.Nifti1Image((labels.data > 0).astype(np.uint8), labels.affine), str(root / f"C{i}_mask.nii.gz"))
    return root


def _tiny_run(tiny_brats: Path, tiny_clinical: Path, out: Path, *more: str) -> list[str]:
    """Arguments of a one-step-per-epoch training run on the tiny phantom sets."""
    return ["--data", str(tiny_brats), "--lgg", str(tiny_clinical), "--out", str(out), "--epoch-steps", "1",
            "--batch", "2", *more]


def test_tiny_training_run_checkpoints_and_resumes(tiny_brats: Path, tiny_clinical: Path, tmp_path: Path) -> None:
    pytest.importorskip("monai")
    from brainlens.training.segmenter import main

    out = tmp_path / "run"
    args = _tiny_run(tiny_brats, tiny_clinical, out, "--max-minutes", "0.01", "--max-steps", "1")
    assert main(args) == 0
    assert {"last.pt", "best.pt", "train.log", "summary.json", "split.json"} <= {p.name for p in out.iterdir()}
    assert len(list((out / "cache").glob("*.npz"))) == 7 + 7
    split = json.loads((out / "split.json").read_text())
    assert split["lgg-flair"]["train"] and split["brats"]["train"]
    cached = np.load(next((out / "cache").glob("lgg_*.npz")))
    assert cached["image"][1:].max() == 0, "a FLAIR-only case has empty T1 / T1c / T2 channels"
    assert cached["regions"][1:].sum() == 0 and cached["regions"][0].sum() > 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 1 and len(summary["history"]) == 1
    assert 0.0 <= summary["best_val_mean_dice"] <= 1.0
    assert main(args + ["--resume"]) == 0
    log = (out / "train.log").read_text()
    assert "resumed at step 1" in log
    history = json.loads((out / "summary.json").read_text())["history"]
    assert "clinical_flair" in history[0]["val"], "validation scores the clinical cases too"


def test_fixed_schedule_spans_budgeted_resumed_runs(tiny_brats: Path, tiny_clinical: Path, tmp_path: Path) -> None:
    pytest.importorskip("monai")
    from brainlens.training.segmenter import main

    out = tmp_path / "run"
    args = _tiny_run(tiny_brats, tiny_clinical, out, "--max-minutes", "0.001", "--total-steps", "2")
    assert main(args) == 0
    first = json.loads((out / "summary.json").read_text())
    assert (first["steps"], first["total_steps"]) == (1, 2), "the budget stops the run, the schedule stays"
    assert main(args + ["--resume"]) == 0
    second = json.loads((out / "summary.json").read_text())
    assert (second["steps"], second["total_steps"]) == (2, 2)


def test_no_best_checkpoint_and_no_early_stop_before_min_steps(tiny_brats: Path, tiny_clinical: Path,
                                                              tmp_path: Path) -> None:
    pytest.importorskip("monai")
    from brainlens.training.segmenter import main

    out = tmp_path / "run"
    # patience 1 would stop after the second epoch; --min-steps 3 keeps the run going and makes step 3 the
    # first checkpoint that may be best.
    args = _tiny_run(tiny_brats, tiny_clinical, out, "--max-minutes", "5", "--total-steps", "3", "--patience", "1",
                     "--min-steps", "3")
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 3 and summary["stop_reason"] == "finished schedule"
    assert summary["best_step"] == 3 and summary["min_steps"] == 3
    # A resumed run forgets a best found before --min-steps (here: raised after the fact).
    assert main(args[:-1] + ["5", "--total-steps", "3", "--resume"]) == 0
    assert "is before --min-steps 5: forgotten" in (out / "train.log").read_text()
