"""segment(): sequence selection, same-patient checks, source-grid outputs, uncertainty, cancel.

The network here has random weights written through the real registry (so loading, SHA-256 check,
preprocessing, sliding window, uncertainty and mapping back all run for real); accuracy is measured
by training/evaluate_segmenter.py, not here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from brainlens.core.errors import Cancelled, InputError
from brainlens.core.phantom import make_head_phantom
from brainlens.core.volume import Volume

torch = pytest.importorskip("torch")
pytest.importorskip("monai")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from brainlens.ml.registry import write_weights
    from brainlens.ml.seg_model import CHANNELS, MODEL_NAME, PATCH, REGIONS, build_model

    directory = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    write_weights(build_model().state_dict(), MODEL_NAME, "test", "segmenter",
                  {"spacing_mm": [2, 2, 2], "channels": list(CHANNELS), "patch": list(PATCH)}, list(REGIONS),
                  {"init_filters": 8, "dropout": 0.1}, directory=directory)
    return directory


@pytest.fixture(scope="module")
def study():
    return make_head_phantom(shape=(48, 56, 48), spacing_mm=2.5, orientation="LPS")


def test_all_sequences_give_source_grid_mask_and_uncertainty(study, model_dir: Path) -> None:
    from brainlens.ml.segment import segment

    seen: list[float] = []
    result = segment(study, progress=lambda f, m: seen.append(f), samples=2, device="cpu", model_dir=model_dir)
    flair = study.by_sequence()["flair"]
    assert result.reference == "flair" and result.missing_sequences == []
    assert result.mask.shape == flair.shape and np.array_equal(result.mask.affine, flair.affine)
    assert result.mask.data.dtype == np.uint8 and set(np.unique(result.mask.data)) <= {0, 1, 2, 4}
    assert result.uncertainty.data.dtype == np.float32 and result.uncertainty.shape == flair.shape
    assert 0.0 <= float(result.uncertainty.data.min()) and float(result.uncertainty.data.max()) <= 1.0
    assert seen and seen == sorted(seen) and seen[-1] == 1.0
    for name in ("whole_tumor", "tumor_core", "enhancing_tumor"):
        lo, hi = result.regions[name]["volume_ml_range"]
        assert 0.0 <= lo <= hi
    doc = result.to_json("phantom")
    assert json.loads(json.dumps(doc)) == doc  # plain JSON types all the way down
    assert doc["sequences_used"] == ["flair", "t1", "t1ce", "t2"] and doc["device"].startswith("cpu")


def test_flair_only_runs_and_warns(study, model_dir: Path) -> None:
    from brainlens.ml.segment import segment

    flair = study.by_sequence()["flair"]
    result = segment([flair], samples=1, device="cpu", model_dir=model_dir)
    assert result.sequences_used == ["flair"]
    assert result.missing_sequences == ["t1", "t1ce", "t2"]
    assert any("missing" in w for w in result.warnings)
    assert result.mask.shape == flair.shape


def test_no_usable_sequence_is_an_input_error(model_dir: Path) -> None:
    from brainlens.ml.segment import segment

    vol = Volume(np.zeros((10, 10, 10), np.float32), np.eye(4), sequence=None)
    with pytest.raises(InputError, match="no usable sequence"):
        segment([vol], model_dir=model_dir)


def test_a_single_slice_is_refused(model_dir: Path) -> None:
    from brainlens.ml.segment import segment

    flat = Volume(np.ones((64, 64, 1), np.float32), np.eye(4), sequence="flair")
    with pytest.raises(InputError, match="3D"):
        segment([flat], model_dir=model_dir)


def test_different_patients_and_disjoint_space_are_refused(study, model_dir: Path) -> None:
    from brainlens.ml.segment import segment

    seqs = study.by_sequence()
    a = Volume(seqs["flair"].data, seqs["flair"].affine, sequence="flair", metadata={"patient_hash": "aaa"})
    b = Volume(seqs["t1"].data, seqs["t1"].affine, sequence="t1", metadata={"patient_hash": "bbb"})
    with pytest.raises(InputError, match="different patients"):
        segment([a, b], model_dir=model_dir)
    far = seqs["t2"].affine.copy()
    far[:3, 3] += 500.0
    c = Volume(seqs["t2"].data, far, sequence="t2")
    with pytest.raises(InputError, match="do not overlap"):
        segment({"flair": seqs["flair"], "t2": c}, model_dir=model_dir)


def test_cancel_stops_between_windows(study, model_dir: Path) -> None:
    from brainlens.ml.segment import segment

    with pytest.raises(Cancelled):
        segment(study, cancel=lambda: True, samples=1, device="cpu", model_dir=model_dir)


