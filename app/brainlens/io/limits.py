"""Limits checked from headers before any pixel is decoded, and the file kinds a reader may open.

A hostile or broken file can declare a 30000^3 grid, a million frames or a 20000^2 PNG that decompresses to
gigabytes; each reader asks here first, so such a file is refused in one line instead of eating the memory.
Only regular files are read: a fifo or a device (even behind a symlink) would block or never end.
"""

from __future__ import annotations

import math
import os
import stat
import warnings
from collections.abc import Iterable
from pathlib import Path

from brainlens.core.errors import LoadError

# 2^29 voxels = 2 GiB as float32: a 1024 x 1024 x 512 volume still fits; nothing a brain MRI holds comes close.
MAX_VOXELS = 1 << 29
# 2D images: Pillow's own decompression-bomb threshold (89.5 megapixels), enforced as an error, not a warning.
MAX_PIXELS_2D = 89_478_485
MAX_PAGES = 4096


def file_kind(path: Path) -> str | None:
    """None for a regular file (after following symlinks); otherwise what it is, in words."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if os.path.islink(path):
            return "a symlink loop" if exc.errno == 40 else "a broken symlink"
        return "missing" if isinstance(exc, FileNotFoundError) else (exc.strerror or "unreadable").lower()
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    for test, name in ((stat.S_ISFIFO, "a fifo (named pipe)"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def require_regular(path: Path) -> None:
    """LoadError unless ``path`` is a regular file (a symlink to one is fine)."""
    kind = file_kind(path)
    if kind == "missing":
        raise LoadError(f"no such file: {path}")
    if kind is not None:
        raise LoadError(f"{path.name or path}: {kind}, not a file that can be read")


def check_voxels(shape: Iterable[int], what: str, itemsize: int = 1) -> None:
    """LoadError when a declared grid is empty, negative or larger than MAX_VOXELS."""
    dims = [int(s) for s in shape]
    if any(d <= 0 for d in dims):
        raise LoadError(f"{what}: declared size {' x '.join(map(str, dims))} holds no image")
    total = math.prod(dims)
    if total > MAX_VOXELS:
        raise LoadError(f"{what}: declared size {' x '.join(map(str, dims))} ({total:.3g} voxels, "
                        f"{total * itemsize / 2**30:.3g} GiB) is beyond the {MAX_VOXELS:.3g} voxels this viewer loads")


def check_raster(path: Path) -> None:
    """Size check of a 2D image from its header (Pillow reads only the header here)."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # Pillow only warns up to 2x its limit
            with Image.open(path) as img:
                width, height = img.size
                pages = int(getattr(img, "n_frames", 1) or 1)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise LoadError(f"{path.name}: too many pixels to load safely ({' '.join(str(exc).split())})") from None
    except Exception:  # not something Pillow knows: the decoder that follows will say why
        return
    if width * height > MAX_PIXELS_2D:
        raise LoadError(f"{path.name}: {width} x {height} pixels ({width * height / 1e6:.0f} megapixels) is "
                        f"larger than the {MAX_PIXELS_2D / 1e6:.0f} megapixels an image may have "
                        "(a decompression bomb?)")
    if pages > MAX_PAGES:
        raise LoadError(f"{path.name}: {pages} pages is more than the {MAX_PAGES} this viewer loads")
    check_voxels((width, height, pages), path.name)
