"""AI job functions (no Qt): the model cache loads once, an absent device falls back with a note, bad input
is one line, the study verdict and the slice classification run on the bundled classifier."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from brainlens.core.errors import InputError
from brainlens.core.geometry import to_canonical
from brainlens.core.phantom import make_head_phantom
from brainlens.jobs import ai_tasks


def test_cache_loads_each_model_once_even_when_asked_twice_at_once():
    cache = ai_tasks.ModelCache()
    calls = []

    def load():
        calls.append(1)
        return object()

    got = []
    threads = [threading.Thread(target=lambda: got.append(cache.get(("m", "cpu"), load))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len({id(g) for g in got}) == 1 and ("m", "cpu") in cache


def test_absent_device_falls_back_and_says_so():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("CUDA present: nothing to fall back from")
    dev, note = ai_tasks.resolve_device("cuda")
    assert dev.type in ("cpu", "mps") and "CUDA" in note and "using" in note
    assert ai_tasks.resolve_device("cpu") == (torch.device("cpu"), None)


def test_segment_without_sequences_is_one_line():
    with pytest.raises(InputError, match="assign them first"):
        ai_tasks.segment_study({}, ai_tasks.ModelCache())


def test_slice_classification_puts_gradcam_on_the_source_grid():
    from brainlens.ml.registry import get_entry

    assert get_entry("brainresnet").kind == "classifier"  # the bundled model missing is a failure, not a skip
    vol = make_head_phantom(shape=(48, 56, 48), spacing_mm=2.5, orientation="LPS").by_sequence()["t1ce"]
    _, reo = to_canonical(vol)
    cache = ai_tasks.ModelCache()
    res = ai_tasks.classify_slice(vol, reo, "axial", 30, cache, device="cpu")
    assert abs(sum(res.result["probabilities"].values()) - 1) < 1e-3
    assert res.heatmap.shape == vol.shape and res.heatmap.max() > 0
    canon = reo.apply(res.heatmap)
    assert np.count_nonzero(canon[:, :, [i for i in range(48) if i != 30]]) == 0  # only the classified slice
    from brainlens.ml.classifier_default import default_classifier

    assert ("classifier", default_classifier(), "cpu") in cache


def test_study_classification_stacks_gradcam_of_its_driving_slices():
    from brainlens.ml.registry import get_entry

    assert get_entry("brainresnet").kind == "classifier"  # the bundled model missing is a failure, not a skip
    vol = make_head_phantom(shape=(48, 56, 40), spacing_mm=3.0, orientation="LPS").by_sequence()["t1ce"]
    res = ai_tasks.classify_study(vol, ai_tasks.ModelCache(), device="cpu")
    driving = res.summary["driving_slices"][:ai_tasks.STACKED_CAM_SLICES]
    assert res.summary["label"] and res.summary["n_slices"] == 40 and res.plane == "axial"
    if driving:
        _, reo = to_canonical(vol)
        canon = reo.apply(res.heatmap)
        lit = {int(k) for k in np.flatnonzero(canon.reshape(-1, canon.shape[2]).max(axis=0) > 0)}
        assert lit <= set(driving) and lit


def test_study_verdict_without_a_study_rule_keeps_the_slice_summary(tmp_path, monkeypatch):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "classifier_fixtures", Path(__file__).resolve().parents[1] / "ml" / "classifier_fixtures.py")
    fixtures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixtures)
    monkeypatch.setenv("BRAINLENS_MODELS", str(fixtures.export_random_classifier(tmp_path)))  # brainresnet only
    vol = make_head_phantom(shape=(32, 40, 24), spacing_mm=4.0).by_sequence()["t1ce"]
    res = ai_tasks.classify_study(vol, ai_tasks.ModelCache(), device="cpu")  # default: brainresnet here
    assert res.summary["plane"] == "axial" and res.plane == "axial"
    assert "no study-level rule" in res.summary["notes"][0]
    assert res.summary["method"] == "slice summary" and res.summary["label"]


def test_the_windows_standard_uncertainty_setting_uses_the_validated_sample_count() -> None:
    # the detection rule, uncertainty flag and volume ranges were fitted with ml.segment's sample count; the window
    # must find what `brainlens segment` finds on the same study
    from brainlens.jobs.ai_tasks import SAMPLES
    from brainlens.ml.segment import DEFAULT_SAMPLES

    assert SAMPLES["fast"] == DEFAULT_SAMPLES
    assert SAMPLES["thorough"] > DEFAULT_SAMPLES
