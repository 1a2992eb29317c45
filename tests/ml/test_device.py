"""Device choice: auto falls back to CPU here; an absent GPU asked for by name is a one-line InputError."""

from __future__ import annotations

import pytest
import torch

from brainlens.core.errors import InputError
from brainlens.ml.device import choose_device, describe_device


def test_cpu_explicit() -> None:
    dev = choose_device("cpu")
    assert dev == torch.device("cpu")
    n = torch.get_num_threads()
    assert describe_device(dev) == f"cpu ({n} thread{'s' if n != 1 else ''})"


def test_auto_picks_best_available() -> None:
    dev = choose_device("auto")
    if torch.cuda.is_available():
        assert dev.type == "cuda"
        assert torch.cuda.get_device_name(0) in describe_device(dev)
    elif torch.backends.mps.is_available():
        assert dev.type == "mps"
    else:
        assert dev == torch.device("cpu")
    assert choose_device() == dev


@pytest.mark.skipif(torch.cuda.is_available(), reason="machine has CUDA")
def test_cuda_absent_is_input_error() -> None:
    with pytest.raises(InputError) as info:
        choose_device("cuda")
    assert str(info.value) == "CUDA was requested but no CUDA device is available"
    assert "\n" not in str(info.value)


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="machine has MPS")
def test_mps_absent_is_input_error() -> None:
    with pytest.raises(InputError, match="MPS"):
        choose_device("mps")


def test_unknown_request() -> None:
    with pytest.raises(InputError, match="unknown device 'tpu'"):
        choose_device("tpu")
    with pytest.raises(InputError):
        choose_device("cpu:1")
