"""Architecture checks: import layers (import-linter contracts in pyproject.toml) and a light GUI start-up."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "monai", "torchvision", "pytorch_grad_cam")


def _lint_imports() -> str | None:
    exe = Path(sys.executable).parent / ("lint-imports.exe" if os.name == "nt" else "lint-imports")
    return str(exe) if exe.exists() else shutil.which("lint-imports")


def test_import_layers_hold() -> None:
    pytest.importorskip("importlinter", reason="import-linter is in the [test] extra")
    exe = _lint_imports()
    assert exe, "lint-imports executable not found next to the interpreter"
    proc = subprocess.run([exe, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout and "KEPT" in proc.stdout


def _modules_loaded_by(module: str) -> set[str]:
    code = (f"import sys, importlib; importlib.import_module({module!r}); "
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    return set(proc.stdout.split())


@pytest.mark.parametrize("module", ["brainlens.gui.app", "brainlens.cli", "brainlens.ml.registry"])
def test_light_modules_do_not_import_torch(module: str) -> None:
    loaded = _modules_loaded_by(module)
    assert "brainlens" in loaded  # the probe really imported something
    heavy = sorted(loaded.intersection(HEAVY))
    assert not heavy, f"importing {module} pulls in {heavy}; import them inside the job/function instead"
