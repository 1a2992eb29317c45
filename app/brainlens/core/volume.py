"""Qt-free data classes: a Volume (one series as a 3D array with its geometry) and a Study."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SEQUENCES = ("flair", "t1", "t1ce", "t2")


@dataclass
class Volume:
    """One image series on its source voxel grid.

    ``data`` is indexed (i, j, k) as stored; ``affine`` maps voxel (i, j, k, 1) to RAS millimetres.
    Results (masks, heatmaps) live on this same grid so export writes the source geometry back out.
    """

    data: np.ndarray
    affine: np.ndarray
    name: str = ""
    sequence: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    spacing_known: bool = True

    def __post_init__(self) -> None:
        if self.data.ndim == 2:
            self.data = self.data[:, :, np.newaxis]
        if self.data.ndim != 3:
            raise ValueError(f"a Volume is 3D, got shape {self.data.shape}")
        self.affine = np.asarray(self.affine, dtype=np.float64).reshape(4, 4)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.data.shape)  # type: ignore[return-value]

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size in mm along i, j, k (column norms of the affine)."""
        return tuple(float(s) for s in np.linalg.norm(self.affine[:3, :3], axis=0))  # type: ignore[return-value]

    def with_data(self, data: np.ndarray, name: str | None = None) -> Volume:
        """A volume on the same grid carrying other voxel values (a mask, a map)."""
        if data.shape[:3] != self.data.shape:
            raise ValueError(f"shape {data.shape} does not match grid {self.data.shape}")
        return Volume(data, self.affine.copy(), name or self.name, self.sequence, dict(self.metadata),
                      [], self.spacing_known)


@dataclass
class Study:
    """What one ``load(path)`` returns: the series found, in display order."""

    series: list[Volume]
    source: Path
    warnings: list[str] = field(default_factory=list)

    def by_sequence(self) -> dict[str, Volume]:
        """First series of each detected sequence type."""
        found: dict[str, Volume] = {}
        for vol in self.series:
            if vol.sequence and vol.sequence not in found:
                found[vol.sequence] = vol
        return found
