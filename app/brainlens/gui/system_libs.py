"""Before Qt starts on Linux/X11: are the system libraries of Qt's xcb platform plugin there?

Without them Qt stops with "could not load the Qt platform plugin xcb" and a wall of text that does not say
what to install. PySide6 ships Qt itself but not these X11 libraries, so a fresh Debian/Ubuntu desktop often
lacks a few. We try to load each one (ctypes, no Qt import) and name the exact apt command. The list is the
libraries ``ldd`` shows for PySide6's libqxcb.so / libQt6XcbQpa.so; keep it in step with README.md.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping

# shared object Qt's xcb plugin links -> the Debian/Ubuntu package that provides it
XCB_LIBRARIES: dict[str, str] = {
    "libxcb.so.1": "libxcb1",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
}


def _loads(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing_packages(libraries: Mapping[str, str] = XCB_LIBRARIES,
                     can_load: Callable[[str], bool] | None = None) -> list[str]:
    """Debian package names of the libraries that cannot be loaded, in the table's order, no repeats."""
    can_load = can_load or _loads
    missing: list[str] = []
    for soname, package in libraries.items():
        if not can_load(soname) and package not in missing:
            missing.append(package)
    return missing


def install_command(packages: list[str]) -> str:
    return "sudo apt-get install -y " + " ".join(packages)


def uses_xcb(env: Mapping[str, str] = os.environ, platform: str = sys.platform) -> bool:
    """True when Qt will pick its xcb plugin: Linux with an X display and no other platform asked for."""
    if not platform.startswith("linux"):
        return False
    asked = env.get("QT_QPA_PLATFORM", "")
    if asked:
        return asked.split(":")[0].split(";")[0] == "xcb"
    return bool(env.get("DISPLAY")) and not env.get("WAYLAND_DISPLAY")


def xcb_problem(env: Mapping[str, str] | None = None, platform: str | None = None,
                can_load: Callable[[str], bool] | None = None) -> str | None:
    """One line saying what to install, or None when nothing is missing (or xcb is not going to be used)."""
    if not uses_xcb(os.environ if env is None else env, platform or sys.platform):
        return None
    packages = missing_packages(can_load=can_load)
    if not packages:
        return None
    return (f"the Qt window needs system libraries that are missing ({', '.join(packages)}); "
            f"install them with: {install_command(packages)}")
