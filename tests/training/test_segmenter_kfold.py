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
        path = tmp_path / f"report{fold}.json"
        path.write_text(json.dumps(_report(fold, wts)))
        segmenter_kfold.add(path, tmp_path / "folds")
    records = segmenter_kfold.load_records(tmp_path / "folds")
    assert [r["fold"] for r in records] == [1, 2]
    assert "components" not in records[0]["rows"][0]  # only what the card needs is kept
    s = segmenter_kfold.summary(records)
    wt = s["brats / all four / dice_whole_tumor"]
    assert wt["n"] == 3 and wt["mean"] == pytest.approx(0.8)  # three patients, not the mean of two fold means
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
    assert "| lgg-flair, FLAIR only | 1 | 0.500 +- 0.000 | - | - | 5.0 +- 0.0 | 100 % |" in md
    assert "with <= 1 ml of tumour: 1 of 2. Of the 1 others, 0 carried the 'possible false alarm' warning." in md
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


def test_the_fold_sharing_the_bundled_test_patients_is_compared_patient_for_patient(tmp_path) -> None:
    bundled = json.loads((Path(__file__).parents[2] / "models" / "segmenter_card.json").read_text())
    fold = bundled["training"]["fold"]
    ours = [x for x in bundled["per_case"] if x["source"] == "brats" and x["config"] == "all four"]
    report = _report(fold, [])
    # the fold run scored the bundled model's first two BraTS test patients and one patient the bundled did not
    report["per_case"] = [_row(x["case"], "brats", "all four", 0.5) for x in ours[:2]] \
        + [_row("Brats18_elsewhere", "brats", "all four", 0.9)]
    report["classifier_fold_models"] = {"2": "/runs/classifier-A3/efflite0", "1": "/runs/classifier-B8/efflite0"}
    name = next(iter(bundled["healthy"]))
    report["healthy"] = {name: {"tumour_ml": 0.0, "finding": "no tumour detected"}}
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    segmenter_kfold.add(path, tmp_path / "folds")
    card = tmp_path / "segmenter_card"
    card.with_suffix(".json").write_text(json.dumps(bundled))
    segmenter_kfold.render(card, tmp_path / "folds")
    md = card.with_suffix(".md").read_text()
    expected = sum(x["dice_whole_tumor"] for x in ours[:2]) / 2  # only the patients both scored
    line = next(x for x in md.splitlines() if x.startswith("| BraTS, all four | 2 | "))
    assert line.split(" | ")[2].startswith(f"{expected:.3f} / ") and line.endswith("| 0.500 / 0.250 / 0.125 |")
    clean = int(bundled["healthy"][name]["tumour_ml"] <= 1.0)
    assert f"with <= 1 ml of tumour: bundled {clean} of 1, k-fold fold {fold} 1 of 1." in md
    assert "| fold 1: classifier-B8; fold 2: classifier-A3 |" in md  # which classifiers gave the second opinion
