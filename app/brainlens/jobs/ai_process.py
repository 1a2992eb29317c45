"""The AI engine process: the window's AI jobs run in one long-lived child process, not in the viewer's.

Why a process and not just a worker thread: importing torch and much of the numeric work around the
network (scipy resampling, connected components) hold Python's GIL for 100-300 ms at a time, and while a
worker thread holds it the GUI thread cannot run, so the window froze in steps during every segmentation.
A child process has its own interpreter and GIL: the viewer stays responsive whatever the AI does, a crash
or out-of-memory kill in native AI code costs the AI run, not the study on screen, and the loaded models
stay in the child between runs (its own ``ai_tasks.ModelCache``).

The job runner still owns every run: ``AIEngine.run`` is an ordinary job function (progress, cancel) that
sends the task to the child and waits for its messages. Only the named functions of ``jobs.ai_tasks`` can
be run; arguments and results are the plain data classes those functions already take and return.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import pickle
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from brainlens.core.errors import BrainLensError, Cancelled, InputError

log = logging.getLogger("brainlens.jobs")
TASKS = ("preload", "classify_slice", "classify_study", "plane_gradcam", "segment_study")
POLL_S = 0.05
CANCEL_GRACE_S = 0.5  # a task that has not stopped this long after Cancel is stopped with its process
PROGRESS_INTERVAL_S = 0.05
START_METHOD = "spawn"  # fork would copy the viewer's Qt state into the child; spawn starts clean everywhere


def send(conn: Any, obj: Any) -> None:
    """Pickle ``obj`` with its arrays out of band and write those straight from their memory.

    Plain ``Connection.send`` pickles a study's volumes into one bytes object: several copies of 100+ MB
    made in one C call that holds the GIL (the window froze ~70 ms each time). Protocol 5 hands the arrays'
    buffers over without copying, and the pipe writes release the GIL."""
    buffers: list[pickle.PickleBuffer] = []
    head = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    views = [b.raw() for b in buffers]
    conn.send((head, [v.nbytes for v in views]))
    for view in views:
        conn.send_bytes(view)


def receive(conn: Any) -> Any:
    """The other end of ``send``: each array lands in its own writable buffer (label layers are edited)."""
    head, sizes = conn.recv()
    buffers = [bytearray(n) for n in sizes]
    for buf in buffers:
        conn.recv_bytes_into(buf)
    return pickle.loads(head, buffers=buffers)


class EngineError(BrainLensError):
    """The AI process failed or stopped; the message is the one line for the user."""


def _serve(conn: Any, cancel_event: Any) -> None:
    """The child's loop: one (task, args, kwargs) at a time; messages back are (kind, payload) tuples."""
    from brainlens.jobs import ai_tasks

    cache = ai_tasks.ModelCache()
    while True:
        try:
            request = receive(conn)
        except (EOFError, OSError):
            return  # the viewer went away
        if request is None:
            return
        send(conn, _run_one(request, cache, cancel_event, conn))


def _run_one(request: tuple, cache: Any, cancel_event: Any, conn: Any) -> tuple[str, Any]:
    from brainlens.jobs import ai_tasks
    from brainlens.jobs.runner import one_line

    name, args, kwargs = request
    last = [0.0]

    def progress(fraction: float, message: str = "") -> None:
        now = time.monotonic()
        if fraction < 1.0 and now - last[0] < PROGRESS_INTERVAL_S:
            return
        last[0] = now
        send(conn, ("progress", (float(fraction), str(message))))

    try:
        value = getattr(ai_tasks, name)(*args, cache=cache, progress=progress, cancel=cancel_event.is_set,
                                        **kwargs)
        if isinstance(value, ai_tasks.Segmentation):  # the viewer holds the reference series already:
            value = replace(value, reference=None)  # sending it back would copy the whole volume twice
        return ("cancelled", None) if cancel_event.is_set() else ("result", value)
    except Cancelled:
        return "cancelled", None
    except InputError as exc:
        return "input_error", one_line(exc)
    except BrainLensError as exc:
        return "error", one_line(exc)
    except Exception as exc:  # noqa: BLE001 -- the traceback to the log, one line to the viewer
        log.exception("AI task %s failed", name)
        return "error", one_line(exc)


class AIEngine:
    """The viewer's handle on the AI process: started on first use, restarted if it died, closed with the window.

    One task runs at a time (the child has one model cache and the CPU cores to itself); a second job waits
    for the first, and can be cancelled while it waits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: Any = None
        self._conn: Any = None
        self._cancel: Any = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    def _ensure_started(self) -> None:
        if self.running:
            return
        ctx = mp.get_context(START_METHOD)
        parent, child = ctx.Pipe(duplex=True)
        self._cancel = ctx.Event()
        self._proc = ctx.Process(target=_serve, args=(child, self._cancel), name="brainlens-ai", daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent

    def run(self, task: str, *args: Any, progress: Callable[[float, str], None] | None = None,
            cancel: Callable[[], bool] | None = None, **kwargs: Any) -> Any:
        """Run ``jobs.ai_tasks.<task>(*args, **kwargs)`` in the AI process; a job function for the runner."""
        if task not in TASKS:
            raise ValueError(f"not an AI task: {task}")
        cancelled = cancel or (lambda: False)
        while not self._lock.acquire(timeout=POLL_S):
            if cancelled():
                raise Cancelled("cancelled")
        try:
            self._ensure_started()
            self._cancel.clear()
            proc, conn = self._proc, self._conn
            try:
                send(conn, (task, args, kwargs))
            except (OSError, ValueError) as exc:
                raise EngineError("the AI process could not be reached; run it again") from exc
            return self._wait(proc, conn, progress, cancelled)
        finally:
            self._lock.release()

    def _wait(self, proc: Any, conn: Any, progress: Callable[[float, str], None] | None,
              cancelled: Callable[[], bool]) -> Any:
        cancel_at = None
        while True:
            if cancelled():
                if cancel_at is None:  # the task stops at its next check and answers "cancelled" ...
                    cancel_at = time.monotonic()
                    self._cancel.set()
                elif time.monotonic() - cancel_at > CANCEL_GRACE_S:  # ... or is stopped now: Cancel is
                    self._stop(proc, conn)  # meant to return within a second, and a network pass can take
                    raise Cancelled("cancelled")  # several; the next run starts a fresh process
            try:
                ready = conn.poll(POLL_S)
                message = receive(conn) if ready else None
            except (EOFError, OSError, ValueError) as exc:  # closed under us (window closing) or died
                if cancelled():
                    raise Cancelled("cancelled") from exc
                self._forget(proc)
                raise EngineError("the AI process stopped unexpectedly; the study is untouched, run it "
                                  "again") from exc
            if message is None:
                if not proc.is_alive():
                    self._forget(proc)
                    if cancelled():
                        raise Cancelled("cancelled")
                    raise EngineError(f"the AI process stopped unexpectedly (exit code {proc.exitcode}); "
                                      "the study is untouched, run it again")
                continue
            kind, payload = message
            if kind == "progress":
                if progress is not None:
                    progress(*payload)
            elif kind == "result":
                return payload
            elif kind == "cancelled":
                raise Cancelled("cancelled")
            elif kind == "input_error":
                raise InputError(payload)
            else:
                raise EngineError(payload)

    def _stop(self, proc: Any, conn: Any) -> None:
        proc.terminate()
        proc.join(1.0)
        if proc.is_alive():
            proc.kill()
            proc.join(1.0)
        conn.close()
        self._forget(proc)

    def _forget(self, proc: Any) -> None:
        if self._proc is proc:  # the next run starts a fresh process
            self._proc = self._conn = None

    def close(self, timeout_s: float = 3.0) -> None:
        """Stop the process (asked first, then terminated); safe to call twice or when never started."""
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if proc is None:
            return
        if self._cancel is not None:
            self._cancel.set()
        try:
            send(conn, None)
        except (OSError, ValueError):
            pass
        proc.join(timeout_s)
        if proc.is_alive():
            proc.terminate()
            proc.join(1.0)
        conn.close()
