"""Which torch device inference runs on, and a one-line description of it for results and logs."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from brainlens.core.errors import InputError

if TYPE_CHECKING:
    import torch

CHOICES = ("auto", "cpu", "cuda", "mps")
_REQUEST_RE = re.compile(r"^(auto|cpu|cuda|mps)(?::(\d+))?$")


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def choose_device(requested: str = "auto") -> torch.device:
    """auto: CUDA if present, else Apple MPS, else CPU. An explicit GPU that is absent is an InputError."""
    import torch

    text = (requested or "auto").strip().lower()
    m = _REQUEST_RE.match(text)
    if m is None or (m.group(2) is not None and m.group(1) != "cuda"):
        raise InputError(f"unknown device '{requested}'; choose one of: {', '.join(CHOICES)}")
    kind, index = m.group(1), m.group(2)
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", 0)
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise InputError("CUDA was requested but no CUDA device is available")
        i = int(index or 0)
        if i >= torch.cuda.device_count():
            raise InputError(f"CUDA device {i} was requested but only {torch.cuda.device_count()} "
                             "CUDA device(s) are available")
        return torch.device("cuda", i)
    if kind == "mps":
        if not _mps_available():
            raise InputError("MPS (Apple GPU) was requested but no MPS device is available")
        return torch.device("mps")
    return torch.device("cpu")


def describe_device(device: torch.device | str) -> str:
    """E.g. 'cpu (2 threads)', 'cuda:0 (NVIDIA H100 80GB HBM3)', 'mps (Apple GPU)'."""
    import torch

    dev = torch.device(device)
    if dev.type == "cuda":
        index = dev.index if dev.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    if dev.type == "mps":
        return "mps (Apple GPU)"
    threads = torch.get_num_threads()
    return f"{dev.type} ({threads} thread{'s' if threads != 1 else ''})"
