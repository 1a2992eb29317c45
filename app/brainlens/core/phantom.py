"""A synthetic head phantom: four co-registered MR sequences and a ground-truth lesion label map.

Used by ``brainlens --demo`` and by tests; it is clearly titled as synthetic (``Volume.name`` starts with
"Synthetic phantom", ``metadata["synthetic"] is True``). numpy + scipy.ndimage only, well under a second.

Stable API (other modules and tests rely on it):

- ``make_head_phantom(shape=(112, 136, 112), spacing_mm=1.4, seed=0, orientation="LPS") -> Study``
  with four series in the order flair, t1, t1ce, t2 (``Volume.sequence`` set). The arrays are int16 on a
  grid stored ``orientation``-wise ("LPS" like DICOM/BraTS, or "RAS"), so display code has to reorient.
- ``phantom_label_map(study_or_volume) -> Volume``: the uint8 ground truth on the same grid, BraTS labels
  0 background, 1 necrotic core, 2 oedema, 4 enhancing rim. It is rebuilt from the parameters stored in
  ``metadata["phantom"]`` (cheap), so the Study itself stays a plain list of images.
- ``make_head_phantom_with_labels(...) -> (Study, Volume)`` does both in one pass.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import ndimage

from brainlens.core.labels import LABEL_NAMES
from brainlens.core.volume import Study, Volume

PHANTOM_SOURCE = Path("<synthetic phantom>")
# tissue classes of the label image built below
_BG, _SCALP, _SKULL, _CSF, _GM, _WM, _OEDEMA, _NECROSIS, _ENHANCING, _MUSCLE = range(10)
# Rough MR contrasts (arbitrary units) per tissue:
# bg, scalp(fat), skull, CSF, GM, WM, oedema, necrosis, rim, muscle/soft tissue.
_CONTRAST = {
    "flair": (0, 550, 70, 110, 700, 520, 1150, 350, 850, 300),
    "t1": (0, 850, 110, 240, 520, 720, 450, 220, 540, 420),
    "t1ce": (0, 850, 110, 260, 540, 730, 460, 230, 1200, 450),
    "t2": (0, 500, 80, 1500, 850, 620, 1250, 1450, 900, 380),
}
_TITLES = {"flair": "FLAIR", "t1": "T1", "t1ce": "T1 post-contrast", "t2": "T2"}


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], coarse: int) -> np.ndarray:
    """Low-frequency noise in about [-1, 1]: a random coarse grid upsampled with separable Gaussian weights.

    Three small matrix products instead of ndimage.zoom, which took seconds on this size.
    """
    small = rng.standard_normal(tuple(max(2, s // coarse) for s in shape)).astype(np.float32)
    out = small
    for axis, (n_out, n_in) in enumerate(zip(shape, small.shape, strict=True)):
        pos = np.linspace(0, n_in - 1, n_out, dtype=np.float32)[:, None]
        w = np.exp(-0.5 * ((pos - np.arange(n_in, dtype=np.float32)[None, :]) / 0.7) ** 2)
        w /= w.sum(axis=1, keepdims=True)
        out = np.moveaxis(np.tensordot(w, np.moveaxis(out, axis, 0), axes=1), 0, axis)
    out /= max(float(out.std()), 1e-6) * 2.0
    return np.clip(out, -1.0, 1.0)


def _ellipsoid_r(x, y, z, centre, axes) -> np.ndarray:
    return np.sqrt(((x - centre[0]) / axes[0]) ** 2 + ((y - centre[1]) / axes[1]) ** 2
                   + ((z - centre[2]) / axes[2]) ** 2)


def _tissues(shape: tuple[int, int, int], spacing: float, rng: np.random.Generator,
             lesion: bool = True) -> np.ndarray:
    """Tissue class per voxel on a canonical RAS grid centred on the head (a healthy head without ``lesion``)."""
    axes_idx = [(np.arange(n, dtype=np.float32) - (n - 1) / 2) * spacing for n in shape]
    x, y, z = np.meshgrid(*axes_idx, indexing="ij", sparse=True)
    ext = [(n - 1) * spacing / 2 for n in shape]  # half field of view per axis, mm
    centre = (0.0, -0.02 * ext[1], 0.1 * ext[2])
    wobble = _smooth_noise(rng, shape, 24)
    r = _ellipsoid_r(x, y, z, centre, (0.86 * ext[0], 0.86 * ext[1], 0.82 * ext[2])) * (1 + 0.015 * wobble)
    # skull base: higher in the middle (sella) and at the front (anterior fossa), temporal lobes reach lower
    floor = (-0.34 * ext[2] + 0.12 * ext[2] * np.exp(-((x / (0.25 * ext[0])) ** 2))
             + 0.14 * ext[2] * np.clip(y / (0.86 * ext[1]), 0, 1))
    neck = (np.sqrt((x / (0.5 * ext[0])) ** 2 + ((y + 0.1 * ext[1]) / (0.55 * ext[1])) ** 2) < 1) & (z < 0)
    rc = _ellipsoid_r(x, y, z, (0.0, -0.5 * ext[1], -0.4 * ext[2]), (0.5 * ext[0], 0.27 * ext[1], 0.19 * ext[2]))
    stem = (np.sqrt(x ** 2 + (y + 0.16 * ext[1]) ** 2) < 0.1 * ext[0]) & (r < 0.87) & (z < floor)
    inside = r < 0.87

    t = np.zeros(shape, dtype=np.uint8)
    t[(r < 1.0) | neck] = _SCALP
    t[((r < 0.96) & (z < floor)) | (neck & (z < floor))] = _MUSCLE
    t[(r < 0.94) & (z >= floor)] = _SKULL
    t[inside & (z >= floor + 2 * spacing)] = _CSF
    t[inside & (rc < 1.1)] = _CSF
    brain = (r < 0.84) & (z >= floor + 4 * spacing)
    gyri = _smooth_noise(rng, shape, 6)
    t[brain] = _GM
    t[brain & (r < 0.77 + 0.04 * gyri)] = _WM
    # sulci: CSF cutting into the cortex where a finer noise field peaks
    sulci = _smooth_noise(rng, shape, 4)
    t[brain & (r > 0.74) & (sulci > 0.5)] = _CSF
    # interhemispheric fissure, upper brain only
    t[brain & (np.abs(x) < 1.2 * spacing) & (z > 0.25 * ext[2])] = _CSF
    # lateral ventricles: a pair of ellipsoids either side of the midline
    for side in (-1, 1):
        rv = _ellipsoid_r(x, y, z, (side * 0.11 * ext[0], 0.02 * ext[1], 0.12 * ext[2]),
                          (0.07 * ext[0], 0.26 * ext[1], 0.12 * ext[2]))
        t[rv < 1.0] = _CSF
    # cerebellum (grey with a white core, folia as in the cortex) and brainstem
    cereb = inside & (rc < 1.0)
    t[cereb] = _GM
    t[cereb & ((rc < 0.55) | ((rc < 0.85) & (sulci > 0.3)))] = _WM
    t[stem] = _WM
    # eyes in fatty orbits, in front of the skull base
    for side in (-1, 1):
        re = _ellipsoid_r(x, y, z, (side * 0.3 * ext[0], 0.7 * ext[1], -0.2 * ext[2]), (0.11 * ext[0],) * 3)
        t[(re < 1.5) & (r < 1.0)] = _SCALP
        t[re < 1.0] = _CSF
    brain |= stem | cereb
    if not lesion:
        return t

    # lesion in the right hemisphere: necrotic core, enhancing rim, oedema spreading mostly in white matter
    c = (0.36 * ext[0], 0.2 * ext[1], 0.3 * ext[2])
    d = np.sqrt((x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2)
    d = d * (1 + 0.18 * _smooth_noise(rng, shape, 8))
    scale = min(ext) / 80.0
    wm = t == _WM
    t[brain & (d < 27 * scale) & (wm | (d < 17 * scale))] = _OEDEMA
    t[brain & (d < 13 * scale)] = _ENHANCING
    t[brain & (d < 8.5 * scale)] = _NECROSIS
    return t


def _orient(arr: np.ndarray, orientation: str) -> np.ndarray:
    return np.ascontiguousarray(arr[::-1, ::-1, :]) if orientation == "LPS" else arr


def _affine(shape: tuple[int, int, int], spacing: float, orientation: str) -> np.ndarray:
    centre = np.array([(n - 1) / 2 for n in shape])
    sign = np.array([-1.0, -1.0, 1.0]) if orientation == "LPS" else np.ones(3)
    aff = np.eye(4)
    aff[:3, :3] = np.diag(sign * spacing)
    aff[:3, 3] = -sign * spacing * centre  # voxel centre of the grid sits at world (0, 0, 0)
    return aff


def _check(shape, spacing_mm, orientation) -> tuple[tuple[int, int, int], float]:
    if orientation not in ("LPS", "RAS"):
        raise ValueError(f"orientation must be 'LPS' or 'RAS', got {orientation!r}")
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or min(shape) < 16:
        raise ValueError(f"phantom shape must be 3D with every side >= 16, got {shape}")
    return shape, float(spacing_mm)  # type: ignore[return-value]


def make_head_phantom_with_labels(shape: tuple[int, int, int] = (112, 136, 112), spacing_mm: float = 1.4,
                                  seed: int = 0, orientation: str = "LPS",
                                  lesion: bool = True) -> tuple[Study, Volume]:
    """The four-sequence phantom Study and its uint8 BraTS-convention label Volume (same grid);
    ``lesion=False`` gives a healthy head (all-zero labels)."""
    shape, spacing = _check(shape, spacing_mm, orientation)
    rng = np.random.default_rng(seed)
    tissue = _tissues(shape, spacing, rng, lesion)
    affine = _affine(shape, spacing, orientation)
    params = {"shape": list(shape), "spacing_mm": spacing, "seed": int(seed), "orientation": orientation}
    bias = (1.0 + 0.08 * _smooth_noise(rng, shape, 32)).astype(np.float32)
    series = []
    for seq, contrast in _CONTRAST.items():
        img = np.asarray(contrast, dtype=np.float32)[tissue]
        img *= bias
        img = ndimage.gaussian_filter(img, 0.6, truncate=3.0)  # partial volume at tissue borders
        sigma = np.float32(0.025 * max(contrast))
        real = rng.standard_normal(shape, dtype=np.float32)
        real *= sigma
        real += img
        imag = rng.standard_normal(shape, dtype=np.float32)
        imag *= sigma
        img = np.hypot(real, imag, out=real)  # Rician magnitude noise, like real MR
        meta = {"synthetic": True, "phantom": dict(params), "modality": "MR (synthetic)"}
        series.append(Volume(_orient(np.round(img).astype(np.int16), orientation), affine.copy(),
                             f"Synthetic phantom - {_TITLES[seq]}", seq, meta))
    lab = np.zeros(shape, dtype=np.uint8)
    lab[tissue == _OEDEMA] = 2
    lab[tissue == _ENHANCING] = 4
    lab[tissue == _NECROSIS] = 1
    meta = {"synthetic": True, "phantom": dict(params), "is_label": True, "label_names": dict(LABEL_NAMES)}
    labels = Volume(_orient(lab, orientation), affine.copy(), "Synthetic lesion mask (ground truth)",
                    None, meta)
    study = Study(series, PHANTOM_SOURCE, ["synthetic phantom: not patient data"])
    return study, labels


def phantom_tissue_classes(shape: tuple[int, int, int] = (112, 136, 112), spacing_mm: float = 1.4, seed: int = 0,
                           orientation: str = "LPS", lesion: bool = True) -> Volume:
    """The tissue class per voxel (TISSUES names them) of the phantom with the same arguments: the truth
    a brain extraction is checked against (brain = GM, WM, CSF inside the skull and lesion classes)."""
    shape, spacing = _check(shape, spacing_mm, orientation)
    tissue = _tissues(shape, spacing, np.random.default_rng(seed), lesion)
    return Volume(_orient(tissue.astype(np.uint8), orientation), _affine(shape, spacing, orientation),
                  "Synthetic tissue classes", None, {"synthetic": True, "is_label": True})


TISSUES = {_BG: "background", _SCALP: "scalp fat", _SKULL: "skull", _CSF: "CSF", _GM: "grey matter",
           _WM: "white matter", _OEDEMA: "oedema", _NECROSIS: "necrosis", _ENHANCING: "enhancing rim",
           _MUSCLE: "muscle / soft tissue"}


def make_head_phantom(shape: tuple[int, int, int] = (112, 136, 112), spacing_mm: float = 1.4, seed: int = 0,
                      orientation: str = "LPS") -> Study:
    """Four co-registered synthetic sequences (flair, t1, t1ce, t2) with a lesion; see the module doc."""
    return make_head_phantom_with_labels(shape, spacing_mm, seed, orientation)[0]


def phantom_label_map(source: Study | Volume) -> Volume:
    """Ground-truth labels (0/1/2/4) for a phantom Study or one of its Volumes, on the same grid."""
    vol = source.series[0] if isinstance(source, Study) else source
    params = vol.metadata.get("phantom")
    if not params:
        raise ValueError("not a synthetic phantom volume (metadata['phantom'] missing)")
    return make_head_phantom_with_labels(tuple(params["shape"]), params["spacing_mm"], params["seed"],
                                         params["orientation"])[1]


def phantom_slice(size: int = 224, seed: int = 0) -> np.ndarray:
    """A synthetic 2D 'scan' (uint8): bright head ellipse, darker brain, a bright blob, noise, black background.

    Enough structure for the classifier's head crop; used by its tests and benchmark, never as a brain.
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    c = size / 2
    head = ((xx - c) / (0.38 * size)) ** 2 + ((yy - c) / (0.45 * size)) ** 2 <= 1
    brain = ((xx - c) / (0.32 * size)) ** 2 + ((yy - c) / (0.39 * size)) ** 2 <= 1
    blob = (xx - 0.6 * size) ** 2 + (yy - 0.4 * size) ** 2 <= (0.08 * size) ** 2
    img = np.where(head, 200, 0) - np.where(brain, 90, 0) + np.where(blob, 120, 0)
    rng = np.random.default_rng(seed)
    return np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)
