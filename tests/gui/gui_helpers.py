"""Small helpers shared by the GUI tests."""


def open_and_wait(qtbot, win, path, timeout: int = 30000):
    """Open ``path`` in ``win`` and wait for its load job; fails with the window's error line if it failed."""
    job = win.open_path(path)
    with qtbot.waitSignal(job.finished, timeout=timeout):
        pass
    assert job.outcome == "result", win.last_error
    return job
