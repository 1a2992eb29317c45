"""The CLI's stderr contract seen from outside the process: one line for bad input, nothing for a closed pipe."""

from __future__ import annotations

import os
import subprocess
import sys


def _run(args: list[str], **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "-m", "brainlens", *args], capture_output=True, text=True,
                          env=env, timeout=120, **kw)


def test_screenshot_of_missing_path_prints_one_line(tmp_path):
    result = _run([str(tmp_path / "missing"), "--screenshot", str(tmp_path / "x.png")])
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "x.png").exists()


def test_output_into_a_closed_pipe_is_quiet():
    """Like `brainlens info PATH --json | head -c 5`: the reader leaves early; no traceback, exit 0."""
    code = ("import sys; from brainlens import cli; "
            "raise SystemExit(cli._run_guarded(lambda a: [sys.stdout.write('x' * 1000 + chr(10)) "
            "for _ in range(2000)] and 0, None))")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.read(5)
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
