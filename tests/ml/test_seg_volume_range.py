"""The reported tumour-volume range: sampled spread widened by a margin chosen on validation tumours."""

import math

import pytest

from brainlens.core.errors import ModelError
from brainlens.ml.seg_uncertainty import (
    RANGE_DISAGREEMENT_FLOOR,
    conformal_margin,
    range_margin,
    range_margin_needed,
    volume_range_ml,
)
from brainlens.training.evaluate_segmenter import choose_range_margin


def test_margin_widens_the_sampled_range_on_both_sides():
    assert volume_range_ml([10.0, 10.0, 10.0, 10.0]) == [10.0, 10.0]
    lo, hi = volume_range_ml([10.0, 10.0, 10.0, 10.0], margin=0.25)
    assert lo == pytest.approx(8.0) and hi == pytest.approx(12.5)


def test_margin_needed_is_the_smallest_widening_that_covers_the_truth():
    assert range_margin_needed([8.0, 12.0], 10.0) == 0.0
    assert range_margin_needed([8.0, 12.0], 18.0) == pytest.approx(0.5)
    assert range_margin_needed([8.0, 12.0], 4.0) == pytest.approx(1.0)
    lo, hi = volume_range_ml([8.0, 12.0], margin=range_margin_needed(volume_range_ml([8.0, 12.0]), 4.0))
    assert lo == pytest.approx(4.0)
    assert math.isinf(range_margin_needed([0.0, 0.0], 5.0))  # nothing found: no widening helps
    assert range_margin_needed([0.0, 0.0], 0.0) == 0.0


def test_conformal_margin_takes_the_finite_sample_rank():
    needed = [0.1 * k for k in range(1, 20)]  # 19 studies: rank ceil(20 * 0.9) = 18
    assert conformal_margin(needed, 0.9) == pytest.approx(1.8)
    assert conformal_margin([0.3, 0.1, math.inf], 0.9) == pytest.approx(0.3)  # too few: the largest finite one
    assert conformal_margin([], 0.9) == 0.0


def test_margin_grows_with_the_samples_disagreement_and_is_checked():
    assert range_margin({}, 0.5) == 0.0
    extra = {"volume_range": {"per_disagreement": 2.0}}
    assert range_margin(extra, 0.5) == pytest.approx(1.0)
    assert range_margin(extra, 0.1) == pytest.approx(0.2)
    assert range_margin(extra, 0.0) == pytest.approx(2.0 * RANGE_DISAGREEMENT_FLOOR)  # agreeing samples: a floor
    for bad in (-1, "wide", True, 1e6):
        with pytest.raises(ModelError):
            range_margin({"volume_range": {"per_disagreement": bad}}, 0.5)


def test_evaluation_chooses_the_margin_from_validation_rows():
    rows = [{"wt_range_ml": [9.0, 11.0], "true_wt_ml": 10.0, "disagreement": 0.1},
            {"wt_range_ml": [9.0, 11.0], "true_wt_ml": 16.5, "disagreement": 0.25},  # needs 0.5 = 2 x 0.25
            {"wt_range_ml": [0.0, 0.0], "true_wt_ml": 3.0, "disagreement": 1.0}]
    chosen = choose_range_margin(rows)
    assert chosen["per_disagreement"] == pytest.approx(2.0)
    assert chosen["validation_studies"] == 2 and chosen["validation_not_detected"] == 1


def test_held_out_studies_of_the_fold_runs_join_the_calibration_of_a_model_with_few_validation_studies():
    from brainlens.training.segmenter_kfold import out_of_fold_range_scores

    # a fold run with margin 2: a study of disagreement 0.5 was shown [5, 40] = its sampled [10, 20] widened x2
    row = {"wt_range_ml": [5.0, 40.0], "true_wt_ml": 30.0, "disagreement": 0.5}
    old = {"fold": 1, "volume_range": None, "rows": [{"wt_range_ml": [1.0, 2.0], "true_wt_ml": 9.0}]}  # kept neither
    scores, folds = out_of_fold_range_scores([{"fold": 0, "volume_range": {"per_disagreement": 2.0},
                                               "rows": [row] * 20}, old])
    assert folds == [0] and scores == [pytest.approx(1.0)] * 20  # 30 / 20 - 1 = 0.5 needed, / 0.5
    # a final model's 9 validation studies: one missed tumour (a 1 ml speck of 150 ml) is the 90 % rank alone
    val = [{"wt_range_ml": [9.0, 11.0], "true_wt_ml": 10.0, "disagreement": 0.1}] * 8 \
        + [{"wt_range_ml": [0.9, 1.0], "true_wt_ml": 150.0, "disagreement": 0.45}]
    assert choose_range_margin(val)["per_disagreement"] > 300
    pooled = choose_range_margin(val, out_of_fold=(scores, folds))
    assert pooled["per_disagreement"] == pytest.approx(1.0)
    assert pooled["validation_only_per_disagreement"] > 300 and pooled["out_of_fold_studies"] == 20
    assert pooled["validation_studies"] == 29 and pooled["out_of_fold_runs"] == [0]
