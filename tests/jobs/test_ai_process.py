"""The AI process (jobs.ai_process): tasks run in a child process, errors come back as one line of the right
kind, a dead child is reported and replaced, and arrays cross the pipe whole and writable."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time

import numpy as np
import pytest

from brainlens.core.errors import Cancelled, InputError
from brainlens.jobs.ai_process import AIEngine, EngineError, receive, send


@pytest.fixture
def engine():
    eng = AIEngine()
    yield eng
    eng.close()


def test_arrays_cross_the_pipe_whole_and_writable():
    a, b = mp.Pipe()
    vol = np.arange(3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5)
    send(a, ("task", (vol, {"mask": vol.astype(np.uint8)}), {"n": 2}))
    name, (got, extra), kwargs = receive(b)
    np.testing.assert_array_equal(got, vol)
    assert got.flags.writeable and extra["mask"].dtype == np.uint8 and kwargs == {"n": 2}
    got[0, 0, 0] = -1  # a label layer is edited in place
    assert vol[0, 0, 0] == 0


def test_an_input_error_in_the_child_arrives_as_an_input_error(engine):
    with pytest.raises(InputError, match="no series is assigned"):
        engine.run("segment_study", {})
    assert engine.running and engine._proc.pid != os.getpid()


def test_only_named_tasks_run(engine):
    with pytest.raises(ValueError, match="not an AI task"):
        engine.run("export_files", [])


def test_a_child_killed_mid_task_is_one_line_and_the_next_run_starts_a_new_one(engine):
    with pytest.raises(InputError):
        engine.run("segment_study", {})
    first = engine._proc.pid
    errors: list[BaseException] = []

    def long_task() -> None:  # importing torch and loading both models takes seconds
        try:
            engine.run("preload", device="cpu")
        except BaseException as exc:  # noqa: BLE001 -- collected for the assertion below
            errors.append(exc)

    worker = threading.Thread(target=long_task)
    worker.start()
    time.sleep(0.5)
    os.kill(first, signal.SIGKILL)  # what the kernel's out-of-memory killer does
    worker.join(30)
    assert len(errors) == 1 and isinstance(errors[0], EngineError)
    assert "AI process stopped" in str(errors[0]) and "\n" not in str(errors[0])
    with pytest.raises(InputError):  # a fresh process answers again
        engine.run("segment_study", {})
    assert engine._proc.pid != first


def test_a_job_waiting_for_the_engine_can_be_cancelled(engine):
    engine._lock.acquire()  # another job is using the engine
    try:
        with pytest.raises(Cancelled):
            engine.run("segment_study", {}, cancel=lambda: True)
    finally:
        engine._lock.release()


def test_close_is_safe_before_start_and_twice():
    eng = AIEngine()
    eng.close()
    with pytest.raises(InputError):
        eng.run("segment_study", {})
    eng.close()
    eng.close()
    assert not eng.running


def test_a_task_that_does_not_stop_is_stopped_with_its_process(engine):
    with pytest.raises(InputError):
        engine.run("segment_study", {})  # the process is up
    first = engine._proc.pid
    asked = [0.0]

    def cancel() -> bool:  # Cancel pressed 0.3 s into a task that checks for it only now and then
        if not asked[0]:
            asked[0] = time.monotonic() + 0.3
        return time.monotonic() >= asked[0]

    with pytest.raises(Cancelled):
        engine.run("preload", device="cpu", cancel=cancel)  # importing torch: seconds without a check
    assert time.monotonic() - asked[0] < 2.0
    assert not engine.running
    with pytest.raises(InputError):  # the next run gets a fresh process
        engine.run("segment_study", {})
    assert engine._proc.pid != first
