"""Segmenter network and the label <-> region conversions shared by training and inference.

The network predicts three overlapping regions with sigmoid outputs, as BraTS scores them:
whole tumour WT = {1, 2, 4}, tumour core TC = {1, 4}, enhancing tumour ET = {4}.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import numpy as np

from brainlens.core.labels import ENHANCING, NECROTIC, OEDEMA, REGION_LABELS

MODEL_NAME = "segresnet_brats_2mm"
REGIONS = tuple(REGION_LABELS)  # network output channels, in core.labels' order: WT, TC, ET
LABEL_VALUES = REGION_LABELS
CHANNELS = ("flair", "t1", "t1ce", "t2")
SPACING_MM = 2.0
PATCH = (64, 64, 64)
INIT_FILTERS = 8
DROPOUT = 0.1


def labels_to_regions(labels: np.ndarray) -> np.ndarray:
    """(X, Y, Z) labels 0/1/2/4 -> (3, X, Y, Z) bool masks WT, TC, ET."""
    labels = np.asarray(labels)
    return np.stack([np.isin(labels, LABEL_VALUES[r]) for r in REGIONS])


def regions_to_labels(regions: np.ndarray) -> np.ndarray:
    """(3, X, Y, Z) region masks (bool or p > 0.5 already applied) -> uint8 labels 0/1/2/4.

    Nested by construction: ET wins, then the rest of TC is 1, the rest of WT is 2. An ET or TC voxel
    outside WT still counts as tumour (the regions are nested in truth, so WT is taken as their union).
    """
    wt, tc, et = (np.asarray(r, dtype=bool) for r in regions)
    tc = tc | et
    wt = wt | tc
    out = np.zeros(wt.shape, dtype=np.uint8)
    out[wt] = OEDEMA
    out[tc] = NECROTIC
    out[et] = ENHANCING
    return out


def build_model(dropout: float = DROPOUT, init_filters: int = INIT_FILTERS) -> Any:
    """The SegResNet used for training and inference (MONAI, imported lazily)."""
    from monai.networks.nets import SegResNet

    return SegResNet(spatial_dims=3, in_channels=len(CHANNELS), out_channels=len(REGIONS),
                     init_filters=init_filters, dropout_prob=dropout)


def cpu_bf16_supported() -> bool:
    """True when oneDNN has native bfloat16 kernels here (AVX512-BF16 / AMX): then bf16 convs are ~4x faster."""
    import torch

    if os.environ.get("BRAINLENS_NO_BF16"):
        return False
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def autocast(device: Any, enabled: bool | None = None) -> contextlib.AbstractContextManager:
    """bfloat16 autocast on CPUs with native bf16 support (the model was trained under it), else a no-op."""
    import torch

    dev = torch.device(device)
    use = cpu_bf16_supported() if enabled is None else enabled
    if dev.type == "cpu" and use:
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()
