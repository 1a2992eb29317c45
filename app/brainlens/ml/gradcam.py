"""Grad-CAM heatmaps through the grad-cam package, returned on the ORIGINAL image grid so they overlay exactly.

The package registers forward hooks on the model it is given; it works on a private copy of the network
(kept on the Classifier) so plain classification never pays for, or races with, those hooks. Only the
target layer's parameters track gradients, so the backward pass is a fraction of a full one; the map is
the same (Grad-CAM needs d(class score)/d(target activations) only).

The last stage's map is coarse (5x5 for EfficientNet-Lite0), so one pass can only put its peak near a cell
centre, often at the lesion's edge. The manifest may name several views of the slice (``gradcam_views``:
shifted by a fraction of a cell, mirrored); their maps are moved back and averaged in one batched pass,
which places the peak between cell centres. The evaluation script chooses the views on training-fold
studies by the pointing game.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from brainlens.core.errors import InputError
from brainlens.ml.classifier_engine import CAM_VIEWS, Classifier, gradcam_layer
from brainlens.ml.classifier_preprocess import Prepared, preprocess, to_original_grid
from brainlens.ml.classify import check_image


def _views(tensor: torch.Tensor, views: tuple[tuple[int, int, bool], ...]) -> torch.Tensor:
    out = []
    for dx, dy, mirrored in views:
        t = tensor.flip(-1) if mirrored else tensor
        out.append(torch.roll(t, (dy, dx), (-2, -1)))
    return torch.cat(out)


def _undo_views(heats: np.ndarray, views: tuple[tuple[int, int, bool], ...]) -> np.ndarray:
    """Each view's map moved back onto the unshifted slice, averaged, rescaled to a peak of 1."""
    acc = np.zeros(heats.shape[1:], np.float64)
    for heat, (dx, dy, mirrored) in zip(heats, views):
        back = np.roll(heat, (-dy, -dx), (0, 1))
        acc += back[:, ::-1] if mirrored else back
    peak = acc.max()
    return (acc / peak if peak > 0 else acc).astype(np.float32)


def _cam_net(clf: Classifier) -> torch.nn.Module:
    if clf.cam_net is None:
        net = copy.deepcopy(clf.net).eval()
        # Only the target stage tracks gradients: its output then requires grad (so the package's hook
        # fires) and backward stops there instead of running through the whole network.
        for p in net.parameters():
            p.requires_grad_(False)
        # The target stage may hold no parameters (GBMnet's last max-pool): use the nearest one that does.
        stages = list(net.features)
        for stage in reversed(stages[:stages.index(gradcam_layer(net)) + 1]):
            params = list(stage.parameters())
            if params:
                for p in params:
                    p.requires_grad_(True)
                break
        clf.cam_net = net
    return clf.cam_net


def gradcam(image: np.ndarray, model: Classifier, target: int | str | None = None,
            prepared: tuple[np.ndarray, Prepared] | None = None) -> tuple[np.ndarray, int]:
    """(heatmap in [0, 1] with the input image's 2D shape, class index explained).

    target: class index or name; None explains the predicted class. `prepared` reuses a preprocess() result.
    """
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    x, prep = prepared if prepared is not None else preprocess(check_image(image))
    net = _cam_net(model)
    tensor = torch.from_numpy(np.ascontiguousarray(x, np.float32))[None, None].to(model.device)
    if isinstance(target, str):
        if target not in model.labels:
            raise InputError(f"unknown class '{target}'; choose one of: {', '.join(model.labels)}")
        target = model.labels.index(target)
    if target is None:
        with torch.inference_mode():
            target = int(net(tensor).argmax(1).item())
    if not 0 <= int(target) < len(model.labels):
        raise InputError(f"class index {target} out of range 0..{len(model.labels) - 1}")
    views = CAM_VIEWS[getattr(net, "cam_views", "single")]
    with torch.enable_grad(), GradCAM(model=net, target_layers=[gradcam_layer(net)]) as cam:
        heats = cam(input_tensor=_views(tensor, views), targets=[ClassifierOutputTarget(int(target))] * len(views))
    heat = _undo_views(np.asarray(heats), views)
    if prep.blank:
        heat = np.zeros_like(heat)  # nothing to explain on a constant image
    return np.clip(to_original_grid(heat, prep), 0.0, 1.0), int(target)


def overlay(grey: np.ndarray, heat: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """RGB uint8: the jet colormap of `heat` blended over the grey image (both on the same grid)."""
    import cv2

    from brainlens.ml.classifier_preprocess import robust_uint8, to_grey

    g8, _ = robust_uint8(to_grey(check_image(grey)))
    if g8.shape != heat.shape:
        raise InputError(f"heatmap shape {heat.shape} does not match image shape {g8.shape}")
    colour = cv2.applyColorMap((np.clip(heat, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    base = np.repeat(g8[..., None], 3, axis=2).astype(np.float32)
    # Weight the colour by the heat itself so cold regions keep the plain anatomy visible.
    w = (alpha * np.clip(heat, 0, 1))[..., None]
    return (base * (1 - w) + colour.astype(np.float32) * w).round().clip(0, 255).astype(np.uint8)
