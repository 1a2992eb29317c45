"""Viewer speed, run by hand (not a test): start-up to first window, demo load, slice scrolling rate.

    .venv/bin/python benchmarks/bench_viewer.py [--study PATH] [--steps 200]

Offscreen unless DISPLAY is set. Scrolling is measured as scene cursor steps in the axial plane with the
three ortho views redrawing (what a wheel turn does), events processed after each step.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("BRAINLENS_SETTINGS_DIR", tempfile.mkdtemp(prefix="brainlens-bench-"))
if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from first_window import first_window  # noqa: E402 -- benchmarks/ is on sys.path when run as a script


def scroll_rate(window, app, steps: int) -> float:
    scene = window.scene_model
    n = scene.base.canonical.shape[2]
    scene.set_cursor_voxel([*scene.cursor_voxel()[:2], 0])
    app.processEvents()
    t0 = time.perf_counter()
    for i in range(steps):
        scene.move_slice("axial", 1 if (i // (n - 1)) % 2 == 0 else -1)
        app.processEvents()
    return steps / (time.perf_counter() - t0)


def timed_load(window, app, opener) -> float:
    t0 = time.perf_counter()
    opener()
    if not window.wait_for_load(600_000) or window.last_error:
        raise SystemExit(f"load failed: {window.last_error}")
    app.processEvents()
    return time.perf_counter() - t0


def plane_redraw_ms(window, app, steps: int = 100) -> float:
    """Milliseconds per axial step of one 256 x 256 plane with a label and a heatmap overlay visible, paint
    included (single-plane layout, so the number is per plane)."""
    import numpy as np

    from brainlens.core.volume import Study, Volume
    from brainlens.jobs.tasks import prepare_study

    rng = np.random.default_rng(0)
    data = rng.normal(500, 80, (256, 256, 120)).astype(np.float32)
    loaded = prepare_study(Study([Volume(data, np.diag([0.9, 0.9, 1.2, 1.0]), "bench")], Path("bench")),
                           lambda *a: None, lambda: False)
    window._show_study(loaded, None)
    base = window.scene_model.base
    labels = np.zeros(data.shape, np.uint8)
    labels[80:160, 90:170, :] = 1
    labels[100:140, 110:150, :] = 4
    window.scene_model.add_label_layer("labels", labels, base)
    window.scene_model.add_heatmap_layer("heat", rng.random(data.shape, dtype=np.float32), base, threshold=0.2)
    window.set_layout_mode("axial")
    size = window.size()
    window.resize(1024, 700)  # the smallest screen the viewer is checked at; paint cost grows with the view
    view = window.ortho.views["axial"]
    app.processEvents()
    scene = window.scene_model
    scene.set_cursor_voxel([128, 128, 0])
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(steps):
        scene.move_slice("axial", 1 if (i // 100) % 2 == 0 else -1)
        view.viewport().repaint()
    ms = (time.perf_counter() - t0) / steps * 1000
    cpu_ms = (time.process_time() - c0) / steps * 1000  # steadier than wall time on a busy machine
    print(f"  (axial view {view.width()} x {view.height()} px; CPU time {cpu_ms:.2f} ms per step)")
    window.set_layout_mode("ortho")
    window.resize(size)
    return ms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", help="also measure a real study (file or folder)")
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()

    secs, heavy, _ = first_window(trace_imports=False)
    print(f"start-up to first window: {secs:.2f} s (torch/monai imported: {heavy})")

    from PySide6.QtWidgets import QApplication

    from brainlens.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    window = MainWindow(show_dialogs=False)
    window.resize(1500, 940)
    window.show()
    print(f"demo phantom load (build + prepare + display): {timed_load(window, app, window.open_demo):.2f} s")
    print(f"axial scrolling, ortho layout, phantom {window.scene_model.base.canonical.shape}: "
          f"{scroll_rate(window, app, args.steps):.0f} slices/s")
    print(f"one 256 x 256 plane with a label and a heatmap overlay: {plane_redraw_ms(window, app):.2f} ms "
          "per slice step (paint included; target <= 8 ms)")
    if args.study:
        secs = timed_load(window, app, lambda: window.open_path(args.study))
        base = window.scene_model.base
        print(f"open {args.study}: {secs:.2f} s, {len(window.scene_model.series)} series, "
              f"shown {base.canonical.shape} {base.canonical.data.dtype}, {len(window.scene_model.layers)} layers")
        print(f"axial scrolling, ortho layout, study: {scroll_rate(window, app, args.steps):.0f} slices/s")
    window.close()


if __name__ == "__main__":
    main()
