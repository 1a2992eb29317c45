"""Frozen-app entry point: the same `brainlens.cli.main` as the pip console script.

A windowed executable (Windows/macOS GUI) has no stdout/stderr; give them somewhere to go so a one-line
error or a late traceback does not itself crash the app.
"""

import multiprocessing
import os
import sys
import tempfile


def _ensure_streams() -> None:
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    if sys.stderr is None:
        log = os.path.join(tempfile.gettempdir(), "brainlens-gui.log")
        sys.stderr = open(log, "a", encoding="utf-8", buffering=1)  # noqa: SIM115


if __name__ == "__main__":
    multiprocessing.freeze_support()  # torch / DataLoader workers in a frozen Windows app
    _ensure_streams()
    from brainlens.cli import main

    raise SystemExit(main())
