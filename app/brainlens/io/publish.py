"""Output targets checked before any work, and a result folder published as one set.

``check_out_dir`` refuses an --out that is a file, a symlink, unwritable, an input folder (or inside one) or a
folder holding anything but a previous result, before a model is even loaded. ``publish_dir`` writes every file
into a fresh temporary folder beside the target and makes it the target with one rename (an atomic swap when
a previous result is replaced), so a crash or a kill at any moment leaves the old result or the new one, never a
mix; a symlink planted in the target is never followed (the folder is replaced, not written into).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from brainlens.core.errors import InputError

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path(".")


def _probe_writable(folder: Path, what: str) -> None:
    """Really create (and remove) a temporary folder there: os.access says yes to root even on /proc."""
    if not folder.is_dir():
        raise InputError(f"{what}: {folder} is not a folder")
    try:
        probe = tempfile.mkdtemp(prefix=".brainlens-probe-", dir=folder)
        os.rmdir(probe)
    except OSError as exc:
        raise InputError(f"{what}: cannot write in {folder} ({(exc.strerror or str(exc)).lower()})") from None


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_out_dir(out: Path, input_folders: Iterable[Path], allowed: Iterable[str], what: str = "--out") -> None:
    """Refuse an unusable output folder before any work (InputError with one line)."""
    out = Path(os.path.abspath(out))
    if os.path.islink(out):
        raise InputError(f"{what} {out}: is a symlink; give the folder itself")
    if os.path.lexists(out) and not out.is_dir():
        raise InputError(f"{what} {out}: exists and is not a folder")
    real = out.resolve()
    for folder in input_folders:
        if _inside(real, folder.resolve()):
            raise InputError(f"{what} {out}: is inside the input folder {folder}; results would mix with the study")
    if out.is_dir():
        foreign = sorted(set(os.listdir(out)) - set(allowed))
        if foreign:
            raise InputError(f"{what} {out}: holds other files ({foreign[0]}); choose an empty or new folder")
        _probe_writable(out.parent if str(out.parent) else Path("."), what)
    else:
        _probe_writable(_nearest_existing(out.parent), what)


def check_out_file(path: Path, what: str) -> None:
    """Refuse an output file target that is a folder, a device, or in a place that cannot be written."""
    if os.path.lexists(path):
        if os.path.islink(path) or not path.is_file():
            raise InputError(f"{what} {path}: exists and is not a regular file")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{what}: folder {parent} does not exist")
    _probe_writable(parent, what)


def _swap(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux renameat2); False where the system cannot."""
    libc_name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        rc = libc.renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    except (OSError, AttributeError, TypeError):
        return False
    return rc == 0


def publish_dir(out: Path, write: Callable[[Path], None]) -> None:
    """``write(folder)`` fills a fresh temporary folder beside ``out``; it then becomes ``out`` in one rename."""
    out = Path(os.path.abspath(out))  # "." or "results/.." still name a folder with a real parent
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    except OSError as exc:
        raise InputError(f"cannot create output folder {out}: {(exc.strerror or str(exc)).lower()}") from None
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        for item in tmp.iterdir():
            os.chmod(item, 0o666 & ~umask)  # mkstemp-like modes are 0600; results are ordinary user files
        os.chmod(tmp, 0o777 & ~umask)
        if out.is_dir() and not out.is_symlink():
            if not _swap(tmp, out):  # no atomic swap here: the old set moves aside first
                old = tmp.with_suffix(".old")
                os.rename(out, old)
                os.rename(tmp, out)
                tmp = old
        else:
            os.rename(tmp, out)
    except OSError as exc:
        raise InputError(f"cannot write results to {out}: {(exc.strerror or str(exc)).lower()}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the unused temp, or the previous result after a swap
