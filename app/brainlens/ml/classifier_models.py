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


ARCHITECTURES = {"gbmnet": GBMNet, "brainresnet": BrainResNet}


def build_model(arch: str, num_classes: int = len(CLASS_NAMES)) -> nn.Module:
    try:
        return ARCHITECTURES[arch](num_classes=num_classes)
    except KeyError:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(ARCHITECTURES)}") from None


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
