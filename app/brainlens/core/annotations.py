"""Reader measurements on a slice (numpy only): a ruler in mm and elliptical / free-hand ROIs with area,
mean and standard deviation, kept in a store (the window's Edit > Undo takes steps back).

Points are canonical voxel coordinates (float) along the plane's two in-plane axes (``PLANE_AXES``); the
slice is the canonical index along the plane normal. Distances and areas use the series' voxel spacing, so
they are physical on anisotropic grids. An ROI's statistics are over the pixels whose centres lie inside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from brainlens.core.geometry import PLANE_NORMAL_AXIS
from brainlens.core.scene import PLANE_AXES, Event, SeriesDisplay

KINDS = ("ruler", "ellipse", "freehand")


@dataclass(eq=False)
class Annotation:
    kind: str
    plane: str
    slice_index: int
    points: np.ndarray  # (n, 2) canonical voxel coords (h, v); ruler: 2 ends; ellipse: 2 bbox corners
    series: SeriesDisplay
    name: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"annotation kind must be one of {KINDS}")
        self.points = np.asarray(self.points, dtype=np.float64).reshape(-1, 2)

    def spacing(self) -> np.ndarray:
        sp = self.series.canonical.spacing
        h, v = PLANE_AXES[self.plane]
        return np.array([sp[h], sp[v]])

    def points_mm(self) -> np.ndarray:
        return self.points * self.spacing()

    def outline(self, n: int = 64) -> np.ndarray:
        """Closed outline in voxel coords (h, v) for drawing: the polygon, or the ellipse sampled."""
        if self.kind == "ellipse":
            (h0, v0), (h1, v1) = self.points
            t = np.linspace(0, 2 * np.pi, n)
            return np.column_stack([(h0 + h1) / 2 + abs(h1 - h0) / 2 * np.cos(t),
                                    (v0 + v1) / 2 + abs(v1 - v0) / 2 * np.sin(t)])
        return np.vstack([self.points, self.points[:1]]) if self.kind == "freehand" else self.points

    def length_mm(self) -> float:
        d = np.diff(self.points_mm()[:2], axis=0)
        return float(np.linalg.norm(d))

    def area_mm2(self) -> float:
        if self.kind == "ellipse":
            a, b = np.abs(np.diff(self.points_mm()[:2], axis=0)[0]) / 2
            return float(np.pi * a * b)
        x, y = self.points_mm().T  # shoelace
        return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)

    def mask(self, shape2d: tuple[int, int]) -> np.ndarray:
        """Boolean (h, v) mask of the slice's pixels whose centres are inside the ROI."""
        hh, vv = np.meshgrid(np.arange(shape2d[0]), np.arange(shape2d[1]), indexing="ij")
        if self.kind == "ellipse":
            (h0, v0), (h1, v1) = self.points
            a, b = max(abs(h1 - h0) / 2, 1e-9), max(abs(v1 - v0) / 2, 1e-9)
            return ((hh - (h0 + h1) / 2) / a) ** 2 + ((vv - (v0 + v1) / 2) / b) ** 2 <= 1.0
        return _inside_polygon(hh, vv, self.points)

    def slice_data(self) -> np.ndarray:
        data = self.series.canonical.data
        return np.take(data, self.slice_index, axis=PLANE_NORMAL_AXIS[self.plane])

    def stats(self) -> dict[str, float]:
        """Ruler: length_mm. ROI: area_mm2, mean, sd (population), n (pixels), min, max."""
        if self.kind == "ruler":
            return {"length_mm": self.length_mm()}
        values = self.slice_data()[self.mask(self.slice_data().shape)].astype(np.float64)
        out = {"area_mm2": self.area_mm2(), "n": float(values.size)}
        if values.size:
            out.update(mean=float(values.mean()), sd=float(values.std()), min=float(values.min()),
                       max=float(values.max()))
        return out

    def short_label(self) -> str:
        """What is written beside the drawing in the view (the panel has the full summary)."""
        s = self.stats()
        if self.kind == "ruler":
            return f"{self.name}: {s['length_mm']:.1f} mm"
        return f"{self.name}: mean {s['mean']:.4g}" if s["n"] else self.name

    def points_ras_mm(self) -> np.ndarray:
        """The defining points in world (RAS) millimetres: the plane's two axes plus the slice along its normal."""
        h, v = PLANE_AXES[self.plane]
        voxels = np.zeros((len(self.points), 4))
        voxels[:, h], voxels[:, v] = self.points[:, 0], self.points[:, 1]
        voxels[:, PLANE_NORMAL_AXIS[self.plane]] = self.slice_index
        voxels[:, 3] = 1.0
        return (voxels @ self.series.canonical.affine.T)[:, :3]

    def to_dict(self) -> dict[str, object]:
        """What an export keeps of it: where it is (series, plane, 1-based slice, RAS points) and its numbers."""
        return {"name": self.name, "kind": self.kind, "series": self.series.source.name, "plane": self.plane,
                "slice": self.slice_index + 1, "points_ras_mm": np.round(self.points_ras_mm(), 3).tolist(),
                **{k: (int(v) if k == "n" else round(v, 4)) for k, v in self.stats().items()}}

    def summary(self) -> str:
        s = self.stats()
        where = f"{self.plane} {self.slice_index + 1}"
        if self.kind == "ruler":
            return f"{self.name}: {s['length_mm']:.1f} mm ({where})"
        if not s["n"]:
            return f"{self.name}: area {s['area_mm2']:.1f} mm², no pixel inside ({where})"
        return (f"{self.name}: area {s['area_mm2']:.1f} mm², mean {s['mean']:.4g}, sd {s['sd']:.3g}, "
                f"n {int(s['n'])} ({where})")


def _inside_polygon(hh: np.ndarray, vv: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd rule, vectorised over the pixel grid, one polygon edge at a time."""
    inside = np.zeros(hh.shape, dtype=bool)
    n = len(poly)
    if n < 3:
        return inside
    for k in range(n):
        (x0, y0), (x1, y1) = poly[k], poly[(k + 1) % n]
        if y0 == y1:
            continue
        crosses = (vv >= min(y0, y1)) & (vv < max(y0, y1))
        x_at = x0 + (vv - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (hh < x_at)
    return inside


@dataclass
class AnnotationStore:
    """The study's measurements; ``changed`` fires after every add / remove / insert (undo lives in the
    window's history, which calls ``remove`` / ``insert`` to take a step back)."""

    items: list[Annotation] = field(default_factory=list)
    changed: Event = field(default_factory=Event, repr=False)
    _counts: dict[str, int] = field(default_factory=dict, repr=False)

    def add(self, ann: Annotation) -> Annotation:
        if not ann.name:
            self._counts[ann.kind] = self._counts.get(ann.kind, 0) + 1
            ann.name = f"{ann.kind.capitalize()} {self._counts[ann.kind]}"
        self.items.append(ann)
        self.changed.emit()
        return ann

    def remove(self, ann: Annotation) -> int:
        """Remove ``ann``; returns where it was (for putting it back)."""
        index = self.items.index(ann)
        self.items.pop(index)
        self.changed.emit()
        return index

    def insert(self, index: int, ann: Annotation) -> None:
        self.items.insert(min(max(index, 0), len(self.items)), ann)
        self.changed.emit()

    def clear(self) -> None:
        self.items.clear()
        self._counts.clear()
        self.changed.emit()

    def on_slice(self, series: SeriesDisplay | None, plane: str, slice_index: int) -> list[Annotation]:
        return [a for a in self.items if a.series is series and a.plane == plane and a.slice_index == slice_index]
