"""The one atomic-write helper: files appear complete or not at all, and never over a source file.

``atomic_files`` hands out temporary paths in each target's folder (same suffix, so writers that look at
the extension -- nibabel's .nii.gz -- behave); when the block succeeds every target is replaced by its
temporary in one go, when it fails every temporary is removed and the targets are untouched.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from brainlens.core.errors import Cancelled, InputError


def _suffixes(path: Path) -> str:
    return "".join(path.suffixes[-2:]) if path.name.endswith((".nii.gz", ".tar.gz")) else path.suffix


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask  # mkstemp makes 0600; results are ordinary user files


def check_not_sources(targets: Iterable[Path | str], protect: Iterable[Path | str] = ()) -> None:
    """InputError when a target is one of the protected (source) files."""
    protected = {Path(p).resolve() for p in protect}
    for target in targets:
        if Path(target).resolve() in protected:
            raise InputError(f"refusing to overwrite the source file {Path(target).name}; choose another folder")


@contextlib.contextmanager
def atomic_files(targets: Iterable[Path | str], protect: Iterable[Path | str] = (),
                 mode: int | None = None, cancel: Callable[[], bool] | None = None) -> Iterator[list[Path]]:
    """Yield one temporary path per target; all targets are replaced at the end, or none on an error.

    ``cancel`` is asked once more just before the targets are replaced: a cancelled job writes nothing.
    """
    targets = [Path(t) for t in targets]
    check_not_sources(targets, protect)
    temps: list[Path] = []
    try:
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp" + _suffixes(target),
                                       dir=target.parent)
            os.close(fd)
            temps.append(Path(tmp))
        yield temps
        if cancel is not None and cancel():
            raise Cancelled("cancelled before the files were put in place")
        perms = _default_mode() if mode is None else mode
        for tmp, target in zip(temps, targets):
            os.chmod(tmp, perms)
            os.replace(tmp, target)
    finally:
        for tmp in temps:
            with contextlib.suppress(OSError):
                tmp.unlink()


def atomic_write(path: Path | str, write: Callable[[Path], object], protect: Iterable[Path | str] = (),
                 mode: int | None = None) -> Path:
    """``write(tmp)`` then move the temporary file to ``path``."""
    with atomic_files([path], protect, mode) as (tmp,):
        write(tmp)
    return Path(path)
