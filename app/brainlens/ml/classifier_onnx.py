"""The classifier's feature extractor on ONNX Runtime: the CPU path, about 2.5x faster than eager PyTorch.

Measured on this project's 2-core machine, one thread, EfficientNet-Lite0 at 160 px: 4.9 ms against 12.3 ms
(``benchmarks/bench_classify.py`` compares both). Only the convolutional trunk runs here (after the network's
own resize, up to the pooled embedding); the head, MC dropout, OOD score and Grad-CAM stay in PyTorch, which
also remains the path on CUDA / MPS and whenever a model ships no ONNX file.

The ONNX file is derived from the safetensors weights by ``python -m brainlens.training.export_onnx`` and
listed in the model's manifest entry (``extra.onnx``: file, SHA-256), hash-checked like the weights. ONNX is a
protobuf graph, not a pickle: reading it runs no code. Retraining rewrites the entry without it, so a stale
export is never used (and packaging/verify_models.py reports it as a stray file).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from brainlens.core.errors import ModelError
from brainlens.io.atomic import atomic_write
from brainlens.ml.registry import sha256_file

if TYPE_CHECKING:
    from brainlens.ml.registry import ModelEntry

log = logging.getLogger("brainlens.ml")
SUFFIX = ".features.onnx"
OPSET = 17
INPUT, OUTPUT = "image", "embedding"
MAX_ABS_DIFF = 1e-3  # export check: embeddings are O(1..10); float32 reassociation gives ~1e-6


class _Trunk(nn.Module):
    """What runs in ONNX Runtime: stem to pooled embedding, on the network's own input size."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.features, self.pool = net.features[1:], net.pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.pool(self.features(x)), 1)


class OnnxTrunk:
    """Runs the exported trunk; one session per torch thread count, so ``torch.set_num_threads`` (the CLI's
    --threads, the benchmark's one-thread figure) governs both runtimes alike."""

    def __init__(self, model_bytes: bytes, name: str) -> None:
        self._bytes, self.name = model_bytes, name
        self._sessions: dict[int, Any] = {}
        self._lock = threading.Lock()

    def _session(self) -> Any:
        import onnxruntime as ort

        threads = max(1, torch.get_num_threads())
        with self._lock:
            if threads not in self._sessions:
                options = ort.SessionOptions()
                options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                options.log_severity_level = 3  # warnings about unused initialisers are noise to a user
                self._sessions[threads] = ort.InferenceSession(self._bytes, options,
                                                               providers=["CPUExecutionProvider"])
            return self._sessions[threads]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, S, S) float32 at the network's input size -> (B, D) embedding."""
        array = np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())
        return torch.from_numpy(self._session().run([OUTPUT], {INPUT: array})[0])


def trunk_input(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The network's first layer (its resize to the input size), which stays in PyTorch."""
    return net.features[0](x)


def load_trunk(entry: ModelEntry, directory: Path) -> OnnxTrunk | None:
    """The hash-checked ONNX trunk of a manifest entry; None when the entry lists none or ONNX Runtime is not
    installed (then PyTorch runs the whole network: same results, slower)."""
    spec = entry.extra.get("onnx")
    if not spec:
        return None
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        log.info("onnxruntime is not installed: %s runs on PyTorch alone", entry.name)
        return None
    path = directory / str(spec.get("file", ""))
    if not path.is_file():
        raise ModelError(f"model '{entry.name}' ONNX file {spec.get('file')} is missing: reinstall BrainLens")
    if sha256_file(path) != str(spec.get("sha256", "")).lower():
        raise ModelError(f"model '{entry.name}' ONNX file failed its integrity check (SHA-256 mismatch): "
                         "reinstall BrainLens")
    trunk = OnnxTrunk(path.read_bytes(), entry.name)
    try:
        trunk._session()
    except Exception as exc:  # noqa: BLE001 -- onnxruntime raises its own types for a corrupt graph
        raise ModelError(f"model '{entry.name}' ONNX file could not be read ({type(exc).__name__}): "
                         "reinstall BrainLens") from exc
    return trunk


def export_trunk(net: nn.Module, path: Path) -> float:
    """Write the trunk of an eval-mode network as ONNX (dynamic batch); returns the largest absolute
    difference from PyTorch's embedding on test inputs, and refuses (ModelError, no file) above MAX_ABS_DIFF."""
    import io
    import warnings

    import onnxruntime as ort

    trunk = _Trunk(net).eval()
    size = int(net.input_size)
    probe = torch.randn(3, 1, size, size, generator=torch.Generator().manual_seed(0))
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on constant folding; the check below is what counts
        torch.onnx.export(trunk, (probe[:1],), buffer, dynamo=False, opset_version=OPSET, input_names=[INPUT],
                          output_names=[OUTPUT], dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}})
        expected = trunk(probe).numpy()
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    got = session.run([OUTPUT], {INPUT: probe.numpy()})[0]
    diff = float(np.abs(got - expected).max())
    if not diff <= MAX_ABS_DIFF:
        raise ModelError(f"ONNX export differs from PyTorch by {diff:.2g} (limit {MAX_ABS_DIFF:g}); not written")
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(buffer.getvalue()), mode=0o644)
    return diff
