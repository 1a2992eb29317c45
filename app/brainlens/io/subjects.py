"""Split what one ``load`` found into studies of one subject each, so unrelated images never share a cursor.

DICOM series group by patient and frame of reference (series in one frame share world coordinates; series
in different frames, or of different patients, do not). Other files group by folder and file-name stem
with the sequence / label words taken out ("case1_t1", "case1_flair", "case1_seg" -> "case1"), and within
that by whether their grids overlap in world space at all.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainlens.core.patient import PatientInfo
from brainlens.core.sequence import detect_sequence, is_label_name, tokens
from brainlens.core.volume import Study, Volume

# words that qualify a sequence name rather than naming the subject
_QUALIFIERS = {"ce", "c", "post", "pre", "gd", "gad", "contrast", "postcontrast", "w", "weighted", "3d", "2d",
               "ax", "sag", "cor", "axial", "sagittal", "coronal", "iso", "nii", "gz", "img", "image", "brain",
               "dwi", "adc", "swi", "pd", "stir", "reg", "registered", "norm", "bet", "skullstripped"}


def _file_key(vol: Volume) -> str:
    paths = vol.metadata.get("source_paths") or []
    folder = str(Path(paths[0]).parent) if paths else ""
    words = [t for t in tokens(vol.name) if t not in _QUALIFIERS and detect_sequence(t) is None
             and not is_label_name(t)]
    return f"{folder}|{'_'.join(words)}"


def subject_key(vol: Volume) -> str:
    meta = vol.metadata
    if meta.get("format") == "dicom":
        frame = meta.get("frame_of_reference") or meta.get("study_uid") or ""
        return f"dicom|{meta.get('patient_hash', '')}|{frame}"
    return "file|" + _file_key(vol)


def _world_box(vol: Volume) -> tuple[np.ndarray, np.ndarray]:
    corners = np.array([[i, j, k, 1.0] for i in (-0.5, vol.shape[0] - 0.5) for j in (-0.5, vol.shape[1] - 0.5)
                        for k in (-0.5, vol.shape[2] - 0.5)])
    world = (vol.affine @ corners.T)[:3].T
    return world.min(axis=0), world.max(axis=0)


def _overlap(a: Volume, b: Volume) -> bool:
    (lo_a, hi_a), (lo_b, hi_b) = _world_box(a), _world_box(b)
    return bool(np.all(np.minimum(hi_a, hi_b) > np.maximum(lo_a, lo_b)))


def _by_overlap(vols: list[Volume]) -> list[list[Volume]]:
    """Connected groups of volumes whose world boxes overlap (a chain of overlaps links a group)."""
    order = {id(v): n for n, v in enumerate(vols)}  # Volumes hold arrays: compare by identity
    groups: list[list[Volume]] = []
    for vol in vols:
        touching = [g for g in groups if any(_overlap(vol, other) for other in g)]
        merged = [vol] + [v for g in touching for v in g]
        groups = [g for g in groups if not any(g is t for t in touching)] + [merged]
    return sorted((sorted(g, key=lambda v: order[id(v)]) for g in groups), key=lambda g: order[id(g[0])])


def subject_label(vols: list[Volume], key: str) -> str:
    info = PatientInfo.from_metadata(vols[0].metadata)
    if info.identified:
        return "   ".join(p for p in (info.name, info.patient_id and f"ID {info.patient_id}", info.study_date) if p)
    name = key.rsplit("|", 1)[-1]
    return name or Path(key.split("|")[1]).name or vols[0].name


def split_by_subject(study: Study) -> list[tuple[str, Study]]:
    """[(label, study)] in the order the series were found; a single group keeps the study as it is."""
    keyed: dict[str, list[Volume]] = {}
    for vol in study.series:
        keyed.setdefault(subject_key(vol), []).append(vol)
    parts: list[tuple[str, list[Volume]]] = []
    for key, vols in keyed.items():
        groups = _by_overlap(vols) if key.startswith("file|") else [vols]
        for n, group in enumerate(groups):
            label = subject_label(group, key)
            parts.append((f"{label} ({n + 1})" if len(groups) > 1 else label, group))
    if len(parts) <= 1:
        return [(parts[0][0] if parts else "", study)]
    return [(label, Study(vols, study.source, list(study.warnings))) for label, vols in parts]
