"""Partial-label Dice + BCE for the WT / TC / ET sigmoid outputs.

Clinical FLAIR studies are labelled for the whole tumour only. Their TC / ET channels carry no
information, so a sample's channel enters the loss only where ``known[b, c]`` is true; an all-unknown
channel in a batch contributes nothing (not a zero-Dice penalty that would teach "no core").
"""

from __future__ import annotations

from typing import Any


def partial_dice_bce(logits: Any, target: Any, known: Any, smooth: float = 1e-5) -> Any:
    """Mean over channels of (soft Dice loss pooled over the known samples + BCE over their voxels).

    logits, target: (B, C, X, Y, Z); known: (B, C) bool.
    """
    import torch
    import torch.nn.functional as F

    b, c = known.shape
    weight = known.to(logits.dtype).view(b, c, *([1] * (logits.dim() - 2))).expand_as(logits)
    prob = torch.sigmoid(logits)
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    dims = [0] + list(range(2, logits.dim()))  # pool the batch (BraTS "batch Dice") and space
    inter = (prob * target * weight).sum(dims)
    denom = ((prob + target) * weight).sum(dims)
    dice_loss = 1 - (2 * inter + smooth) / (denom + smooth)
    voxels = weight.sum(dims)
    bce_c = (bce * weight).sum(dims) / voxels.clamp_min(1)
    has = known.any(0)
    if not bool(has.any()):
        return (logits * 0).sum()
    return ((dice_loss + bce_c)[has]).mean()
