"""GUI entry point: ``run_gui(args)`` for ``brainlens [PATH] [--demo] [--screenshot FILE] [--layout ...]``.

Keeps start-up light: only Qt, pyqtgraph, numpy and our own modules are imported on the way to the first
window (torch/MONAI are imported inside jobs, on workers).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from brainlens.core.errors import InputError, LoadError
from brainlens.io.publish import check_out_file


def _headless() -> bool:
    return sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _close_on_ctrl_c(window) -> None:
    """Ctrl+C in the terminal closes the window normally (settings saved, jobs cancelled).

    Python only sees the signal when it runs, so a timer wakes it a few times a second.
    """
    from PySide6.QtCore import QTimer

    signal.signal(signal.SIGINT, lambda *_: window.close())
    timer = QTimer(window)
    timer.timeout.connect(lambda: None)
    timer.start(250)


def _quiet_offscreen_notices() -> None:
    """The offscreen platform plugin warns about window hints it cannot honour; the CLI promises one line
    on stderr, so those notices are dropped and every other Qt message still goes through."""
    from PySide6.QtCore import qInstallMessageHandler

    previous = None

    def handler(mode, context, message: str) -> None:
        if "does not support propagateSizeHints" in message:
            return
        if previous is not None:
            previous(mode, context, message)
        else:
            sys.stderr.write(message + "\n")

    previous = qInstallMessageHandler(handler)


def run_headless(window, runs: list[str], export: str | None) -> None:
    """``--run`` and ``--export``: the AI menu's own controller code, waited for, errors as InputError."""
    analysis = window.analysis
    if window.analysis.is_single_image() and analysis.jobs.get("classify_slice"):
        analysis.wait(analysis.jobs["classify_slice"])  # an opened PNG/JPG is classified at once
    for what in runs:
        analysis.wait(analysis.run(what))
        if analysis.last_error:
            raise InputError(f"--run {what}: {analysis.last_error}")
    if export:
        from brainlens.gui.export import start_export

        analysis.wait(start_export(analysis, Path(export).expanduser()))
        if analysis.last_error:
            raise InputError(f"--export: {analysis.last_error}")
        sys.stderr.write(f"exported {', '.join(p.name for p in analysis.exported)} to {export}\n")
        for note in analysis.export_notes:
            sys.stderr.write(f"note: {note}\n")


def run_gui(args: Any) -> int:
    """Open the viewer; with ``args.screenshot`` render offscreen, save a PNG and return 0."""
    screenshot = getattr(args, "screenshot", None)
    export = getattr(args, "export", None)
    runs = list(getattr(args, "run", None) or [])
    if runs and not (screenshot or export):
        raise InputError("--run needs --screenshot FILE or --export DIR (it runs offscreen before them)")
    target = Path(screenshot).expanduser() if screenshot else None
    if target is not None:
        check_out_file(target, "--screenshot")  # a folder, a device or an unwritable place: refused up front
    offscreen = bool(screenshot or export)
    if offscreen:
        if _headless():
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
    from brainlens.gui.system_libs import xcb_problem  # before Qt: its own failure names no package

    problem = xcb_problem()
    if problem:
        raise InputError(problem)

    from PySide6.QtWidgets import QApplication

    if os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        _quiet_offscreen_notices()
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "brainlens"])
    app.setOrganizationName("BrainLens")
    app.setApplicationName("BrainLens")
    from brainlens.gui.resources import app_icon

    app.setWindowIcon(app_icon())

    from brainlens.gui.main_window import MainWindow

    window = MainWindow(show_dialogs=not offscreen)
    if getattr(args, "layout", None):
        window.set_layout_mode(args.layout)
    if offscreen:
        window.resize(1500, 940)
    window.show()
    if getattr(args, "demo", False):
        window.open_demo()
    elif getattr(args, "path", None):
        window.open_path(args.path)
    if not offscreen:
        _close_on_ctrl_c(window)
        return int(app.exec())
    try:
        if not window.wait_for_load():
            raise LoadError("timed out while opening the study for the screenshot")
        if window.last_error:
            raise LoadError(window.last_error)
        window.ortho.reset_views()
        run_headless(window, runs, export)
        if target is not None:
            window.statusBar().clearMessage()  # a transient message would be drawn over the cursor readout
            try:
                window.save_screenshot(target, whole_window=True)
            except OSError as exc:
                raise InputError(f"--screenshot {target}: {exc.strerror or exc}") from None
        return 0
    finally:
        window.close()
        window.deleteLater()
        app.processEvents()
