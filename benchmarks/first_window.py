"""Start-up to the first window in a fresh interpreter, shared by the viewer and AI-window benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys

STARTUP = """
import time; t0 = time.perf_counter()
from PySide6.QtWidgets import QApplication
app = QApplication([])
from brainlens.gui.main_window import MainWindow
w = MainWindow(show_dialogs=False); w.show(); app.processEvents()
import sys
print(time.perf_counter() - t0, int(any(m in sys.modules for m in ("torch", "monai"))))
"""


def first_window(trace_imports: bool = True) -> tuple[float, bool, str]:
    """(seconds to the first painted window, torch/monai imported?, their `-X importtime` lines; tracing
    imports costs some start-up time itself, so a pure timing passes trace_imports=False)."""
    trace = ["-X", "importtime"] if trace_imports else []
    proc = subprocess.run([sys.executable, *trace, "-c", STARTUP], capture_output=True, text=True,
                          check=True, env=dict(os.environ))
    seconds, torch = proc.stdout.split()
    heavy = [line for line in proc.stderr.splitlines() if line.rstrip().endswith((" torch", " monai"))]
    return float(seconds), torch == "1", "; ".join(heavy) or "no torch/monai import lines"
