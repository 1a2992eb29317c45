"""The AI loop in the window, run by hand (not a test):

- longest event-loop stall while a segmentation runs (a 5 ms QTimer heartbeat on the GUI thread),
- "Segment tumour" to the mask on screen vs `brainlens segment` (same study, same samples, same device),
- Cancel during a segmentation until the job has ended,
- redraw of one 256x256 plane with image + mask + heatmap,
- cold start to the first window, and whether torch was imported on that path (python -X importtime).

    .venv/bin/python benchmarks/bench_ai_window.py --study ../shared/data/brats/Brats18_2013_23_1 [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("BRAINLENS_SETTINGS_DIR", tempfile.mkdtemp(prefix="brainlens-bench-"))
if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from first_window import first_window  # noqa: E402 -- benchmarks/ is on sys.path when run as a script


def cli_seconds(study: str, samples: int, device: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "brainlens", "segment", study, "--samples", str(samples), "--device",
                    device], check=True, capture_output=True, env=dict(os.environ))
    return time.perf_counter() - t0


def window_run(study: str, device: str, samples_setting: str) -> tuple[list[tuple[float, float]], float]:
    """[(seconds from Segment to mask drawn, longest heartbeat gap ms)] for a cold run (the AI process
    started, torch imported and the model loaded inside it, as with no preload) then a warm one (as after the
    window's preload)."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from brainlens.gui.main_window import MainWindow

    w = MainWindow(show_dialogs=False)
    w.resize(1500, 940)
    w.show()
    w.open_path(study)
    w.wait_for_load()
    w.settings.setValue("ai/device", device)
    w.settings.setValue("ai/uncertainty", samples_setting)
    c = w.analysis
    runs = [_timed_segment(app, w, c) for _ in range(2)]
    cancels = [cancel_seconds(app, c, delay) for delay in (2.0, 6.0)]
    return runs, cancels, redraw_ms(w, app)


def cancel_seconds(app, c, delay: float) -> float:
    """Seconds from Cancel (pressed ``delay`` s into a segmentation) until the job has ended."""
    job = c.segment(confirm=False)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < delay:
        app.processEvents()
        time.sleep(0.01)
    t0 = time.perf_counter()
    job.cancel()
    c.wait(job)
    if job.outcome != "cancelled":
        raise SystemExit(f"the segmentation was not cancelled: {job.outcome}")
    return time.perf_counter() - t0


def _timed_segment(app, w, c) -> tuple[float, float]:
    from PySide6.QtCore import QTimer

    gaps, last = [0.0], [time.perf_counter()]

    def beat() -> None:
        now = time.perf_counter()
        gaps[0] = max(gaps[0], now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(beat)
    t0 = time.perf_counter()
    job = c.segment(confirm=False)
    last[0] = time.perf_counter()
    timer.start()
    c.wait(job)
    timer.stop()
    app.processEvents()
    w.ortho.views["axial"].repaint()
    t_mask = time.perf_counter() - t0
    return t_mask, gaps[0] * 1000 - 5


def redraw_ms(w, app, repeats: int = 50) -> float:
    """One axial plane at 256x256 with image + mask + heatmap layers: slice, set images, repaint."""
    from brainlens.core.scene import SeriesDisplay
    from brainlens.core.volume import Volume

    data = np.random.default_rng(0).random((256, 256, 64)).astype(np.float32)
    vol = Volume(data, np.eye(4), "bench", "flair")
    w.scene_model.set_series([SeriesDisplay.prepare(vol)])
    mask = (data > 0.8).astype(np.uint8) * 2
    w.scene_model.add_label_layer("mask", mask)
    w.scene_model.add_heatmap_layer("heat", data, threshold=0.3)
    w.set_layout_mode("axial")
    view = w.ortho.views["axial"]
    app.processEvents()
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        w.scene_model.move_slice("axial", 1 if (i // 60) % 2 == 0 else -1)
        view.repaint()
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--study", required=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--samples", choices=("fast", "thorough"), default="fast")
    args = ap.parse_args()
    from brainlens.jobs.ai_tasks import SAMPLES

    start, torch_loaded, lines = first_window()
    print(f"cold start to first window: {start:.2f} s; torch imported: {torch_loaded} ({lines})")
    runs, cancels, redraw = window_run(args.study, args.device, args.samples)
    (cold, cold_stall), (warm, warm_stall) = runs
    print(f"window, cold (AI process started, torch imported, model loaded in the job): Segment tumour -> mask "
          f"on screen {cold:.1f} s;"
          f" longest event-loop stall {cold_stall:.0f} ms")
    print(f"window, warm (after the preload): {warm:.1f} s; longest event-loop stall {warm_stall:.0f} ms")
    print("Cancel during a segmentation -> job ended: " + ", ".join(f"{s:.2f} s" for s in cancels)
          + " (pressed 2 s and 6 s in; target <= 1 s)")
    print(f"redraw of one 256x256 plane with image + mask + heatmap: {redraw:.2f} ms (median)")
    cli = cli_seconds(args.study, SAMPLES[args.samples], args.device)
    print(f"CLI `brainlens segment` same study: {cli:.1f} s (process start and model load included); "
          f"window cold / CLI = {cold / cli:.2f}")


if __name__ == "__main__":
    main()
