"""The bundled classifiers: load with their hash checked, refuse a tampered copy, flag non-MR inputs.

Skipped (with the reason) until models/manifest.json lists them (brainlens.training.evaluate_classifier).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from classifier_fixtures import head_like, require_bundled

from brainlens.core.errors import ModelError
from brainlens.ml.classifier_engine import load_classifier
from brainlens.ml.classifier_models import CLASS_NAMES
from brainlens.ml.classify import classify, classify_many
from brainlens.ml.gradcam import gradcam
from brainlens.ml.registry import get_entry, sha256_file


@pytest.fixture(scope="module")
def clf():
    torch.set_num_threads(1)
    return load_classifier("brainresnet", device="cpu", directory=require_bundled("brainresnet"))


@pytest.mark.parametrize("name", ["brainresnet", "gbmnet"])
def test_bundled_model_loads_with_verified_hash_and_calibration(name: str) -> None:
    models = require_bundled(name)
    entry = get_entry(name, models)
    assert sha256_file(models / entry.file) == entry.sha256
    clf = load_classifier(name, device="cpu", directory=models)
    assert clf.labels == CLASS_NAMES and clf.ood is not None
    assert 0.05 < clf.temperature < 10 and 0 < clf.entropy_threshold <= np.log(4)
    assert np.isfinite(clf.ood_threshold) and clf.ood_threshold > 0


@pytest.mark.parametrize("name", ["brainresnet", "gbmnet"])
def test_tampered_copy_is_refused(name: str, tmp_path) -> None:
    models = require_bundled(name)
    copy = tmp_path / "models"
    shutil.copytree(models, copy)
    weights = copy / get_entry(name, copy).file
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit in the middle of the tensors
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="integrity"):
        load_classifier(name, device="cpu", directory=copy)


def test_ood_fires_on_blank_and_noise_but_not_on_a_head(clf) -> None:
    rng = np.random.default_rng(0)
    blank = classify(np.zeros((224, 224), np.uint8), clf)
    noise = classify_many([rng.integers(0, 256, (224, 224)).astype(np.uint8) for _ in range(3)]
                          + [np.clip(rng.normal(128, 40, (224, 224)), 0, 255).astype(np.uint8)], clf)
    assert blank.ood and all(r.ood for r in noise)
    assert blank.display_label == "not a brain MR slice?"


def test_gradcam_map_has_the_input_shape(clf) -> None:
    img = np.pad(head_like(200), ((10, 30), (5, 60)))
    res = classify(img, clf)
    heat, k = gradcam(img, clf, target=res.label)
    assert heat.shape == img.shape and CLASS_NAMES[k] == res.label
    assert heat.max() > 0
