"""Batched 2D augmentation on the CPU with torch (vectorised, so it never dominates a training step)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def geometric(x: torch.Tensor, g: torch.Generator, max_rot_deg: float = 30.0, max_shear_deg: float = 10.0,
              crop_scale: tuple[float, float] = (0.9, 1.0)) -> torch.Tensor:
    """Seed-paper geometry: horizontal flip, rotation, shear, random resized crop (90-100 % of the area)."""
    b = x.shape[0]
    rot = (torch.rand(b, generator=g) * 2 - 1) * math.radians(max_rot_deg)
    shear = (torch.rand(b, generator=g) * 2 - 1) * math.radians(max_shear_deg)
    area = crop_scale[0] + torch.rand(b, generator=g) * (crop_scale[1] - crop_scale[0])
    zoom = area.sqrt()  # sampling grid spans this fraction of the image: a crop of that area
    flip = torch.where(torch.rand(b, generator=g) < 0.5, -1.0, 1.0)
    shift = (torch.rand(b, 2, generator=g) * 2 - 1) * (1 - zoom).unsqueeze(1)
    cos, sin, tan = torch.cos(rot), torch.sin(rot), torch.tan(shear)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = zoom * cos * flip
    theta[:, 0, 1] = zoom * (-sin + tan * cos)
    theta[:, 1, 0] = zoom * sin * flip
    theta[:, 1, 1] = zoom * cos
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def blur(x: torch.Tensor, g: torch.Generator, p: float = 0.3, max_sigma: float = 1.5) -> torch.Tensor:
    """Gaussian blur on a random subset of the batch."""
    chosen = torch.rand(x.shape[0], generator=g) < p
    if not chosen.any():
        return x
    sigma = 0.3 + torch.rand(1, generator=g).item() * (max_sigma - 0.3)
    r = torch.arange(-3, 4, dtype=torch.float32)
    k = torch.exp(-(r**2) / (2 * sigma**2))
    k = k / k.sum()
    y = x[chosen]
    y = F.conv2d(F.pad(y, (3, 3, 0, 0), mode="replicate"), k.view(1, 1, 1, 7))
    y = F.conv2d(F.pad(y, (0, 0, 3, 3), mode="replicate"), k.view(1, 1, 7, 1))
    out = x.clone()
    out[chosen] = y
    return out


def intensity(x01: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Gamma, contrast/brightness, random display window and noise on [0,1] images, so other sequences
    and DICOM windowing do not fool the model."""
    b = x01.shape[0]
    shape = (b, 1, 1, 1)
    gamma = torch.exp((torch.rand(shape, generator=g) * 2 - 1) * math.log(1.6))
    x = x01.clamp(0, 1) ** gamma
    contrast = 0.7 + 0.6 * torch.rand(shape, generator=g)
    bright = (torch.rand(shape, generator=g) * 2 - 1) * 0.1
    x = (x - 0.5) * contrast + 0.5 + bright
    lo = torch.rand(shape, generator=g) * 0.1
    hi = 1 - torch.rand(shape, generator=g) * 0.2
    windowed = ((x - lo) / (hi - lo)).clamp(0, 1)
    use_window = torch.rand(shape, generator=g) < 0.3
    x = torch.where(use_window, windowed, x)
    noise = torch.randn(x.shape, generator=g) * (torch.rand(shape, generator=g) * 0.05)
    return (x + noise).clamp(0, 1)


def standardize(x: torch.Tensor) -> torch.Tensor:
    """Per-image standardisation, the batched twin of classifier_preprocess.normalize."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    sd = x.std(dim=(1, 2, 3), keepdim=True, unbiased=False)
    return torch.where(sd > 1e-6, (x - mean) / sd.clamp_min(1e-6), torch.zeros_like(x))
