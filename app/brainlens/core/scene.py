"""The viewer's model, Qt-free: the series on show, one world cursor, window/level and overlay layers.

Widgets listen to the ``Event`` attributes and never keep their own copy of this state. Display arrays are
the closest-canonical RAS reorientation of each source volume (``SeriesDisplay``), prepared once at load
(on a worker); layers live on that canonical grid and remember the reorientation to go back to the source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from brainlens.core import window_level
from brainlens.core.colors import colormap_lut, label_lut
from brainlens.core.geometry import PLANE_NORMAL_AXIS, Reorientation, to_canonical
from brainlens.core.label_edit import LabelHistory
from brainlens.core.labels import LABEL_NAMES
from brainlens.core.volume import Volume

# (horizontal, vertical) canonical axes of each plane's 2D slice
PLANE_AXES = {"axial": (0, 1), "coronal": (0, 2), "sagittal": (1, 2)}
# name -> percentiles (see core.window_level, which also clamps and scales the right-drag)
WINDOW_PRESETS = window_level.PRESETS
DEFAULT_PRESET = window_level.DEFAULT


class Event:
    """A minimal observer list; callbacks run synchronously on the caller's thread (the GUI's)."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[..., None]] = []

    def connect(self, callback: Callable[..., None]) -> None:
        if callback not in self._callbacks:
            self._callbacks.append(callback)

    def disconnect(self, callback: Callable[..., None]) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, *args: object) -> None:
        for cb in list(self._callbacks):
            cb(*args)


percentile_levels = window_level.percentile_levels


@dataclass
class SeriesDisplay:
    """One source series plus what display needs, computed once (on a worker) per volume."""

    source: Volume
    canonical: Volume
    reorientation: Reorientation
    levels: tuple[float, float]
    data_range: tuple[float, float]

    @classmethod
    def prepare(cls, vol: Volume) -> SeriesDisplay:
        canon, reo = to_canonical(vol)
        levels = window_level.preset_levels(canon.data, DEFAULT_PRESET)
        rng = percentile_levels(canon.data, 0.0, 100.0)
        return cls(vol, canon, reo, levels, rng)

    @property
    def is_label(self) -> bool:
        return bool(self.source.metadata.get("is_label"))


@dataclass(eq=False)
class Layer:
    """An overlay on a canonical grid with its display state; ``changed`` fires after ``update``."""

    name: str
    data: np.ndarray
    affine: np.ndarray
    visible: bool = True
    opacity: float = 0.6
    changed: Event = field(default_factory=Event, repr=False)
    # where the data came from: the source grid and the reorientation that made ``data`` from it
    source: Volume | None = field(default=None, repr=False)
    reorientation: Reorientation | None = field(default=None, repr=False)

    def update(self, **changes: object) -> None:
        for key, value in changes.items():
            if not hasattr(self, key) or key in _NOT_DISPLAY:
                raise AttributeError(f"{type(self).__name__} has no display setting {key!r}")
            setattr(self, key, value)
        self.opacity = float(np.clip(self.opacity, 0.0, 1.0))
        self.changed.emit(self)

    def source_data(self) -> np.ndarray:
        """The layer's values on its source grid (what export writes), bit-exact inverse of the display."""
        if self.reorientation is None:
            raise ValueError(f"layer {self.name!r} does not know its source grid")
        return np.ascontiguousarray(self.reorientation.invert(self.data))

    def source_volume(self, name: str | None = None) -> Volume:
        """A Volume on the source grid with the source affine, ready to save."""
        if self.source is None:
            raise ValueError(f"layer {self.name!r} does not know its source grid")
        return self.source.with_data(self.source_data(), name or self.name)

    def fits(self, series: SeriesDisplay | None) -> bool:
        """True when this layer lies on the grid of ``series`` (so it can be drawn over it)."""
        return (series is not None and self.data.shape == series.canonical.shape
                and np.allclose(self.affine, series.canonical.affine, atol=1e-3))


@dataclass(eq=False)
class LabelLayer(Layer):
    """uint8 labels; ``outline`` draws only borders; ``hidden_labels`` are not drawn."""

    outline: bool = False
    hidden_labels: frozenset[int] = frozenset()
    colors: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    label_names: dict[int, str] = field(default_factory=lambda: dict(LABEL_NAMES))
    present: tuple[int, ...] = ()
    # "automatic" (a model: origin["model"], origin["version"]), "manual" or "file"
    origin: dict[str, str] = field(default_factory=lambda: {"kind": "file"})
    edited: bool = False
    history: LabelHistory = field(default_factory=LabelHistory, repr=False)
    stepped: Event = field(default_factory=Event, repr=False)  # an undoable edit step was completed

    def __post_init__(self) -> None:
        self.data = np.ascontiguousarray(self.data, dtype=np.uint8)
        if not self.present:
            self._count_present()

    def _count_present(self) -> None:
        counts = np.bincount(self.data.reshape(-1), minlength=256)  # much faster than np.unique here
        self.present = tuple(int(v) for v in np.flatnonzero(counts[1:]) + 1)

    # ---- editing (one stroke = one undo step) --------------------------------------------------------
    def begin_stroke(self) -> None:
        self.history.begin()

    def end_stroke(self) -> None:
        if self.history.end(self.data) is not None:
            self._edited()
            self.stepped.emit(self)

    def paint(self, indices: np.ndarray, value: int) -> bool:
        """Set the voxels (flat canonical indices) to ``value``; inside begin/end_stroke they form one step."""
        if not 0 <= int(value) <= 255:
            raise ValueError(f"label value {value} outside 0..255")
        open_stroke = self.history.stroke_open
        if not self.history.write(self.data, indices, int(value)):
            return False
        if not open_stroke:
            self._edited()
            self.stepped.emit(self)
        else:
            self._refresh()
        return True

    def erase(self, indices: np.ndarray) -> bool:
        return self.paint(indices, 0)

    def undo(self) -> bool:
        if self.history.undo(self.data) is None:
            return False
        self._edited()
        return True

    def redo(self) -> bool:
        if self.history.redo(self.data) is None:
            return False
        self._edited()
        self.stepped.emit(self)  # a redone step can be undone again
        return True

    def _edited(self) -> None:
        self.edited = bool(self.history.undo_stack) or self.edited
        self._refresh()

    def _refresh(self) -> None:
        self._count_present()
        self.changed.emit(self)

    def lut(self) -> np.ndarray:
        return label_lut(self.colors, [v for v in self.present if v not in self.hidden_labels])

    def describe(self, value: int) -> tuple[int, str]:
        """(value, its name) for the status bar; 0 is background."""
        return value, ("background" if value == 0 else self.label_names.get(value, f"label {value}"))

    @property
    def levels(self) -> tuple[float, float]:
        return 0.0, 255.0


@dataclass(eq=False)
class HeatmapLayer(Layer):
    """A float map drawn with a colormap; values at or below ``threshold`` are transparent."""

    colormap: str = "hot"
    threshold: float = 0.0
    vmax: float = 1.0

    def __post_init__(self) -> None:
        self.data = np.ascontiguousarray(self.data, dtype=np.float32)

    def lut(self) -> np.ndarray:
        return colormap_lut(self.colormap, transparent_below=True)

    @property
    def levels(self) -> tuple[float, float]:
        return float(self.threshold), float(max(self.vmax, self.threshold + 1e-6))


_NOT_DISPLAY = ("data", "affine", "changed", "source", "reorientation", "history", "edited", "origin", "stepped")


class Scene:
    """Series on show, shared cursor (world RAS mm), window/level and layers; emits events on change."""

    def __init__(self) -> None:
        self.series: list[SeriesDisplay] = []
        self.current: int | None = None
        self.layers: list[Layer] = []
        self.window: tuple[float, float] = (0.0, 1.0)
        self.preset: str = DEFAULT_PRESET
        self.inverted = False  # grey scale drawn white-to-black (window_changed fires when it flips)
        self.cursor_world = np.zeros(3)
        self.series_changed = Event()  # new study or another series shown
        self.cursor_changed = Event()
        self.window_changed = Event()
        self.layers_changed = Event()  # added or removed (display changes fire on the layer itself)

    # ---- series -------------------------------------------------------------------------------------
    @property
    def base(self) -> SeriesDisplay | None:
        return None if self.current is None else self.series[self.current]

    def set_series(self, series: list[SeriesDisplay], current: int = 0) -> None:
        """Replace the study on show; layers of the previous study go with it."""
        self.series = list(series)
        self.layers = []
        self.current = None
        self.layers_changed.emit()
        if self.series:
            self.show_series(current, recentre=True)
        else:
            self.series_changed.emit()

    def show_series(self, index: int, recentre: bool = False) -> None:
        if not 0 <= index < len(self.series):
            raise IndexError(f"no series {index}")
        self.current = index
        base = self.series[index]
        self.preset = DEFAULT_PRESET
        self.window = base.levels
        if recentre or not self._inside(self.cursor_world):
            centre = (np.array(base.canonical.shape) - 1) / 2.0
            self.cursor_world = self.voxel_to_world(centre)
        self.series_changed.emit()
        self.window_changed.emit()
        self.cursor_changed.emit()

    def set_sequence(self, index: int, sequence: str | None) -> None:
        """User override of the detected sequence; stored on the Volume itself."""
        sd = self.series[index]
        sd.source.sequence = sequence
        sd.canonical.sequence = sequence

    # ---- cursor -------------------------------------------------------------------------------------
    def voxel_to_world(self, ijk: Iterable[float]) -> np.ndarray:
        aff = self.base.canonical.affine  # type: ignore[union-attr]
        return (aff @ np.append(np.asarray(ijk, dtype=np.float64), 1.0))[:3]

    def world_to_voxel(self, xyz: Iterable[float]) -> np.ndarray:
        aff = self.base.canonical.affine  # type: ignore[union-attr]
        return (np.linalg.inv(aff) @ np.append(np.asarray(xyz, dtype=np.float64), 1.0))[:3]

    def _inside(self, xyz: np.ndarray) -> bool:
        if self.base is None:
            return False
        v = self.world_to_voxel(xyz)
        return bool(np.all(v >= -0.5) and np.all(v <= np.array(self.base.canonical.shape) - 0.5))

    def cursor_voxel(self) -> np.ndarray:
        """Integer canonical voxel under the cursor, clipped to the grid."""
        if self.base is None:
            return np.zeros(3, dtype=int)
        v = np.round(self.world_to_voxel(self.cursor_world)).astype(int)
        return np.clip(v, 0, np.array(self.base.canonical.shape) - 1)

    def set_cursor_voxel(self, ijk: Iterable[float]) -> None:
        if self.base is None:
            return
        v = np.clip(np.asarray(ijk, dtype=np.float64), 0, np.array(self.base.canonical.shape) - 1)
        xyz = self.voxel_to_world(v)
        if not np.allclose(xyz, self.cursor_world):
            self.cursor_world = xyz
            self.cursor_changed.emit()

    def set_cursor_world(self, xyz: Iterable[float]) -> None:
        if self.base is not None:
            self.set_cursor_voxel(self.world_to_voxel(xyz))

    def slice_index(self, plane: str) -> int:
        return int(self.cursor_voxel()[PLANE_NORMAL_AXIS[plane]])

    def move_slice(self, plane: str, steps: int) -> None:
        """Scroll through ``plane`` by whole voxels (wheel, PgUp/PgDn, cine)."""
        if self.base is None:
            return
        v = self.world_to_voxel(self.cursor_world)
        axis = PLANE_NORMAL_AXIS[plane]
        v[axis] = np.round(v[axis]) + steps
        self.set_cursor_voxel(v)

    def probe(self, ijk: Iterable[int] | None = None) -> dict[str, object]:
        """What the status bar shows for a canonical voxel (default: the cursor's)."""
        base = self.base
        if base is None:
            return {}
        v = self.cursor_voxel() if ijk is None else np.clip(np.asarray(ijk, dtype=int), 0,
                                                             np.array(base.canonical.shape) - 1)
        world = self.voxel_to_world(v)
        src = np.linalg.inv(base.source.affine) @ np.append(world, 1.0)
        return {"source_voxel": tuple(int(round(c)) for c in src[:3]), "world_mm": tuple(float(c) for c in world),
                "value": float(base.canonical.data[tuple(v)]),
                "labels": {lay.name: lay.describe(int(lay.data[tuple(v)])) for lay in self.layers
                           if isinstance(lay, LabelLayer) and lay.visible and lay.fits(base)}}

    # ---- window / level -----------------------------------------------------------------------------
    def set_window(self, low: float, high: float) -> None:
        if high <= low:
            high = low + 1e-6
        self.window = (float(low), float(high))
        self.window_changed.emit()

    def adjust_window(self, d_centre: float, d_width: float) -> None:
        """Right-drag: shift the centre and widen by fractions of the image's robust range, clamped."""
        if self.base is None:
            return
        self.preset = "Custom"
        self.set_window(*window_level.dragged_window(self.window, d_centre, d_width, self.base.data_range,
                                                     self.base.levels))

    def set_width_level(self, width: float, level: float) -> None:
        """Numeric W/L entry (clamped to the data like a drag)."""
        if self.base is None:
            return
        self.preset = "Custom"
        self.set_window(*window_level.window_from_width_level(width, level, self.base.data_range,
                                                             self.base.levels))

    def set_inverted(self, on: bool) -> None:
        self.inverted = bool(on)
        self.window_changed.emit()

    def apply_preset(self, name: str) -> None:
        if self.base is None:
            return
        self.preset = name
        self.set_window(*window_level.preset_levels(self.base.canonical.data, name))

    # ---- layers -------------------------------------------------------------------------------------
    def _to_base_grid(self, data: np.ndarray, reference: SeriesDisplay | None) -> tuple[np.ndarray, dict]:
        """Source-grid data -> (canonical data, the affine/source/reorientation fields of a Layer)."""
        ref = reference or self.base
        if ref is None:
            raise ValueError("no series on show to put a layer on")
        if data.shape[:3] != ref.source.shape:
            raise ValueError(f"layer shape {data.shape} does not match the series grid {ref.source.shape}")
        grid = {"affine": ref.canonical.affine.copy(), "source": ref.source, "reorientation": ref.reorientation}
        return np.ascontiguousarray(ref.reorientation.apply(data)), grid

    def add_label_layer(self, name: str, source_data: np.ndarray, reference: SeriesDisplay | None = None,
                        **display: object) -> LabelLayer:
        """Labels given on the reference series' SOURCE grid (as a segmenter or a file produces them)."""
        data, grid = self._to_base_grid(np.asarray(source_data).astype(np.uint8, copy=False), reference)
        layer = LabelLayer(name, data, **grid, **display)  # type: ignore[arg-type]
        self.layers.append(layer)
        self.layers_changed.emit()
        return layer

    def add_heatmap_layer(self, name: str, source_data: np.ndarray, reference: SeriesDisplay | None = None,
                          below: Layer | None = None, **display: object) -> HeatmapLayer:
        """A float map on the reference's SOURCE grid; drawn on top, or just under ``below`` when given."""
        data, grid = self._to_base_grid(np.asarray(source_data, dtype=np.float32), reference)
        if "vmax" not in display:
            finite = data[np.isfinite(data)]
            display["vmax"] = float(finite.max()) if finite.size else 1.0
        layer = HeatmapLayer(name, data, **grid, **display)  # type: ignore[arg-type]
        if below is not None and below in self.layers:
            self.layers.insert(self.layers.index(below), layer)
        else:
            self.layers.append(layer)
        self.layers_changed.emit()
        return layer

    def raise_layer(self, layer: Layer) -> None:
        """Draw ``layer`` above the others (e.g. a mask over a heatmap added later)."""
        self.layers.remove(layer)
        self.layers.append(layer)
        self.layers_changed.emit()

    def remove_layer(self, layer: Layer) -> int:
        """Remove ``layer``; returns where it was, so an undo can ``insert_layer`` it back there."""
        index = self.layers.index(layer)
        self.layers.pop(index)
        self.layers_changed.emit()
        return index

    def insert_layer(self, index: int, layer: Layer) -> None:
        self.layers.insert(min(max(index, 0), len(self.layers)), layer)
        self.layers_changed.emit()
