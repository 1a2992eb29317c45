"""The one job runner for long work (loading, inference, export); QtCore only.

A job is either

- a generator function: it yields progress as a float 0..1 or ``(fraction, message)`` and ``return``s its
  result; cancel is a flag checked between yields (so it stops at the next yield), or
- a plain function; if it has ``progress`` and/or ``cancel`` parameters they receive
  ``progress(fraction, message)`` and ``cancel() -> bool`` callables; it should raise
  ``brainlens.core.errors.Cancelled`` (or just return) once ``cancel()`` is true.

Design as superqt's ``thread_worker``: a QRunnable on a QThreadPool with a separate signals object.
The worker emits private signals; a ``JobHandle`` living on the GUI thread receives them through queued
connections and re-emits ``started / progress / result / error / cancelled / finished`` there, so slots
always run on the GUI thread and no widget is touched from a worker.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable, Generator
from typing import Any

from PySide6.QtCore import QEventLoop, QObject, QRunnable, Qt, QThreadPool, QTimer, Signal, Slot

from brainlens.core.errors import BrainLensError, Cancelled

log = logging.getLogger("brainlens.jobs")
PROGRESS_INTERVAL_S = 0.05


def one_line(exc: BaseException) -> str:
    """The user-facing line for an exception: our typed errors verbatim, anything else as internal."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, BrainLensError):
        return text or type(exc).__name__
    return f"internal error: {type(exc).__name__}" + (f": {text}" if text else "")


class JobSignals(QObject):
    """The lifecycle of one job; the worker emits them off-thread, a JobHandle re-emits them on the GUI thread."""

    started = Signal()
    progress = Signal(float, str)
    result = Signal(object)
    error = Signal(str)
    cancelled = Signal()
    finished = Signal()


class _Worker(QRunnable):
    def __init__(self, func: Callable[..., Any], args: tuple, kwargs: dict, abort: threading.Event) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self.signals = JobSignals()
        self._func, self._args, self._kwargs, self._abort = func, args, kwargs, abort
        self._last_emit = -1.0
        self._last_message: str | None = None

    def _progress(self, fraction: float, message: str = "") -> None:
        # at most ~20 updates a second (plus every new message and the end): a job reporting per voxel
        # row must not flood the GUI thread's event queue
        fraction = float(min(max(fraction, 0.0), 1.0))
        now = time.monotonic()
        if fraction < 1.0 and message == self._last_message and now - self._last_emit < PROGRESS_INTERVAL_S:
            return
        self._last_emit, self._last_message = now, message
        self.signals.progress.emit(fraction, str(message))

    def _call(self) -> Any:
        kwargs = dict(self._kwargs)
        try:
            params = inspect.signature(self._func).parameters
        except (TypeError, ValueError):
            params = {}
        if "progress" in params:
            kwargs["progress"] = self._progress
        if "cancel" in params:
            kwargs["cancel"] = self._abort.is_set
        out = self._func(*self._args, **kwargs)
        if not inspect.isgenerator(out):
            return out
        return self._drive(out)

    def _drive(self, gen: Generator) -> Any:
        while True:
            if self._abort.is_set():
                gen.close()
                raise Cancelled("cancelled")
            try:
                step = next(gen)
            except StopIteration as stop:
                return stop.value
            if isinstance(step, tuple):
                self._progress(float(step[0]), str(step[1]) if len(step) > 1 else "")
            elif isinstance(step, (int, float)):
                self._progress(float(step))

    def run(self) -> None:  # on a pool thread
        sig = self.signals
        sig.started.emit()
        try:
            if self._abort.is_set():
                raise Cancelled("cancelled")
            value = self._call()
            if self._abort.is_set():
                sig.cancelled.emit()
            else:
                sig.result.emit(value)
        except Cancelled:
            sig.cancelled.emit()
        except BrainLensError as exc:
            sig.error.emit(one_line(exc))
        except Exception as exc:  # noqa: BLE001 -- a bug must reach the user as one line, not kill the app
            log.exception("job %s failed", getattr(self._func, "__name__", self._func))
            sig.error.emit(one_line(exc))
        finally:
            sig.finished.emit()


class JobHandle(JobSignals):
    """What ``JobRunner.submit`` returns: GUI-thread signals for one job, and ``cancel()``."""

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.abort = threading.Event()
        self.done = False
        self.outcome: str | None = None  # "result" | "error" | "cancelled" once finished

    def cancel(self) -> None:
        """Ask the job to stop; it ends at its next yield / cancel() check."""
        self.abort.set()

    def wait(self, timeout_ms: int) -> bool:
        """Run the event loop until the job has finished (headless runs and tests); False on timeout."""
        if not self.done:
            loop = QEventLoop()
            self.finished.connect(loop.quit)
            QTimer.singleShot(timeout_ms, loop.quit)
            loop.exec()
        return self.done

    @Slot()
    def _on_started(self) -> None:
        self.started.emit()

    @Slot(float, str)
    def _on_progress(self, fraction: float, message: str) -> None:
        if not self.done:
            self.progress.emit(fraction, message)

    @Slot(object)
    def _on_result(self, value: object) -> None:
        self.outcome = "result"
        self.result.emit(value)

    @Slot(str)
    def _on_error(self, message: str) -> None:
        self.outcome = "error"
        self.error.emit(message)

    @Slot()
    def _on_cancelled(self) -> None:
        self.outcome = "cancelled"
        self.cancelled.emit()

    @Slot()
    def _on_finished(self) -> None:
        self.done = True
        self.finished.emit()


class JobRunner(QObject):
    """Submits jobs to its own thread pool; create it on the GUI thread (one per window / app)."""

    job_started = Signal(object)  # JobHandle
    job_finished = Signal(object)

    def __init__(self, max_threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._active: list[JobHandle] = []

    @property
    def max_threads(self) -> int:
        return self._pool.maxThreadCount()

    @property
    def active(self) -> list[JobHandle]:
        return list(self._active)

    def submit(self, func: Callable[..., Any], *args: Any, name: str = "", **kwargs: Any) -> JobHandle:
        # no Qt parent: the handle lives while the runner (until finished) or a caller references it
        handle = JobHandle(name or getattr(func, "__name__", "job"))
        worker = _Worker(func, args, kwargs, handle.abort)
        queued = Qt.ConnectionType.QueuedConnection
        s = worker.signals
        s.started.connect(handle._on_started, queued)
        s.progress.connect(handle._on_progress, queued)
        s.result.connect(handle._on_result, queued)
        s.error.connect(handle._on_error, queued)
        s.cancelled.connect(handle._on_cancelled, queued)
        s.finished.connect(handle._on_finished, queued)
        handle.finished.connect(lambda h=handle: self._retire(h))
        # the signals object must outlive the worker until the queued events are delivered
        handle._signals_keepalive = s  # type: ignore[attr-defined]
        self._active.append(handle)
        self.job_started.emit(handle)
        self._pool.start(worker)
        return handle

    def _retire(self, handle: JobHandle) -> None:
        if handle in self._active:
            self._active.remove(handle)
        self.job_finished.emit(handle)

    def cancel_all(self) -> None:
        for handle in self._active:
            handle.cancel()

    def wait(self, msecs: int = 5000) -> bool:
        """Block until the pool is idle (used at shutdown after cancel_all)."""
        return bool(self._pool.waitForDone(msecs))
