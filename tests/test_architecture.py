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


def test_every_torch_load_refuses_pickle() -> None:
    """Weights and resume checkpoints are loaded tensor-only (``weights_only=True``): a crafted file cannot run
    code. The check reads the source, so a new loader that forgets the flag fails here, not in review."""
    import re

    calls = []
    for path in sorted((REPO / "app" / "brainlens").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"torch\.load\(", text):
            depth, end = 1, match.end()
            while depth and end < len(text):  # the whole call, across lines and nested brackets
                depth += {"(": 1, ")": -1}.get(text[end], 0)
                end += 1
            calls.append((f"{path.relative_to(REPO)}:{text.count(chr(10), 0, match.start()) + 1}",
                          text[match.start():end]))
    assert len(calls) >= 5, "the scan found too few torch.load calls to be reading the package"
    unsafe = [where for where, call in calls if "weights_only=True" not in call]
    assert not unsafe, f"torch.load without weights_only=True (pickle) at {unsafe}"
