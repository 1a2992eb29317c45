"""Pre-packaging check: every model in the manifest loads and matches its SHA-256; no stray weights ship.

Usage: python packaging/verify_models.py [MODELS_DIR]   (default: the repo's models/). Exit 0 when clean.
"""

from __future__ import annotations

import sys
from pathlib import Path

from brainlens.core.errors import ModelError
from brainlens.ml import registry
from brainlens.ml.classifier_onnx import load_trunk


def verify(directory: Path) -> list[str]:
    """Problems found (empty when every entry loads and every weights file is listed)."""
    problems = []
    entries = registry.load_manifest(directory)
    for name, entry in sorted(entries.items()):
        try:
            state, _ = registry.load_weights(name, directory)
            n_params = sum(t.numel() for t in state.values())
            print(f"ok  {name} {entry.version} ({entry.kind}, {entry.dtype}, {n_params:,} values) {entry.sha256[:12]}")
            if entry.extra.get("onnx") and load_trunk(entry, directory) is not None:
                print(f"ok  {name} ONNX trunk {entry.extra['onnx']['file']}")
        except ModelError as exc:
            problems.append(str(exc))
    listed = {e.file for e in entries.values()} | {e.extra["onnx"]["file"] for e in entries.values()
                                                   if e.extra.get("onnx")}
    weights = [*directory.glob("*.safetensors"), *directory.glob("*.onnx")]
    for stray in sorted(p.name for p in weights if p.name not in listed):
        problems.append(f"{stray} is not in manifest.json (would ship unused); remove it or register it")
    if not entries:
        print(f"note: {directory / registry.MANIFEST} lists no models; the app will run without AI features")
    return problems


def main(argv: list[str]) -> int:
    directory = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parents[1] / "models"
    problems = verify(directory)
    for p in problems:
        print(f"FAIL {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
