"""First start on a fresh Linux desktop: missing xcb libraries are named with the exact apt command, before
Qt starts (one line on stderr, exit code 2)."""

from __future__ import annotations

from pathlib import Path

from brainlens import cli
from brainlens.gui import system_libs

README = Path(__file__).resolve().parents[2] / "README.md"


def test_missing_libraries_give_one_apt_command():
    absent = {"libxcb-icccm.so.4", "libxcb-keysyms.so.1"}
    line = system_libs.xcb_problem({"DISPLAY": ":0"}, "linux", can_load=lambda so: so not in absent)
    assert line.endswith("install them with: sudo apt-get install -y libxcb-icccm4 libxcb-keysyms1")
    assert "\n" not in line
    assert system_libs.xcb_problem({"DISPLAY": ":0"}, "linux", can_load=lambda so: True) is None


def test_only_checked_when_qt_will_use_xcb():
    none = lambda so: False  # noqa: E731 - nothing loads: any check that runs reports
    assert system_libs.xcb_problem({"DISPLAY": ":0"}, "darwin", can_load=none) is None
    assert system_libs.xcb_problem({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"}, "linux", can_load=none) is None
    assert system_libs.xcb_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux", can_load=none) is None
    assert system_libs.xcb_problem({"QT_QPA_PLATFORM": "xcb"}, "linux", can_load=none) is not None


def test_cli_exits_2_with_the_command_before_importing_qt(monkeypatch, capsys):
    monkeypatch.setattr(system_libs, "_loads", lambda so: so != "libxcb-cursor.so.0")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert cli.main(["--demo"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.endswith("sudo apt-get install -y libxcb-cursor0")


def test_readme_names_every_package():
    text = README.read_text()
    for package in system_libs.XCB_LIBRARIES.values():
        assert package in text, package
