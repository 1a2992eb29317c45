"""C libraries (libpng inside OpenCV, for one) print straight to file descriptor 2, past Python's warnings and
logging: the CLI's one-line promise breaks. ``captured_native_stderr`` lends them a temporary file instead and
hands back what they said, so the caller can fold it into its own one-line reason."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def captured_native_stderr() -> Iterator[list[str]]:
    """Within the block, fd 2 goes to a temporary file; the list receives its non-empty lines on exit."""
    lines: list[str] = []
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real stderr (embedded, frozen GUI): nothing to capture
        yield lines
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            lines.extend(" ".join(ln.split()) for ln in tmp.read().decode(errors="replace").splitlines() if ln.strip())
