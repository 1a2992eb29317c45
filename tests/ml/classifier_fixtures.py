"""Helpers for classifier tests: a randomly initialised classifier exported through the real registry
(so engine, hash check and CLI run end to end without the bundled weights), and the bundled-model probe."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainlens.core.phantom import phantom_slice

BUNDLED_MODELS = Path(__file__).resolve().parents[2] / "models"


def export_random_classifier(directory: Path, arch: str = "brainresnet", seed: int = 0,
                             extra: dict | None = None) -> Path:
    """Write <directory>/<arch>.safetensors + manifest with OOD statistics fitted on random-image features;
    `extra` adds manifest fields (e.g. a study_rule)."""
    import torch

    from brainlens.ml import classifier_ood
    from brainlens.ml.classifier_engine import PREPROCESS_ID, embed
    from brainlens.ml.classifier_models import CLASS_NAMES, build_model
    from brainlens.ml.registry import write_weights

    torch.manual_seed(seed)
    net = build_model(arch).eval()
    if arch == "efflite0":  # untrained, its features are ~1e-10 (outside the manifest schema's scale range):
        for m in net.modules():  # give BatchNorm real batch statistics once
            if isinstance(m, torch.nn.BatchNorm2d):
                m.reset_running_stats()
                m.momentum = None
        with torch.no_grad():
            net.train()(torch.randn(8, 1, 256, 256))
        net.eval()
    with torch.no_grad():
        feats = embed(net, torch.randn(24, 1, 256, 256)).numpy()
    ood = classifier_ood.fit(feats, np.arange(24) % 4, 4)
    extra = {"arch": arch, "temperature": 1.5, "entropy_threshold": 1.2, "ood_threshold": 1e6,
             "ood_feature_scale": ood.scale, "mc_samples": 4, **(extra or {})}
    write_weights({**net.state_dict(), **ood.to_tensors()}, arch, "test", "classifier",
                  input={"size": [256, 256], "channels": 1, "preprocess": PREPROCESS_ID},
                  labels=list(CLASS_NAMES), extra=extra, directory=directory, half=arch == "gbmnet")
    return directory


def require_bundled(name: str = "brainresnet") -> Path:
    """The repo's models/ folder; a bundled model missing from its manifest is a failure, not a skip."""
    from brainlens.ml.registry import load_manifest

    assert name in load_manifest(BUNDLED_MODELS), f"bundled model '{name}' is not in models/manifest.json"
    return BUNDLED_MODELS


head_like = phantom_slice  # the shared synthetic slice, under the name these tests use
