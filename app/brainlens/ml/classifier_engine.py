"""The loaded tumour-type classifier: network, calibration and thresholds from the registry, batched inference.

One forward path serves the product, the CLI, the benchmarks and the evaluation script:

    embedding = body(x)                      (deterministic, BatchNorm in eval mode)
    logits    = head(dropout(embedding))     (dropout off; on with fixed masks for Monte-Carlo samples)

Both networks have their only dropout directly before the last linear layer, so Monte-Carlo dropout
(dropout on, BatchNorm in eval) is computed exactly by sampling masks on the embedding and re-running the
head: MC samples then cost almost nothing, and a seeded generator makes results reproducible. On CPU the body
runs on ONNX Runtime when the model ships an export of it (ml.classifier_onnx); the rest stays here.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from brainlens.core.errors import ModelError
from brainlens.ml import classifier_onnx, classifier_ood
from brainlens.ml.classifier_default import default_classifier
from brainlens.ml.classifier_models import CLASS_NAMES, BrainResNet, EffLiteNet, GBMNet, build_model
from brainlens.ml.device import choose_device
from brainlens.ml.registry import load_weights, models_dir

if TYPE_CHECKING:
    from brainlens.ml.registry import ModelEntry

PREPROCESS_ID = "gbmnet-crop-v1"
DEFAULT_MC_SAMPLES = 16
MC_SEED = 1234  # fixed masks: the same image always gets the same uncertainty


def embed(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Features right before the dropout + last linear layer (used for the OOD distance and MC dropout)."""
    if isinstance(net, (BrainResNet, EffLiteNet)):
        return net.embed(x)
    if isinstance(net, GBMNet):
        return net.classifier[:3](net.features(x))  # flatten, FC 512, ReLU
    raise ModelError(f"unsupported classifier network {type(net).__name__}")


def _dropout_and_fc(net: nn.Module) -> tuple[float, nn.Linear]:
    if isinstance(net, (BrainResNet, EffLiteNet)):
        return float(net.dropout.p), net.fc
    if isinstance(net, GBMNet):
        return float(net.classifier[3].p), net.classifier[4]
    raise ModelError(f"unsupported classifier network {type(net).__name__}")


def head(net: nn.Module, emb: torch.Tensor) -> torch.Tensor:
    """Logits from embeddings with dropout off (eval mode)."""
    return _dropout_and_fc(net)[1](emb)


def head_mc(net: nn.Module, emb: torch.Tensor, samples: int, generator: torch.Generator) -> torch.Tensor:
    """(samples, B, C) logits with independent dropout masks: exactly MC dropout with BatchNorm in eval."""
    p, fc = _dropout_and_fc(net)
    # One set of masks shared by the batch: an image's result does not depend on its batch neighbours.
    keep = torch.full((samples, 1, emb.shape[1]), 1.0 - p)
    masks = torch.bernoulli(keep, generator=generator).to(emb.device) / (1.0 - p)
    return fc(emb.unsqueeze(0) * masks)


def fuse_batchnorm(net: nn.Module) -> nn.Module:
    """Fold each eval-mode BatchNorm into the convolution registered right before it (same outputs, fewer
    passes over memory). All networks register conv then its BatchNorm in execution order."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for parent in list(net.modules()):
        children = list(parent.named_children())
        for (name_a, a), (name_b, b) in zip(children, children[1:]):
            if isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d) and a.out_channels == b.num_features:
                setattr(parent, name_a, fuse_conv_bn_eval(a, b))
                setattr(parent, name_b, nn.Identity())
    return net


def fold_symmetric_padding(net: nn.Module) -> nn.Module:
    """Move an explicit zero pad (EfficientNet-Lite's 'same' padding layer) into its convolution when it pads
    all four sides alike: same outputs, one copy of the activations fewer. Stride-2 pads are one-sided and stay."""
    for module in net.modules():
        pad = getattr(module, "static_padding", None)
        if isinstance(module, nn.Conv2d) and isinstance(pad, nn.ZeroPad2d) and len(set(pad.padding)) == 1:
            module.padding = (pad.padding[0], pad.padding[0])
            module.static_padding = nn.Identity()
    return net


def activations_in_place(net: nn.Module) -> nn.Module:
    """ReLU / ReLU6 overwrite their input: at inference nothing reads a convolution's output twice."""
    for module in net.modules():
        if isinstance(module, (nn.ReLU, nn.ReLU6)):
            module.inplace = True
    return net


def optimise_for_inference(net: nn.Module, device: torch.device) -> nn.Module:
    """Eval mode, BatchNorm and symmetric pads folded, activations in place, no gradients; channels-last on
    CPU (about 1.5x faster convolutions). The outputs are those of the trained network, bit for bit on CPU."""
    net = activations_in_place(fold_symmetric_padding(fuse_batchnorm(net.to(device).eval())))
    for p in net.parameters():
        p.requires_grad_(False)  # inference only; Grad-CAM works on its own copy
    if device.type == "cpu":
        net = net.to(memory_format=torch.channels_last)
    return net


# Views of a slice that Grad-CAM averages (ml.gradcam): (dx, dy, mirrored), in pixels of the 256-px input.
CAM_VIEWS: dict[str, tuple[tuple[int, int, bool], ...]] = {
    "single": ((0, 0, False),),
    "shift": ((0, 0, False), (16, 16, False)),
    "flip": ((0, 0, False), (0, 0, True)),
    "shift+flip": ((0, 0, False), (16, 16, False), (0, 0, True), (16, 16, True)),
}


def gradcam_layer(net: nn.Module) -> nn.Module:
    """Where Grad-CAM reads activations and gradients: the last stage, unless the manifest names another
    (``gradcam_stage``, chosen by the evaluation script for a finer map)."""
    return net.features[getattr(net, "cam_stage", -1)]


@dataclass
class BatchOutput:
    """Per-image arrays for a batch (numpy, CPU)."""

    probabilities: np.ndarray  # (B, C) calibrated predictive mean
    logits: np.ndarray  # (B, C) eval-mode logits of the unflipped view, before temperature
    entropy: np.ndarray  # (B,) predictive entropy of `probabilities`, nats
    mutual_information: np.ndarray  # (B,) entropy minus mean per-sample entropy (epistemic part)
    ood_score: np.ndarray  # (B,) Mahalanobis distance of the embedding to the nearest class mean
    embedding: np.ndarray  # (B, D)


@dataclass
class Classifier:
    """A ready-to-run classifier. Build it with load_classifier(); keep it and pass it to classify()."""

    name: str
    version: str
    arch: str
    net: nn.Module
    device: torch.device
    labels: tuple[str, ...] = CLASS_NAMES
    temperature: float = 1.0
    entropy_threshold: float = float("inf")
    ood_threshold: float = float("inf")
    ood: classifier_ood.OODStats | None = None
    mc_samples: int = DEFAULT_MC_SAMPLES
    entry: ModelEntry | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    cam_net: nn.Module | None = field(default=None, repr=False)  # Grad-CAM's hooked copy, made on first use
    trunk: classifier_onnx.OnnxTrunk | None = field(default=None, repr=False)  # ONNX Runtime path on CPU

    @property
    def tag(self) -> str:
        return f"{self.name} {self.version}"

    @torch.inference_mode()
    def sample_logits(self, x: torch.Tensor, mc_samples: int | None = None,
                      tta: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, 1, 256, 256) standardised images -> ((S, B, C) logits before temperature, (B, D) embedding).

        Samples = views (original, + horizontal flip when tta) x (eval-mode pass + `mc_samples` dropout passes).
        """
        samples = self.mc_samples if mc_samples is None else max(0, int(mc_samples))
        x = x.to(self.device, torch.float32)
        b = x.shape[0]
        views = torch.cat([x, torch.flip(x, dims=[-1])]) if tta else x
        if self.device.type == "cpu":
            views = views.contiguous(memory_format=torch.channels_last)
        if self.trunk is not None:
            emb = self.trunk(classifier_onnx.trunk_input(self.net, views))  # (V*B, D)
        else:
            emb = embed(self.net, views)
        logits = head(self.net, emb).unsqueeze(0)  # (1, V*B, C)
        if samples:
            g = torch.Generator().manual_seed(MC_SEED)
            logits = torch.cat([logits, head_mc(self.net, emb, samples, g)])
        n_views = views.shape[0] // b
        logits = logits.float().reshape(logits.shape[0], n_views, b, -1).flatten(0, 1)  # (S*V, B, C)
        return logits.cpu(), emb[:b].float().cpu()

    def predict(self, x: torch.Tensor, mc_samples: int | None = None, tta: bool = True,
                temperature: float | None = None) -> BatchOutput:
        """Calibrated predictive mean over all samples, its entropy, mutual information and the OOD score."""
        t = self.temperature if temperature is None else float(temperature)
        logits, emb0 = self.sample_logits(x, mc_samples, tta)
        per_sample = torch.softmax(logits / t, dim=-1)
        mean = per_sample.mean(0)
        entropy = _entropy(mean)
        mi = (entropy - _entropy(per_sample).mean(0)).clamp_min(0.0)
        score = classifier_ood.mahalanobis(emb0, self.ood) if self.ood is not None else torch.zeros(len(emb0))
        return BatchOutput(mean.numpy(), logits[0].numpy(), entropy.numpy(), mi.numpy(), score.numpy(),
                           emb0.numpy())


def _entropy(p: torch.Tensor) -> torch.Tensor:
    return -(p * torch.log(p.clamp_min(1e-12))).sum(-1)


def load_classifier(name: str | None = None, device: str = "auto",
                    directory: Path | str | None = None, onnx: bool = True) -> Classifier:
    """Load a bundled classifier (hash-checked safetensors) with its calibration and thresholds.
    name=None: default_classifier(). On CPU the trunk runs on ONNX Runtime when the model ships an ONNX
    export (ml.classifier_onnx), unless onnx=False."""
    state, entry = load_weights(name or default_classifier(directory), directory)
    name = entry.name
    if entry.kind != "classifier":
        raise ModelError(f"model '{name}' is a {entry.kind}, not a classifier")
    if entry.input.get("preprocess") != PREPROCESS_ID:
        raise ModelError(f"model '{name}' expects preprocessing {entry.input.get('preprocess')!r}, "
                         f"this BrainLens provides {PREPROCESS_ID!r}: update BrainLens")
    if tuple(entry.labels) != CLASS_NAMES:
        raise ModelError(f"model '{name}' has classes {entry.labels}, expected {list(CLASS_NAMES)}")
    extra = dict(entry.extra)
    arch = str(extra.get("arch", name))
    net_state, ood_tensors = classifier_ood.split_state(state)
    try:
        net = build_model(arch, input_size=extra.get("input_size"))
        net.load_state_dict(net_state)
    except (ValueError, RuntimeError) as exc:
        raise ModelError(f"model '{name}' weights do not fit architecture {arch!r}: reinstall BrainLens") from exc
    if "gradcam_stage" in extra:
        net.cam_stage = int(extra["gradcam_stage"])
    views = extra.get("gradcam_views", "single")
    if views not in CAM_VIEWS:
        raise ModelError(f"model '{name}': unknown gradcam_views {views!r}; known: {', '.join(CAM_VIEWS)}")
    net.cam_views = views
    dev = choose_device(device)
    net = optimise_for_inference(net, dev)
    ood = classifier_ood.OODStats.from_tensors(ood_tensors, float(extra.get("ood_feature_scale", 1.0))) \
        if ood_tensors else None
    trunk = classifier_onnx.load_trunk(entry, models_dir() if directory is None else Path(directory)) \
        if onnx and dev.type == "cpu" else None
    return Classifier(name=entry.name, version=entry.version, arch=arch, net=net, device=dev, trunk=trunk,
                      temperature=float(extra.get("temperature", 1.0)),
                      entropy_threshold=float(extra.get("entropy_threshold", float("inf"))),
                      ood_threshold=float(extra.get("ood_threshold", float("inf"))), ood=ood,
                      mc_samples=int(extra.get("mc_samples", DEFAULT_MC_SAMPLES)), entry=entry, extra=extra)


def from_network(net: nn.Module, name: str, arch: str, device: str = "cpu", **kwargs: Any) -> Classifier:
    """Wrap an in-memory network (the evaluation script, before export) in the same engine."""
    dev = choose_device(device)
    net = optimise_for_inference(copy.deepcopy(net), dev)
    return Classifier(name=name, version=kwargs.pop("version", "dev"), arch=arch, net=net, device=dev, **kwargs)


def entropy_of(probabilities: np.ndarray) -> np.ndarray:
    """Entropy in nats of rows of probabilities (numpy twin of the engine's, for scripts)."""
    p = np.clip(probabilities, 1e-12, 1.0)
    return -(probabilities * np.log(p)).sum(-1)


def softmax_t(logits: np.ndarray, temperature: float) -> np.ndarray:
    return F.softmax(torch.from_numpy(np.asarray(logits, np.float32)) / temperature, dim=-1).numpy()
