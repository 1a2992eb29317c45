"""Job functions the viewer runs on the job runner: open a study, build the demo phantom.

Plain functions taking ``progress`` and ``cancel`` (see ``jobs.runner``); no Qt here, so they also run
in tests without a GUI. They return a ``LoadedStudy`` whose display arrays are already prepared, so the
GUI thread only hands arrays to the renderer.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from brainlens.core.errors import Cancelled, LoadError
from brainlens.core.geometry import obliquity_deg
from brainlens.core.scene import SeriesDisplay
from brainlens.core.volume import Study, Volume

Progress = Callable[[float, str], None]
CancelFlag = Callable[[], bool]
DEMO_LABEL_LAYER = "Synthetic lesion mask (ground truth)"
DEMO_HEATMAP_LAYER = "Distance-to-lesion map (synthetic demo heatmap)"
OBLIQUE_NOTE_DEG = 3.0  # below this, display on the nearest axes is visually indistinguishable


@dataclass
class LayerSpec:
    """An overlay to add once the study is on show: data on ``reference``'s source grid."""

    kind: str  # "label" | "heatmap"
    name: str
    data: np.ndarray
    reference: int  # index into LoadedStudy.displays
    display: dict = field(default_factory=dict)


@dataclass(eq=False)  # compared by identity: it holds arrays
class LoadedStudy:
    study: Study
    displays: list[SeriesDisplay]
    layers: list[LayerSpec] = field(default_factory=list)
    initial: int = 0  # series to show first
    focus_world: np.ndarray | None = None  # where to put the cursor first (RAS mm), e.g. a lesion
    label: str = ""  # who / what this study is, when one load found several subjects
    subjects: list[LoadedStudy] = field(default_factory=list)  # all of them (this one included), if several


def label_centroid_world(labels: np.ndarray, affine: np.ndarray) -> np.ndarray | None:
    """World (RAS mm) centre of the non-zero voxels, or None if there are none."""
    idx = np.argwhere(labels > 0)
    if idx.size == 0:
        return None
    return (affine @ np.append(idx.mean(axis=0), 1.0))[:3]


def _same_grid(a: Volume, b: Volume) -> bool:
    return a.shape == b.shape and np.allclose(a.affine, b.affine, atol=1e-3)


def _preferred_series(displays: list[SeriesDisplay]) -> int:
    """FLAIR shows tumour and oedema best; otherwise the first series."""
    for i, d in enumerate(displays):
        if d.source.sequence == "flair":
            return i
    return 0


def prepare_study(study: Study, progress: Progress, cancel: CancelFlag) -> LoadedStudy:
    """Reorient every image series for display and turn label series (``is_label``) into layers."""
    images = [v for v in study.series if not v.metadata.get("is_label")]
    labels = [v for v in study.series if v.metadata.get("is_label")]
    if not images:
        raise LoadError(f"{study.source.name or study.source}: no image series to show (only label maps)")
    displays = []
    for n, vol in enumerate(images):
        if cancel():
            raise Cancelled("cancelled")
        progress(0.5 + 0.45 * n / len(images), f"preparing {vol.name or vol.sequence or 'series'}")
        displays.append(SeriesDisplay.prepare(vol))
        tilt = obliquity_deg(vol.affine)
        note = f"oblique by {tilt:.0f} deg: shown on the nearest anatomical axes (positions stay exact)"
        if tilt > OBLIQUE_NOTE_DEG and note not in vol.warnings:
            vol.warnings.append(note)
    loaded = LoadedStudy(study, displays, initial=_preferred_series(displays))
    from brainlens.io.label_tables import label_table_for  # on the worker: keeps pydicom off start-up
    for lab in labels:
        ref = next((i for i, d in enumerate(displays) if _same_grid(d.source, lab)), None)
        if ref is None:
            study.warnings.append(f"label map {lab.name!r} is on another grid; not shown")
            continue
        names = label_table_for(lab.metadata["source_paths"][0]).display() if lab.metadata.get("source_paths") \
            else {"label_names": dict(lab.metadata.get("label_names") or {})}  # a file's own names, no scheme
        loaded.layers.append(LayerSpec("label", f"{lab.name or 'labels'} (from file)", lab.data, ref, names))
        if loaded.focus_world is None:
            loaded.focus_world = label_centroid_world(lab.data, lab.affine)
    return loaded


def load_study(path: str | Path | list[str], progress: Progress, cancel: CancelFlag) -> LoadedStudy:
    """Read ``path`` (file, folder, or a list of files) with ``brainlens.io.load``; prepare it for display."""
    if not isinstance(path, list) and not os.fspath(path).strip():
        raise LoadError("empty path: give a file or folder")  # Path("") would mean the current folder
    label = f"{len(path)} files" if isinstance(path, list) else Path(path).name
    progress(0.0, f"reading {label}")
    try:
        from brainlens.io import load  # imported here: io is optional until it lands, never at start-up
    except ImportError as exc:
        raise LoadError("this build cannot read image files (brainlens.io is missing)") from exc
    target = [Path(p) for p in path] if isinstance(path, list) else Path(path)
    params = inspect.signature(load).parameters
    kwargs = {}
    if "progress" in params:
        kwargs["progress"] = lambda f, m="": progress(0.5 * min(max(f, 0.0), 1.0), m)
    if "cancel" in params:
        kwargs["cancel"] = cancel
    study = load(target, **kwargs)
    if cancel():
        raise Cancelled("cancelled")
    progress(0.5, "read")
    from brainlens.io.subjects import split_by_subject

    parts = split_by_subject(study)
    if len(parts) == 1:
        return prepare_study(study, progress, cancel)
    subjects, notes = [], [f"{len(parts)} unrelated subjects / frames of reference: opened as separate studies"]
    for label, part in parts:  # unrelated subjects become separate studies: they never share a cursor
        try:
            one = prepare_study(part, progress, cancel)
        except LoadError as exc:  # e.g. a group holding only a label map
            notes.append(f"{label}: {exc}")
            continue
        one.label = label
        subjects.append(one)
    if not subjects:
        raise LoadError(f"{study.source.name or study.source}: no image series to show")
    for one in subjects:
        one.subjects = subjects
        one.study.warnings.extend(notes)
    return subjects[0]


def demo_heatmap(labels: Volume, scale_mm: float = 12.0) -> np.ndarray:
    """A smooth map that is 1 inside the lesion and decays with distance from it (demo of heatmaps)."""
    from scipy import ndimage

    outside = labels.data == 0
    dist = ndimage.distance_transform_edt(outside, sampling=labels.spacing)
    return np.exp(-dist / scale_mm).astype(np.float32)


def demo_study(progress: Progress, cancel: CancelFlag, **phantom: object) -> LoadedStudy:
    """The synthetic phantom with its ground truth as a label layer and a derived heatmap (hidden).

    ``phantom`` goes to ``make_head_phantom_with_labels`` (shape, spacing_mm, seed); defaults otherwise.
    """
    from brainlens.core.phantom import make_head_phantom_with_labels

    progress(0.05, "building synthetic phantom")
    study, labels = make_head_phantom_with_labels(**phantom)  # type: ignore[arg-type]
    if cancel():
        raise Cancelled("cancelled")
    loaded = prepare_study(study, progress, cancel)
    progress(0.95, "overlays")
    loaded.focus_world = label_centroid_world(labels.data, labels.affine)
    loaded.layers.append(LayerSpec("label", DEMO_LABEL_LAYER, labels.data, loaded.initial,
                                   {"label_names": dict(labels.metadata["label_names"]), "opacity": 0.4}))
    loaded.layers.append(LayerSpec("heatmap", DEMO_HEATMAP_LAYER, demo_heatmap(labels), loaded.initial,
                                   {"visible": False, "threshold": 0.05, "vmax": 1.0, "opacity": 0.5}))
    return loaded
