"""Colour lookup tables as uint8 RGBA arrays of at most 256 entries (numpy only).

Renderers index these with fixed levels, so a LUT is built once per layer, never per slice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from brainlens.core.labels import LABEL_COLORS

_FALLBACK = [(31, 119, 180), (255, 127, 14), (148, 103, 189), (23, 190, 207), (227, 119, 194),
             (140, 86, 75), (188, 189, 34), (127, 127, 127)]

# colormap anchor points (position 0..1, RGB)
_ANCHORS: dict[str, list[tuple[float, tuple[int, int, int]]]] = {
    "gray": [(0.0, (0, 0, 0)), (1.0, (255, 255, 255))],
    "hot": [(0.0, (40, 0, 0)), (0.35, (230, 30, 0)), (0.7, (255, 200, 0)), (1.0, (255, 255, 240))],
    "inferno": [(0.0, (0, 0, 4)), (0.25, (87, 16, 110)), (0.5, (188, 55, 84)), (0.75, (249, 142, 9)),
                (1.0, (252, 255, 164))],
    "cool": [(0.0, (0, 255, 255)), (1.0, (255, 0, 255))],
}
COLORMAPS = tuple(_ANCHORS)


def colormap_lut(name: str = "gray", n: int = 256, alpha: int = 255, transparent_below: bool = False
                 ) -> np.ndarray:
    """An (n, 4) uint8 RGBA table interpolated from the named map.

    ``transparent_below`` makes entry 0 fully transparent, so values clipped to the lower level (under a
    heatmap's threshold) show the image underneath.
    """
    if name not in _ANCHORS:
        raise ValueError(f"unknown colormap {name!r}; choose from {', '.join(COLORMAPS)}")
    if not 2 <= n <= 256:
        raise ValueError("a LUT has 2..256 entries")
    pos = np.array([p for p, _ in _ANCHORS[name]])
    rgb = np.array([c for _, c in _ANCHORS[name]], dtype=np.float64)
    t = np.linspace(0.0, 1.0, n)
    lut = np.empty((n, 4), dtype=np.uint8)
    for ch in range(3):
        lut[:, ch] = np.round(np.interp(t, pos, rgb[:, ch])).astype(np.uint8)
    lut[:, 3] = alpha
    if transparent_below:
        lut[0, 3] = 0
    return lut


def label_color(label: int) -> tuple[int, int, int]:
    return LABEL_COLORS.get(label, _FALLBACK[label % len(_FALLBACK)])


def label_lut(colors: Mapping[int, tuple[int, int, int]] | None = None,
              visible: Iterable[int] | None = None) -> np.ndarray:
    """(256, 4) uint8 RGBA for label values 0..255: 0 is transparent, hidden labels are transparent.

    ``colors`` defaults to the BraTS colours and a fallback palette; ``visible`` None shows every label.
    """
    lut = np.zeros((256, 4), dtype=np.uint8)
    shown = None if visible is None else {int(v) for v in visible}
    for value in range(1, 256):
        if shown is not None and value not in shown:
            continue
        rgb = (colors or {}).get(value) or label_color(value)
        lut[value, :3] = rgb
        lut[value, 3] = 255
    return lut
