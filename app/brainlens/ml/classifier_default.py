"""Which bundled classifier is the default (reads the manifest only: safe to import on the GUI thread)."""

from __future__ import annotations

from pathlib import Path

# Preference order: the pretrained EfficientNet-Lite0 (it carries the study-level rule), then the compact
# ResNet of the first release.
DEFAULT_CLASSIFIERS = ("efflite0", "brainresnet")


def default_classifier(directory: Path | str | None = None) -> str:
    """The first of DEFAULT_CLASSIFIERS the models folder holds (the last one when none is readable)."""
    from brainlens.ml.registry import load_manifest

    try:
        present = load_manifest(directory)
    except Exception:  # noqa: BLE001 -- a broken manifest is reported when a model loads, not here
        return DEFAULT_CLASSIFIERS[-1]
    return next((n for n in DEFAULT_CLASSIFIERS if n in present), DEFAULT_CLASSIFIERS[-1])
