"""Command line: `brainlens [PATH] [--demo] [--screenshot FILE]` starts the viewer;
`brainlens info|classify|segment ...` run the same engine without Qt.

Bad input prints one line on stderr and exits 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
import warnings
from collections.abc import Sequence

from brainlens.cli_output import one_line
from brainlens.core.errors import BrainLensError

# subcommand -> module exposing add_arguments(parser) and run(args) -> int
SUBCOMMANDS = {
    "info": ("brainlens.cli_info", "describe the series in a study"),
    "classify": ("brainlens.cli_classify", "tumour-type classification of images or study slices"),
    "segment": ("brainlens.cli_segment", "3D tumour segmentation with uncertainty and measurements"),
}
EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line with exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {one_line(message)}\n")
        raise SystemExit(EXIT_BAD_INPUT)


def _gui_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="brainlens", description="BrainLens brain MRI viewer. Subcommands: "
                + ", ".join(f"{k} ({v[1]})" for k, v in SUBCOMMANDS.items()))
    p.add_argument("path", nargs="?", help="DICOM folder/file, NIfTI, NRRD or image to open")
    p.add_argument("--demo", action="store_true", help="open the built-in synthetic head phantom")
    p.add_argument("--screenshot", metavar="FILE", help="render the window offscreen to a PNG and exit")
    p.add_argument("--layout", choices=("ortho", "axial"), default=None, help="view layout")
    p.add_argument("--run", action="append", choices=("classify", "segment"), default=[],
                   help="run the AI offscreen before the capture (repeatable; same code as the AI menu)")
    p.add_argument("--export", metavar="DIR", help="write the Export menu's files to DIR (offscreen) and exit")
    return p


def _run_guarded(func, args) -> int:
    """Run a command: bad input ends as one stderr line and exit 2; library warnings never reach stderr raw
    (they are printed one line each, after the result, only when the command succeeded)."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            code = int(func(args) or 0)
        for text in dict.fromkeys(one_line(" ".join(str(w.message).split()))[:300] for w in caught):
            sys.stderr.write(f"warning: {text}\n")
        return code
    except BrainLensError as exc:
        sys.stderr.write(f"brainlens: {one_line(str(exc))}\n")
        return EXIT_BAD_INPUT
    except MemoryError:
        sys.stderr.write("brainlens: not enough memory for this input\n")
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # stdout closed early (e.g. piped into `head`): not an error; silence the flush at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        sys.stderr.write("brainlens: interrupted\n")
        return 130


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        module_name, help_text = SUBCOMMANDS[argv[0]]
        module = importlib.import_module(module_name)
        parser = _Parser(prog=f"brainlens {argv[0]}", description=help_text)
        module.add_arguments(parser)
        args = parser.parse_args(argv[1:])
        if threading.current_thread() is not threading.main_thread():
            return _run_guarded(module.run, args)
        # SIGTERM unwinds like Ctrl+C, so `finally` blocks remove temporary output instead of leaving it
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            return _run_guarded(module.run, args)
        finally:
            signal.signal(signal.SIGTERM, previous)
    args = _gui_parser().parse_args(argv)
    if args.path and args.demo:
        _gui_parser().error("give a PATH or --demo, not both")

    def start(a):
        from brainlens.gui.app import run_gui  # Qt only imported when the GUI is wanted

        return run_gui(a)

    return _run_guarded(start, args)


if __name__ == "__main__":
    raise SystemExit(main())
