"""Packaging: the wheel carries models/ where models_dir() finds them; packaging scripts are sound."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from brainlens.ml import registry

REPO = Path(__file__).resolve().parents[1]
PACKAGING = REPO / "packaging"


def _verify_module():
    spec = importlib.util.spec_from_file_location("verify_models", PACKAGING / "verify_models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("hatchling")
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (path,) = out.glob("brainlens-*.whl")
    return path


def test_wheel_contains_manifest_and_every_model(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        bundled = json.loads(zf.read("brainlens/_bundled/models/manifest.json"))
    assert "brainlens/ml/registry.py" in names
    for entry in bundled["models"]:
        assert f"brainlens/_bundled/models/{entry['file']}" in names, entry["name"]


def test_installed_wheel_finds_its_bundled_models(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    env = {k: v for k, v in os.environ.items() if k != "BRAINLENS_MODELS"}
    env["PYTHONPATH"] = str(site)  # ahead of the editable install's path entry
    code = ("import brainlens, sys; from brainlens.ml.registry import models_dir, load_manifest; "
            "print(brainlens.__file__); print(models_dir()); print(sorted(load_manifest())); "
            "print('torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    package_file, models, names, torch_loaded = proc.stdout.split("\n")[:4]
    assert Path(package_file).resolve().is_relative_to(site.resolve())
    assert Path(models).resolve() == (site / "brainlens" / "_bundled" / "models").resolve()
    assert torch_loaded == "False"  # listing models stays light
    shipped = json.loads((site / "brainlens/_bundled/models/manifest.json").read_text())
    assert names == str(sorted(m["name"] for m in shipped["models"]))


def test_packaging_scripts_parse() -> None:
    for name in ("brainlens.spec", "brainlens_entry.py", "verify_models.py"):
        ast.parse((PACKAGING / name).read_text(encoding="utf-8"), filename=name)
    spec = (PACKAGING / "brainlens.spec").read_text(encoding="utf-8")
    assert "brainlens/_bundled/models" in spec and "brainlens/_bundled/resources" in spec
    iss = (PACKAGING / "brainlens.iss").read_text(encoding="utf-8")
    assert "dist\\BrainLens" in iss and "BrainLens.exe" in iss
    if os.name != "nt":
        proc = subprocess.run(["bash", "-n", str(PACKAGING / "build.sh")], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def test_verify_models_flags_tampering_and_strays(tmp_path: Path) -> None:
    verify = _verify_module()
    registry.write_weights({"w": torch.ones(3)}, "m", "1", "segmenter", {}, ["bg", "fg"], {},
                           directory=tmp_path)
    assert verify.verify(tmp_path) == []
    (tmp_path / "old.safetensors").write_bytes(b"x")
    (tmp_path / "m.features.onnx").write_bytes(b"x")  # an export the manifest no longer lists
    weights = tmp_path / "m.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x01")
    problems = verify.verify(tmp_path)
    assert any("SHA-256 mismatch" in p for p in problems)
    assert any(p.startswith("old.safetensors is not in manifest.json") for p in problems)
    assert any(p.startswith("m.features.onnx is not in manifest.json") for p in problems)
    assert verify.main(["verify_models.py", str(tmp_path)]) == 1
