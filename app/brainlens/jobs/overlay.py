"""Job function for "Load overlay...": read a label map or a heatmap and put it on the grid of the series on
show (as is when it fits, resampled through the world coordinates with a warning when it does not)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from brainlens.core.errors import Cancelled, LoadError
from brainlens.core.resample import resample_to_grid, same_grid
from brainlens.core.volume import Volume
from brainlens.io.label_tables import label_table_for

MAX_LABELS = 64  # an integer image with more distinct values than this is a map, not a label map


@dataclass
class OverlayResult:
    kind: str  # "label" | "heatmap"
    name: str
    data: np.ndarray  # on the reference series' SOURCE grid
    display: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def looks_like_labels(vol: Volume) -> bool:
    """Label maps: flagged by the reader (file name, DICOM SEG) or small non-negative whole numbers."""
    if vol.metadata.get("is_label"):
        return True
    data = vol.data
    sample = data.reshape(-1)[:: max(1, data.size // 500_000)]
    if data.dtype.kind == "f" and not np.all(np.isfinite(sample) & (sample == np.round(sample))):
        return False
    if data.dtype.kind not in "iuf" or sample.min() < 0 or sample.max() > 255:
        return False
    return len(np.unique(sample)) <= MAX_LABELS


def fit_to_reference(vol: Volume, reference: Volume, labels: bool) -> tuple[np.ndarray, list[str]]:
    if same_grid(vol.shape, vol.affine, reference.shape, reference.affine):
        return vol.data, []
    if vol.shape == reference.shape and not (vol.spacing_known and reference.spacing_known):
        # plain pictures carry no real geometry: same pixel size is the only fit there is
        return vol.data, ["no geometry in one of the files: overlay placed pixel for pixel"]
    out = resample_to_grid(vol.data, vol.affine, reference.shape, reference.affine, labels)
    if not np.any(out) and np.any(vol.data):
        raise LoadError(f"{vol.name or 'the overlay'} does not overlap the series on show (no shared space)")
    how = "nearest neighbour" if labels else "trilinear"
    dims = " x ".join(map(str, vol.shape))
    return out, [f"overlay grid ({dims}) differs from the series grid "
                 f"({' x '.join(map(str, reference.shape))}): resampled to it ({how})"]


def load_overlay(path: str | Path, reference: Volume, progress: Callable[[float, str], None],
                 cancel: Callable[[], bool]) -> OverlayResult:
    from brainlens.io import load

    path = Path(path)
    progress(0.0, f"reading {path.name}")
    study = load(path)
    if cancel():
        raise Cancelled("cancelled")
    vol = study.series[0]
    notes = list(vol.warnings)
    if len(study.series) > 1:
        notes.append(f"{path.name} holds {len(study.series)} series; the first is used")
    labels = looks_like_labels(vol)
    progress(0.5, "fitting to the series grid")
    source = vol.data.astype(np.uint8) if labels else vol.data.astype(np.float32)
    data, fit_notes = fit_to_reference(vol.with_data(source), reference, labels)
    name = vol.name or path.name
    display: dict = {}
    if labels:
        table = label_table_for(path)
        display = table.display()
        if table.source:
            notes.append(f"label names from {table.source}")
    else:
        finite = data[np.isfinite(data)]
        display = {"vmax": float(finite.max()) if finite.size else 1.0, "opacity": 0.5}
    return OverlayResult("label" if labels else "heatmap", f"{name} (overlay)", data, display, notes + fit_notes)
