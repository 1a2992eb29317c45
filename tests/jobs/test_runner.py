"""The job runner: results, progress, one-line errors, cancel within a second, signals on the GUI thread."""

import time

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QThread  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from brainlens.core.errors import Cancelled, LoadError  # noqa: E402
from brainlens.jobs.runner import JobRunner, one_line  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture
def runner(qtbot):
    r = JobRunner()
    yield r
    r.cancel_all()
    assert r.wait(3000)


def counting_gen(n, delay=0.0):
    for i in range(n):
        time.sleep(delay)
        yield (i + 1) / n, f"step {i + 1}"
    return n * 10


def test_generator_result_and_progress_on_gui_thread(qtbot, runner):
    seen, threads = [], []
    handle = runner.submit(counting_gen, 4)
    handle.progress.connect(lambda f, m: (seen.append((f, m)), threads.append(QThread.currentThread())))
    with qtbot.waitSignal(handle.result, timeout=5000) as blocker:
        pass
    assert blocker.args == [40]
    qtbot.waitUntil(lambda: handle.done, timeout=2000)
    assert seen[-1] == (1.0, "step 4")
    assert [f for f, _ in seen] == sorted(f for f, _ in seen)
    gui = QApplication.instance().thread()
    assert threads and all(t is gui for t in threads)
    assert handle.outcome == "result"
    assert runner.active == []


def test_function_with_progress_and_cancel_callables(qtbot, runner):
    def work(x, progress, cancel):
        progress(0.5, "half")
        assert cancel() is False
        return x + 1

    handle = runner.submit(work, 41)
    with qtbot.waitSignals([handle.progress, handle.result], timeout=5000, order="strict"):
        pass
    assert handle.outcome == "result"


def test_plain_function_result(qtbot, runner):
    handle = runner.submit(sorted, [3, 1, 2])
    with qtbot.waitSignal(handle.result, timeout=5000) as blocker:
        pass
    assert blocker.args == [[1, 2, 3]]


def test_brainlens_error_is_its_one_line(qtbot, runner):
    def bad():
        raise LoadError("scan.dcm: not a DICOM file")

    handle = runner.submit(bad)
    with qtbot.waitSignal(handle.error, timeout=5000) as blocker:
        pass
    assert blocker.args == ["scan.dcm: not a DICOM file"]


def test_bug_becomes_internal_error_line_and_traceback_goes_to_log(qtbot, runner, caplog):
    def buggy():
        raise KeyError("spacing\nsecond line")

    handle = runner.submit(buggy)
    with qtbot.waitSignal(handle.error, timeout=5000) as blocker:
        pass
    (message,) = blocker.args
    assert message.startswith("internal error: KeyError")
    assert "\n" not in message and "Traceback" not in message
    assert any(r.exc_info for r in caplog.records if r.name == "brainlens.jobs")


def test_cancel_generator_within_a_second(qtbot, runner):
    def forever():
        while True:
            time.sleep(0.02)
            yield 0.5

    handle = runner.submit(forever)
    qtbot.waitSignal(handle.progress, timeout=5000).wait()
    results = []
    handle.result.connect(results.append)
    t0 = time.monotonic()
    with qtbot.waitSignal(handle.cancelled, timeout=1000):
        handle.cancel()
    assert time.monotonic() - t0 < 1.0
    assert handle.outcome == "cancelled" and results == []


def test_cancel_function_job_that_raises_cancelled(qtbot, runner):
    def polling(cancel):
        while not cancel():
            time.sleep(0.01)
        raise Cancelled("stopped")

    handle = runner.submit(polling)
    qtbot.waitSignal(handle.started, timeout=5000).wait()
    with qtbot.waitSignal(handle.cancelled, timeout=1000):
        handle.cancel()
    qtbot.waitUntil(lambda: handle.done, timeout=1000)


def test_one_line_helper():
    assert one_line(LoadError("a\nb")) == "a"
    assert one_line(RuntimeError()) == "internal error: RuntimeError"


def test_progress_is_throttled_but_keeps_messages_and_the_end(qtbot, runner):
    def chatty():
        for i in range(20000):
            yield i / 20000
        yield 0.999, "last phase"
        yield 1.0
        return "done"

    seen = []
    handle = runner.submit(chatty)
    handle.progress.connect(lambda f, m: seen.append((f, m)))
    with qtbot.waitSignal(handle.finished, timeout=10000):
        pass
    assert handle.outcome == "result"
    assert len(seen) < 2000  # not one event per yield
    assert (0.999, "last phase") in seen and seen[-1][0] == 1.0
