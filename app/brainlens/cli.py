"""Command line: `brainlens [PATH] [--demo] [--screenshot FILE]` starts the viewer;
`brainlens info|classify|segment ...` run the same engine without Qt.

Bad input prints one line on stderr and exits 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

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
        sys.stderr.write(f"{self.prog}: error: {message}\n")
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
    try:
        return int(func(args) or 0)
    except BrainLensError as exc:
        sys.stderr.write(f"brainlens: {exc}\n")
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # stdout closed early (e.g. piped into `head`): not an error; silence the flush at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        sys.stderr.write("brainlens: interrupted\n")
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        module_name, help_text = SUBCOMMANDS[argv[0]]
        module = importlib.import_module(module_name)
        parser = _Parser(prog=f"brainlens {argv[0]}", description=help_text)
        module.add_arguments(parser)
        args = parser.parse_args(argv[1:])
        return _run_guarded(module.run, args)
    args = _gui_parser().parse_args(argv)
    if args.path and args.demo:
        _gui_parser().error("give a PATH or --demo, not both")

    def start(a):
        from brainlens.gui.app import run_gui  # Qt only imported when the GUI is wanted

        return run_gui(a)

    return _run_guarded(start, args)


if __name__ == "__main__":
    raise SystemExit(main())
