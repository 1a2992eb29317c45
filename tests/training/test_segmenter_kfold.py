"""Fold records of the segmenter recipe's cross-validation and their pooled section in the model card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from brainlens.training import segmenter_kfold
from brainlens.training.segmenter_card import card_markdown


def _row(case: str, source: str, config: str, wt: float) -> dict:
    row = {"case": case, "source": source, "config": config, "finding": "tumour detected", "uncertain": False,
           "dice_whole_tumor": wt, "hd95_whole_tumor": 5.0, "range_contains_truth": True,
           "uncertainty_auroc": 0.9, "true_wt_ml": 10.0, "wt_range_ml": [5.0, 25.0],
           "components": [{"voxel": [1, 2, 3]}]}
    if source == "brats":  # lgg-flair masks are whole tumour only: their rows have no TC / ET
        row.update(dice_tumor_core=wt / 2, dice_enhancing_tumor=wt / 4)
    return row


def _report(fold: int, wts: list[float]) -> dict:
    rows = [_row(f"Brats18_X_{fold}{i}", "brats", "all four", w) for i, w in enumerate(wts)]
    rows.append(_row(f"TCGA_{fold}", "lgg-flair", "FLAIR only", 0.5))
    healthy = {"MNI152": {"tumour_ml": 3.0 * fold, "finding": "tumour detected", "warned_false_alarm": fold == 1},
               "phantom": {"tumour_ml": 0.0, "finding": "no tumour detected"}, "crossing": {"skipped": "midline"}}
    return {"training": {"fold": fold, "steps": 6000, "train_minutes": 150.0, "best_step": 4000, "init": None},
            "healthy": healthy,
            "generated": "2026-12-02T00:00:00+00:00", "detection": {"min_component_ml": 1.0}, "per_case": rows,
            "grades": {"test": {r["case"]: "HGG" for r in rows if r["source"] == "brats"}}}


def test_folds_pool_per_patient_not_per_fold(tmp_path) -> None:
    for fold, wts in ((1, [0.9, 0.7]), (2, [0.8])):
        report = _report(fold, wts)
        if fold == 2:  # a study with no wrong voxel has no AUROC; an older record kept no range
            report["per_case"][0].update(uncertainty_auroc=None, wt_range_ml=None)
            del report["per_case"][0]["wt_range_ml"]
        path = tmp_path / f"report{fold}.json"
        path.write_text(json.dumps(report))
        segmenter_kfold.add(path, tmp_path / "folds")
    records = segmenter_kfold.load_records(tmp_path / "folds")
    assert [r["fold"] for r in records] == [1, 2]
    assert "components" not in records[0]["rows"][0]  # only what the card needs is kept
    s = segmenter_kfold.summary(records)
    wt = s["brats / all four / dice_whole_tumor"]
    assert wt["n"] == 3 and wt["mean"] == pytest.approx(0.8)  # three patients, not the mean of two fold means
    assert s["brats / all four / uncertainty_auroc"] == {"n": 2, "mean": pytest.approx(0.9), "sd": 0.0}
    assert s["brats / all four / range width over true volume"] == {"n": 2, "median": 2.0}  # (25 - 5) / 10
    assert s["lgg-flair / FLAIR only / dice_whole_tumor"]["n"] == 2
    assert s["brats / FLAIR only / dice_whole_tumor"]["n"] == 0
    assert s["healthy heads <= 1 ml"] == [2, 4]  # the phantoms of both folds; skipped heads are not counted
    assert s["healthy heads over 1 ml warned"] == [1, 2]  # fold 1's MNI152 was warned, fold 2's was not
    assert records[0]["healthy"]["MNI152"]["warned_false_alarm"] is True  # the record keeps the flag


def test_render_adds_the_section_to_the_card(tmp_path) -> None:
    bundled = json.loads((Path(__file__).parents[2] / "models" / "segmenter_card.json").read_text())
    bundled.pop("kfold", None)  # start from the card as the bundled model's own evaluation writes it
    card = tmp_path / "segmenter_card"
    card.with_suffix(".json").write_text(json.dumps(bundled))
    before = card_markdown(bundled)
    assert "Cross-validation of the recipe" not in before and "fold runs evaluated so far: none of 4" in before
    path = tmp_path / "report.json"
    path.write_text(json.dumps(_report(3, [0.6, 0.7])))
    segmenter_kfold.add(path, tmp_path / "folds")
    segmenter_kfold.render(card, tmp_path / "folds")
    md = card.with_suffix(".md").read_text()
    assert "Folds evaluated: 3 of 4" in md and "| BraTS, all four | 2 | 0.650 +- 0.071 |" in md
    assert "fold runs evaluated so far: 3 of 4" in md
    assert "| lgg-flair, FLAIR only | 1 | 0.500 +- 0.000 | - | - | 5.0 +- 0.0 | 100 % | 2.0 | 0.900 +- 0.000 |" in md
    assert "with <= 1 ml of tumour: 1 of 2. Of the 1 others, 0 carried the 'possible false alarm' warning." in md
    if bundled["per_case"]:  # a bundled fold model's own test rows (the final model has none)
        widths = [line.split("|")[4] for line in md.splitlines() if line.startswith("| brats / all four | ")]
        assert widths and float(widths[0]) > 0  # the volume range's width is reported beside its coverage
    assert json.loads(card.with_suffix(".json").read_text())["kfold"]["summary"]["folds"] == [3]


@pytest.mark.parametrize(("change", "message"), [({"fold": -1}, "not of a k-fold run"),
                                                ({"init": "bundled"}, "warm-started")])
def test_reports_that_are_not_recipe_folds_are_refused_with_exit_code_2(tmp_path, capsys, change, message) -> None:
    report = _report(1, [0.5])
    report["training"].update(change)  # the all-patient run; the bundled model's warm-started fold 0
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    assert segmenter_kfold.main(["add", str(path), "--folds-dir", str(tmp_path / "folds")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "folds").exists()


def test_the_final_model_card_points_to_the_cross_validation_for_held_out_figures(tmp_path) -> None:
    """--fold -1 trains on every patient but validation: no test rows, and the card must not pretend otherwise."""
    from brainlens.training.evaluate_segmenter import REGIONS, _summary

    report = json.loads((Path(__file__).parents[2] / "models" / "segmenter_card.json").read_text())
    report["training"].update(fold=-1, init=None)
    for source in report["split"].values():
        source["test"] = []
    report["per_case"] = []
    report["grades"].pop("test", None)
    report["summary"] = {f"brats / {c}": _summary([], REGIONS) for c in ("all four", "FLAIR only", "T1c only")}
    assert report["summary"]["brats / all four"] == {"n": 0}
    md = card_markdown(report)
    assert "This is the **final model** (`--fold -1`)" in md and "This model is **fold" not in md
    assert "No BraTS test patients in this run: see the cross-validation section." in md
    assert "Not evaluated (no lgg-flair test patients in this run)." in md
    assert "This model has no test patients of its own." in md and "Initialised from: scratch." in md
    assert "nan" not in md and "Cross-validation of the recipe" in md  # the k-fold section carries the figures
    assert "| (no test patients in this run: the cross-validation section pools them) |" in md  # not an empty table


def test_the_fold_sharing_the_bundled_test_patients_is_compared_patient_for_patient(tmp_path) -> None:
    bundled = json.loads((Path(__file__).parents[2] / "models" / "segmenter_card.json").read_text())
    # a bundled model of fold 2 (whatever is bundled now) with two BraTS test patients and one healthy head
    bundled["training"].update(fold=2, init="bundled")
    template = {"true_wt_ml": 10.0, "pred_wt_ml": 9.0, "wt_range_ml": [8.0, 11.0], "fp_ml_beyond_10mm": 0.0,
                "uncertainty_auroc": 0.8, "disagreement": 0.1, "seconds": 10.0, "brain_extraction": "own foreground",
                "hd95_tumor_core": 5.0, "hd95_enhancing_tumor": 5.0}
    bundled["per_case"] = [{**template, **_row(case, "brats", "all four", wt)}
                           for case, wt in (("Brats18_A", 0.9), ("Brats18_B", 0.7))]
    bundled["healthy"] = {"MNI152": {"tumour_ml": 3.0, "finding": "tumour detected"}}
    report = _report(2, [])
    # the fold run scored one of the bundled model's patients and one the bundled model did not
    report["per_case"] = [_row("Brats18_B", "brats", "all four", 0.5), _row("Brats18_C", "brats", "all four", 0.1)]
    report["classifier_fold_models"] = {"2": "/runs/classifier-A3/efflite0", "1": "/runs/classifier-B8/efflite0"}
    report["healthy"] = {"MNI152": {"tumour_ml": 0.0, "finding": "no tumour detected"}}
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    segmenter_kfold.add(path, tmp_path / "folds")
    card = tmp_path / "segmenter_card"
    card.with_suffix(".json").write_text(json.dumps(bundled))
    segmenter_kfold.render(card, tmp_path / "folds")
    md = card.with_suffix(".md").read_text()
    version = bundled["model"]["version"]
    assert "| BraTS, all four | 1 | 0.700 / 0.350 / 0.175 | 0.500 / 0.250 / 0.125 |" in md  # Brats18_B only
    assert "with <= 1 ml of tumour: bundled 0 of 1, k-fold fold 2 1 of 1." in md
    assert f"bundled {version}: Dice WT / TC / ET" in md
    assert "| fold 1: classifier-B8; fold 2: classifier-A3 |" in md  # which classifiers gave the second opinion
