"""models/manifest.json is checked against its schema before any entry is used: one line per violation."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from brainlens.core.errors import ModelError
from brainlens.ml.registry import get_entry, load_manifest, models_dir


def _copy_with(tmp_path: Path, text: str) -> Path:
    for weights in models_dir().glob("*.safetensors"):
        (tmp_path / weights.name).symlink_to(weights)
    (tmp_path / "manifest.json").write_text(text)
    return tmp_path


def _edited(section: str | None, key: str, value) -> str:
    doc = json.loads((models_dir() / "manifest.json").read_text())
    for entry in doc["models"]:
        (entry if section is None else entry.setdefault(section, {}))[key] = value
    return json.dumps(doc)


def test_bundled_manifest_passes() -> None:
    entries = load_manifest()
    assert {"brainresnet", "segresnet_brats_2mm"} <= set(entries)


@pytest.mark.parametrize("section, key, value, fragment", [
    ("extra", "temperature", "abc", "extra.temperature must be a number"),
    ("extra", "temperature", float("nan"), "extra.temperature"),
    ("extra", "mc_samples", -5, "extra.mc_samples must be a whole number in 1..256"),
    ("extra", "mc_samples", 10**9, "extra.mc_samples"),
    ("extra", "init_filters", 10**6, "extra.init_filters"),
    ("extra", "dropout", 5, "extra.dropout"),
    ("input", "size", [10**9, 10**9], "input.size"),
    (None, "file", "../../etc/passwd", "'file' must be a file name inside the models folder"),
    (None, "file", "/dev/zero", "'file' must be a file name"),
    (None, "labels", "glioma", "'labels' must be a list"),
    (None, "extra", [1, 2], "'extra' must be an object"),
    (None, "sha256", "abc", "'sha256' must be 64 hex digits"),
    ("extra", "onnx", {"file": "../x.onnx", "sha256": "0" * 64}, "'extra.onnx' must name a file inside"),
    ("extra", "onnx", {"file": "x.onnx"}, "'extra.onnx' must name a file"),
])
def test_bad_values_are_refused_in_one_line(tmp_path, section, key, value, fragment) -> None:
    folder = _copy_with(tmp_path, _edited(section, key, value))
    with pytest.raises(ModelError, match=fragment.replace(".", r"\.")) as err:
        get_entry("brainresnet", folder)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("text, fragment", [
    ("[" * 100000 + "]" * 100000, "nested too deeply"),
    (json.dumps({"models": [{"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": 1}}}}}}}}]}), "nested deeper"),
    (json.dumps({"models": {"a": 1}}), "no list of models"),
    ("{ not json", "unreadable"),
])
def test_malformed_documents_are_refused(tmp_path, text, fragment) -> None:
    with pytest.raises(ModelError, match=fragment):
        load_manifest(_copy_with(tmp_path, text))


def test_missing_key_is_named(tmp_path) -> None:
    doc = json.loads((models_dir() / "manifest.json").read_text())
    del doc["models"][0]["sha256"]
    with pytest.raises(ModelError, match="'sha256' is missing"):
        load_manifest(_copy_with(tmp_path, json.dumps(doc)))
    shutil.rmtree(tmp_path)
