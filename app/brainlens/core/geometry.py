"""Voxel/world geometry with numpy only: orientation codes, canonical RAS reorientation, planes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from brainlens.core.volume import Volume

PLANES = ("axial", "coronal", "sagittal")
# World axis held fixed by each plane (RAS: 0 = R, 1 = A, 2 = S).
PLANE_NORMAL_AXIS = {"sagittal": 0, "coronal": 1, "axial": 2}
_POS_CODES = "RAS"
_NEG_CODES = "LPI"


def axis_mapping(affine: np.ndarray) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """For each voxel axis, the world axis it runs closest to and the direction (+1/-1).

    Greedy on the largest absolute direction cosine so oblique grids still map one-to-one.
    """
    rot = affine[:3, :3] / np.maximum(np.linalg.norm(affine[:3, :3], axis=0), 1e-12)
    world = [-1, -1, -1]
    sign = [1, 1, 1]
    cos = np.abs(rot).copy()
    for _ in range(3):
        w, v = np.unravel_index(np.argmax(cos), cos.shape)
        world[v] = int(w)
        sign[v] = 1 if rot[w, v] >= 0 else -1
        cos[w, :] = -1
        cos[:, v] = -1
    return tuple(world), tuple(sign)  # type: ignore[return-value]


def axcodes(affine: np.ndarray) -> tuple[str, str, str]:
    """Orientation codes like nibabel's ('R','A','S' for canonical)."""
    world, sign = axis_mapping(affine)
    return tuple((_POS_CODES if s > 0 else _NEG_CODES)[w] for w, s in zip(world, sign))  # type: ignore[return-value]


def obliquity_deg(affine: np.ndarray) -> float:
    """Largest angle (degrees) between a voxel axis and its nearest world axis."""
    rot = affine[:3, :3] / np.maximum(np.linalg.norm(affine[:3, :3], axis=0), 1e-12)
    return float(np.degrees(np.arccos(np.clip(np.max(np.abs(rot), axis=0), -1, 1))).max())


@dataclass(frozen=True)
class Reorientation:
    """Axis permutation and flips that take a source grid to closest-canonical RAS, and back."""

    perm: tuple[int, int, int]  # canonical axis a = source axis perm[a]
    flip: tuple[bool, bool, bool]  # flip canonical axis a after permuting
    source_shape: tuple[int, int, int]

    def apply(self, arr: np.ndarray) -> np.ndarray:
        out = np.transpose(arr, self.perm + tuple(range(3, arr.ndim)))
        for a, f in enumerate(self.flip):
            if f:
                out = np.flip(out, axis=a)
        return out

    def invert(self, arr: np.ndarray) -> np.ndarray:
        """Bring an array on the canonical grid back onto the source grid."""
        out = arr
        for a, f in enumerate(self.flip):
            if f:
                out = np.flip(out, axis=a)
        inv = tuple(int(i) for i in np.argsort(self.perm))
        return np.transpose(out, inv + tuple(range(3, arr.ndim)))


def canonical_reorientation(affine: np.ndarray, shape: tuple[int, int, int]) -> Reorientation:
    world, sign = axis_mapping(affine)
    perm = tuple(world.index(a) for a in range(3))
    flip = tuple(sign[perm[a]] < 0 for a in range(3))
    return Reorientation(perm, flip, tuple(int(s) for s in shape))  # type: ignore[arg-type]


def reoriented_affine(affine: np.ndarray, r: Reorientation) -> np.ndarray:
    """Affine of the canonical array produced by ``r.apply``."""
    n = len(r.source_shape)
    # canonical index c -> source index s: s[perm[a]] = c[a] (or shape-1-c[a] when flipped)
    m = np.zeros((4, 4))
    m[3, 3] = 1
    for a in range(n):
        src = r.perm[a]
        if r.flip[a]:
            m[src, a] = -1
            m[src, 3] = r.source_shape[src] - 1
        else:
            m[src, a] = 1
    return affine @ m


def to_canonical(vol: Volume) -> tuple[Volume, Reorientation]:
    """The volume reoriented to closest-canonical RAS, plus the mapping to write results back."""
    r = canonical_reorientation(vol.affine, vol.shape)
    data = np.ascontiguousarray(r.apply(vol.data))
    out = Volume(data, reoriented_affine(vol.affine, r), vol.name, vol.sequence, dict(vol.metadata),
                 list(vol.warnings), vol.spacing_known)
    return out, r


def world_to_voxel(affine: np.ndarray, xyz: np.ndarray) -> np.ndarray:
    xyz = np.asarray(xyz, dtype=np.float64)
    return (np.linalg.inv(affine) @ np.append(xyz, 1.0))[:3]


def voxel_to_world(affine: np.ndarray, ijk: np.ndarray) -> np.ndarray:
    ijk = np.asarray(ijk, dtype=np.float64)
    return (affine @ np.append(ijk, 1.0))[:3]


def extract_slice(canonical: np.ndarray, plane: str, index: int) -> np.ndarray:
    """A 2D slice of a canonical (RAS) array, returned as (rows=x-axis of display, cols=y-axis).

    Axial -> (R..L axis i, A..P axis j); coronal -> (i, k); sagittal -> (j, k).
    Callers decide display flips; this keeps array axes in RAS order.
    """
    axis = PLANE_NORMAL_AXIS[plane]
    index = int(np.clip(index, 0, canonical.shape[axis] - 1))
    return np.take(canonical, index, axis=axis)
