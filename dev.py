#!/usr/bin/env python3
"""One entry point for newcomers and CI, the same on Linux, macOS and Windows.

    python3 dev.py run     # create .venv, install BrainLens, start it on the built-in demo study
    python3 dev.py test    # create .venv, install BrainLens with test tools, run the test suite

Extra arguments after `run` go to `brainlens` (e.g. `python3 dev.py run path/to/study`); after `test`
they go to pytest.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def _python() -> str:
    return str(BIN / ("python.exe" if os.name == "nt" else "python"))


def _setup(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs under whatever python3 the user has
        sys.exit(f"BrainLens needs Python 3.11 or newer (this is {sys.version.split()[0]})")
    if not Path(_python()).exists():
        print(f"creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    spec = f".[{extras}]" if extras else "."
    subprocess.run([_python(), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-e", spec],
                   cwd=ROOT, check=True)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("run", "test"):
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "run":
        _setup("")
        return subprocess.call([_python(), "-m", "brainlens", *(rest or ["--demo"])], cwd=ROOT)
    _setup("test")
    return subprocess.call([_python(), "-m", "pytest", *rest], cwd=ROOT)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
