"""Export a bundled classifier's convolutional trunk to ONNX and list it in the manifest (ml.classifier_onnx).

    .venv/bin/python -m brainlens.training.export_onnx [--model efflite0] [--models DIR]

The evaluation script calls this after it writes new weights, so the card's latency is the product's. Run it
by hand after changing the weights any other way. Needs the ``onnx`` package (the ``train`` extra); the app
needs only ``onnxruntime``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from brainlens.core.errors import BrainLensError
from brainlens.ml import classifier_onnx
from brainlens.ml.classifier_engine import load_classifier
from brainlens.ml.registry import get_entry, models_dir, sha256_file, update_extra


def export_classifier_trunk(name: str, models: Path) -> dict:
    """Write <name>.features.onnx from the hash-checked weights and record it in the entry's ``extra.onnx``."""
    get_entry(name, models)  # unknown model or folder: one line, nothing written
    clf = load_classifier(name, device="cpu", directory=models, onnx=False)  # PyTorch is the reference
    path = models / f"{name}{classifier_onnx.SUFFIX}"
    diff = classifier_onnx.export_trunk(clf.net, path)
    spec = {"file": path.name, "sha256": sha256_file(path), "opset": classifier_onnx.OPSET,
            "max_abs_diff": diff}
    update_extra(name, {"onnx": spec}, models)
    return spec


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="efflite0")
    p.add_argument("--models", type=Path, default=None, help="models folder (default: the product's)")
    args = p.parse_args(argv)
    try:
        spec = export_classifier_trunk(args.model, args.models or models_dir())
    except (BrainLensError, ImportError) as exc:
        print(f"export_onnx: {exc}", file=sys.stderr)
        return 2
    print(f"{args.model}: wrote {spec['file']} (largest difference from PyTorch {spec['max_abs_diff']:.2g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
