"""Model registry: safetensors round trip, SHA-256 integrity check, manifest upsert, half precision."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from brainlens.core.errors import ModelError
from brainlens.ml import registry


def _state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Linear(5, 2))
    return net.state_dict()


def _write(tmp_path: Path, name: str = "tiny", half: bool = False, version: str = "1.0"):
    return registry.write_weights(_state(), name=name, version=version, kind="classifier",
                                  input={"size": [224, 224], "channels": 3}, labels=["a", "b"],
                                  extra={"temperature": 1.5}, directory=tmp_path, half=half)


def test_round_trip(tmp_path: Path) -> None:
    entry = _write(tmp_path)
    assert entry.file == "tiny.safetensors" and entry.dtype == "float32"
    assert entry.sha256 == registry.sha256_file(tmp_path / "tiny.safetensors")
    state, loaded = registry.load_weights("tiny", tmp_path)
    assert loaded == entry
    original = _state()
    assert set(state) == set(original)
    for key, value in original.items():
        assert state[key].dtype == value.dtype
        assert torch.equal(state[key], value), key
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert [m["name"] for m in manifest["models"]] == ["tiny"]
    assert manifest["models"][0]["extra"] == {"temperature": 1.5}
    assert not list(tmp_path.glob("*.tmp")) and not (tmp_path / "manifest.json.lock").exists()
    if os.name == "posix":  # readable by everyone once installed system-wide
        assert (tmp_path / "tiny.safetensors").stat().st_mode & 0o044 == 0o044
        assert (tmp_path / "manifest.json").stat().st_mode & 0o044 == 0o044


def test_tampered_copy_rejected(tmp_path: Path) -> None:
    _write(tmp_path / "orig")
    copy = tmp_path / "copy"
    shutil.copytree(tmp_path / "orig", copy)
    weights = copy / "tiny.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[len(raw) // 2] ^= 0x01  # one flipped bit inside the tensor data
    weights.write_bytes(bytes(raw))
    with pytest.raises(ModelError, match=r"model 'tiny' failed its integrity check \(SHA-256 mismatch\)"):
        registry.load_weights("tiny", copy)
    registry.load_weights("tiny", tmp_path / "orig")  # the untouched original still loads


def test_missing_file(tmp_path: Path) -> None:
    _write(tmp_path)
    (tmp_path / "tiny.safetensors").unlink()
    with pytest.raises(ModelError, match="missing"):
        registry.load_weights("tiny", tmp_path)


def test_unknown_name_lists_bundled(tmp_path: Path) -> None:
    _write(tmp_path, "beta")
    _write(tmp_path, "alpha")
    with pytest.raises(ModelError) as info:
        registry.get_entry("gamma", tmp_path)
    assert str(info.value) == "unknown model 'gamma'; bundled: alpha, beta"
    with pytest.raises(ModelError, match="bundled: none"):
        registry.get_entry("x", tmp_path / "empty")


def test_half_precision_round_trip(tmp_path: Path) -> None:
    entry = _write(tmp_path, half=True)
    assert entry.dtype == "float16"
    full = (tmp_path / "tiny.safetensors").stat().st_size
    state, _ = registry.load_weights("tiny", tmp_path)
    original = _state()
    for key, value in original.items():
        if value.is_floating_point():
            assert state[key].dtype == torch.float32
            assert torch.allclose(state[key], value, atol=1e-3, rtol=1e-3), key
        else:  # integer buffers (BatchNorm's num_batches_tracked) are stored as they are
            assert state[key].dtype == value.dtype and torch.equal(state[key], value)
    _write(tmp_path, name="tiny32")
    assert full < (tmp_path / "tiny32.safetensors").stat().st_size


def test_writing_the_same_weights_again_keeps_the_file_and_its_hash(tmp_path: Path) -> None:
    # safetensors orders the metadata keys at random: without the check each rewrite could change the hash
    first = _write(tmp_path).sha256
    assert {_write(tmp_path).sha256 for _ in range(8)} == {first}
    assert registry.sha256_file(tmp_path / "tiny.safetensors") == first
    changed = {k: v + 1 if v.is_floating_point() else v for k, v in _state().items()}
    entry = registry.write_weights(changed, name="tiny", version="1.0", kind="classifier", input={}, labels=[],
                                   extra={}, directory=tmp_path)
    assert entry.sha256 != first  # other weights are written
    state, _ = registry.load_weights("tiny", tmp_path)
    assert all(torch.equal(state[k], v) for k, v in changed.items())
    assert _write(tmp_path, version="1.1").sha256 != first  # so is another version of the same weights


def test_upsert_keeps_other_entries(tmp_path: Path) -> None:
    _write(tmp_path, "first", version="1")
    _write(tmp_path, "second", version="1")
    _write(tmp_path, "first", version="2")
    entries = registry.load_manifest(tmp_path)
    assert sorted(entries) == ["first", "second"]
    assert entries["first"].version == "2" and entries["second"].version == "1"
    rows = json.loads((tmp_path / "manifest.json").read_text())["models"]
    assert [r["name"] for r in rows] == ["first", "second"]  # updated in place, order kept


def test_corrupt_manifest_is_a_model_error(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ModelError, match="unreadable"):
        registry.load_manifest(tmp_path)


def test_bad_name_and_kind_rejected_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        registry.write_weights(_state(), "../evil", "1", "classifier", {}, [], {}, directory=tmp_path)
    with pytest.raises(ValueError):
        registry.write_weights(_state(), "ok", "1", "detector", {}, [], {}, directory=tmp_path)
    assert not list(tmp_path.iterdir())


def test_models_dir_env_and_repo_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRAINLENS_MODELS", str(tmp_path))
    assert registry.models_dir() == tmp_path
    monkeypatch.delenv("BRAINLENS_MODELS")
    package = Path(registry.__file__).resolve().parents[1]
    expected = package / "_bundled" / "models"
    if not expected.is_dir():
        expected = package.parents[1] / "models"
    assert registry.models_dir() == expected
    assert (expected / "manifest.json").is_file()
