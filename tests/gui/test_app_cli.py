"""`brainlens --demo --screenshot FILE` through cli.main, bad input in screenshot mode, light start-up."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtGui import QImage  # noqa: E402

from brainlens.cli import main  # noqa: E402

pytestmark = pytest.mark.gui


def test_demo_screenshot_writes_png(qapp, tmp_path):
    out = tmp_path / "demo.png"
    assert main(["--demo", "--screenshot", str(out), "--layout", "ortho"]) == 0
    img = QImage(str(out))
    assert not img.isNull() and img.width() >= 800 and img.height() >= 500
    # more than a blank window: many distinct grey levels from the head images
    colours = {img.pixel(x, y) for x in range(0, img.width(), 7) for y in range(0, img.height(), 7)}
    assert len(colours) > 100
    assert [p.name for p in tmp_path.iterdir()] == ["demo.png"]  # no temp files left behind
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # an ordinary file, not mkstemp's 0600


def test_screenshot_of_unreadable_path_is_exit_2_and_no_png(qapp, tmp_path, capsys):
    out = tmp_path / "shot.png"
    rc = main([str(tmp_path / "missing-study"), "--screenshot", str(out)])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("brainlens: ") and "Traceback" not in err[0]
    assert not out.exists()


def test_screenshot_into_missing_folder_is_exit_2(qapp, tmp_path, capsys):
    assert main(["--demo", "--screenshot", str(tmp_path / "nope" / "x.png")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_gui_modules_do_not_import_torch():
    code = ("import sys, brainlens.gui.app, brainlens.gui.main_window, brainlens.jobs.tasks; "
            "print(' '.join(sorted(m for m in ('torch', 'monai', 'torchvision') if m in sys.modules)))")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


def test_absurd_path_is_one_line_not_a_traceback(qapp, tmp_path, capsys):
    assert main(["x" * 5000, "--screenshot", str(tmp_path / "s.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]


def test_app_icon_is_shipped(qapp):
    from brainlens.gui.resources import app_icon, resource_path

    assert resource_path("brainlens.png") is not None
    assert not app_icon().isNull()
    assert resource_path("no-such-file.png") is None
