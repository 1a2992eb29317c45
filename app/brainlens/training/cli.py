"""`brainlens-train classifier|segmenter ...`: forwards to the training recipes' main(argv)."""

from __future__ import annotations

import importlib
import sys

RECIPES = {"classifier": "brainlens.training.classifier", "segmenter": "brainlens.training.segmenter"}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in RECIPES:
        print(f"usage: brainlens-train {{{','.join(RECIPES)}}} [options]  (--help after the recipe name)",
              file=sys.stderr)
        return 2
    module = importlib.import_module(RECIPES[argv[0]])
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
