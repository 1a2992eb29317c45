"""Measurements on synthetic shapes with known answers, on plain, anisotropic and oblique grids."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from brainlens.core import measurements as m


def _rot(axis: int, deg: float) -> np.ndarray:
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    a, b = [i for i in range(3) if i != axis]
    r = np.eye(3)
    r[a, a], r[a, b], r[b, a], r[b, b] = c, -s, s, c
    return r


def _affine(spacing=(1.0, 1.0, 1.0), rotation: np.ndarray | None = None,
            origin=(10.0, -20.0, 5.0)) -> np.ndarray:
    aff = np.eye(4)
    aff[:3, :3] = (np.eye(3) if rotation is None else rotation) @ np.diag(spacing)
    aff[:3, 3] = origin
    return aff


def _ellipsoid(shape, spacing, centre_ijk, semi_axes_mm, inplane_deg: float = 0.0) -> np.ndarray:
    """Ellipsoid in the grid's own physical frame (so it stays exact under any rigid affine rotation),
    its first two axes turned by inplane_deg within the (i, j) plane."""
    idx = np.indices(shape).reshape(3, -1).T.astype(float)
    phys = (idx - np.asarray(centre_ijk, float)) * np.asarray(spacing)
    phys = phys @ _rot(2, inplane_deg)  # row vectors: rotate points by -inplane_deg == axes by +inplane_deg
    inside = ((phys / np.asarray(semi_axes_mm)) ** 2).sum(axis=1) <= 1.0
    return inside.reshape(shape)


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (0.9, 1.1, 2.5)])
def test_sphere_volume_within_2_percent(spacing) -> None:
    r = 20.0
    shape = tuple(int(np.ceil(2 * r / s)) + 6 for s in spacing)
    centre = [(n - 1) / 2 for n in shape]
    mask = _ellipsoid(shape, spacing, centre, (r, r, r))
    aff = _affine(spacing, _rot(0, 25) @ _rot(2, 40))  # rotation must not change the volume
    truth = 4 / 3 * np.pi * r ** 3 / 1000
    assert m.volume_ml(mask, aff) == pytest.approx(truth, rel=0.02)
    assert m.voxel_volume_ml(aff) == pytest.approx(np.prod(spacing) / 1000)
    assert m.max_diameter_mm(mask, aff) == pytest.approx(2 * r, abs=float(np.linalg.norm(spacing)))


def _check_rano(res, aff, mask, major_mm, minor_mm, tol) -> None:
    assert res is not None
    assert res["longest_mm"] == pytest.approx(major_mm, abs=tol)
    assert res["perpendicular_mm"] == pytest.approx(minor_mm, abs=tol)
    assert res["product_mm2"] == pytest.approx(res["longest_mm"] * res["perpendicular_mm"])
    pairs = (("longest_endpoints_ijk", "longest_mm"), ("perpendicular_endpoints_ijk", "perpendicular_mm"))
    for key, length in pairs:
        p, q = (np.asarray(e) for e in res[key])
        assert p[2] == q[2] == res["slice_index"] and res["slice_axis"] == 2
        assert mask[tuple(p)] and mask[tuple(q)]
        dist = np.linalg.norm(aff[:3, :3] @ (p - q).astype(float))
        assert dist == pytest.approx(res[length])
    lp, lq = (aff[:3, :3] @ np.asarray(e, float).T for e in res["longest_endpoints_ijk"])
    pp, pq = (aff[:3, :3] @ np.asarray(e, float).T for e in res["perpendicular_endpoints_ijk"])
    u, v = lq - lp, pq - pp
    cos = abs(u @ v) / (np.linalg.norm(u) * np.linalg.norm(v))
    assert cos <= np.sin(np.radians(m.PERPENDICULAR_TOLERANCE_DEG)) + 1e-9


def test_rano_ellipse_isotropic() -> None:
    shape, spacing, centre = (80, 80, 30), (1.0, 1.0, 1.0), (40, 39, 15)
    mask = _ellipsoid(shape, spacing, centre, (30.0, 15.0, 8.0), inplane_deg=30)
    aff = _affine(spacing)
    res = m.rano(mask, aff)
    _check_rano(res, aff, mask, 60.0, 30.0, tol=1.0)
    assert res["slice_index"] == 15
    p, q = (np.asarray(e, float) for e in res["longest_endpoints_ijk"])
    angle = np.degrees(np.arctan2(abs(q - p)[1], abs(q - p)[0]))
    assert angle == pytest.approx(30, abs=3)  # along the ellipse's major axis


@pytest.mark.parametrize("inplane_deg", [-20.0, 60.0])
def test_rano_ellipse_oblique_anisotropic(inplane_deg: float) -> None:
    spacing = (0.8, 1.2, 3.0)
    shape, centre = (100, 70, 12), (50, 35, 6)
    mask = _ellipsoid(shape, spacing, centre, (28.0, 12.0, 10.0), inplane_deg=inplane_deg)
    aff = _affine(spacing, _rot(0, 15) @ _rot(2, 20), origin=(-30, 40, -10))
    res = m.rano(mask, aff)
    _check_rano(res, aff, mask, 56.0, 24.0, tol=float(np.hypot(0.8, 1.2)))
    assert res["slice_index"] == 6


def test_rano_picks_axis_closest_to_superior() -> None:
    # voxel axis 0 runs S-I here, so the axial slices count along axis 0
    aff = np.array([[0, 0, -1.0, 0], [0, 1.0, 0, 0], [1.0, 0, 0, 0], [0, 0, 0, 1]])
    mask = np.zeros((20, 40, 40), bool)
    mask[7, 10:31, 15:26] = True  # 21 x 11 voxel rectangle
    mask[8, 12:20, 18:22] = True
    res = m.rano(mask, aff)
    assert res["slice_axis"] == 0 and res["slice_index"] == 7
    assert res["longest_mm"] == pytest.approx(np.hypot(20, 10))


def test_two_blobs_are_two_lesions_with_ras_centroids() -> None:
    aff = np.array([[-1.0, 0, 0, 0], [0, -1.0, 0, 239], [0, 0, 2.0, -50], [0, 0, 0, 1]])  # BraTS-like
    shape = (60, 60, 40)
    big = _ellipsoid(shape, (1, 1, 2), (20, 20, 20), (8, 8, 8))
    small = _ellipsoid(shape, (1, 1, 2), (45, 40, 10), (4, 4, 4))
    found = m.lesions(big | small, aff)
    assert len(found) == 2
    assert found[0]["n_voxels"] == int(big.sum()) and found[1]["n_voxels"] == int(small.sum())
    assert found[0]["volume_ml"] > found[1]["volume_ml"]
    assert found[0]["centroid_ras_mm"] == pytest.approx([-20, 219, -10], abs=1e-6)
    assert found[1]["centroid_ras_mm"] == pytest.approx([-45, 199, -30], abs=1e-6)
    assert found[0]["max_diameter_mm"] == pytest.approx(16, abs=2.3)
    assert found[0]["volume_ml"] == pytest.approx(m.volume_ml(big, aff))
    assert len(m.lesions(big | small, aff, min_volume_ml=found[1]["volume_ml"] + 1e-6)) == 1
    json.dumps(found)  # plain Python types, ready for the JSON export


def test_diagonal_neighbours_join_one_lesion() -> None:
    mask = np.zeros((5, 5, 5), bool)
    mask[1, 1, 1] = mask[2, 2, 2] = True  # corner contact: one lesion with 26-connectivity
    found = m.lesions(mask, np.eye(4))
    assert len(found) == 1 and found[0]["max_diameter_mm"] == pytest.approx(np.sqrt(3))


def test_flat_and_tiny_sets() -> None:
    aff = _affine((0.5, 0.5, 4.0))
    line = np.zeros((30, 30, 5), bool)
    line[3:23, 7, 2] = True
    assert m.max_diameter_mm(line, aff) == pytest.approx(19 * 0.5)
    disc = np.zeros((30, 30, 5), bool)
    disc[5:25, 5:15, 2] = True
    assert m.max_diameter_mm(disc, aff) == pytest.approx(0.5 * np.hypot(19, 9))
    one = np.zeros((4, 4, 4), bool)
    one[1, 2, 3] = True
    assert m.max_diameter_mm(one, aff) == 0.0
    res = m.rano(one, aff)
    assert res["longest_mm"] == res["perpendicular_mm"] == res["product_mm2"] == 0.0
    assert res["longest_endpoints_ijk"] == [[1, 2, 3], [1, 2, 3]]


def test_empty_masks() -> None:
    aff = _affine((1.0, 1.0, 1.0))
    empty = np.zeros((10, 10, 10), bool)
    assert m.volume_ml(empty, aff) == 0.0
    assert m.max_diameter_mm(empty, aff) == 0.0
    assert m.lesions(empty, aff) == []
    assert m.rano(empty, aff) is None
    out = m.measure_labels(np.zeros((10, 10, 10), np.uint8), aff)
    assert out["rano"] is None
    nothing = {"volume_ml": 0.0, "max_diameter_mm": 0.0, "lesions": []}
    assert all(r == nothing for r in out["regions"].values())


def test_measure_labels_regions_nest() -> None:
    aff = _affine((1.0, 1.0, 1.0))
    shape, c = (50, 50, 50), (25, 25, 25)
    labels = np.zeros(shape, np.uint8)
    labels[_ellipsoid(shape, (1, 1, 1), c, (18, 18, 18))] = 2
    labels[_ellipsoid(shape, (1, 1, 1), c, (10, 10, 10))] = 4
    labels[_ellipsoid(shape, (1, 1, 1), c, (5, 5, 5))] = 1
    out = m.measure_labels(labels, aff)
    reg = out["regions"]
    assert reg["whole_tumor"]["volume_ml"] == pytest.approx(np.count_nonzero(labels) / 1000)
    assert reg["tumor_core"]["volume_ml"] == pytest.approx(np.isin(labels, (1, 4)).sum() / 1000)
    assert reg["enhancing_tumor"]["volume_ml"] == pytest.approx((labels == 4).sum() / 1000)
    whole, core, enh = (reg[r]["volume_ml"] for r in ("whole_tumor", "tumor_core", "enhancing_tumor"))
    assert whole > core > enh
    assert len(reg["enhancing_tumor"]["lesions"]) == 1  # a shell is still one lesion
    # the shell's largest axial cross-section lies within 6 mm of the centre (ring or disc of radius >= 8)
    assert 16.0 <= out["rano"]["longest_mm"] <= 20.0
    assert out["rano"]["perpendicular_mm"] == pytest.approx(out["rano"]["longest_mm"], abs=1.5)
    enhancing = m.region_mask(labels, "enhancing_tumor")
    assert out["rano"] == m.rano(enhancing, aff)  # the cropped fast path reports on the caller's grid
    assert reg["enhancing_tumor"]["lesions"] == m.lesions(enhancing, aff)
    assert reg["whole_tumor"]["max_diameter_mm"] == m.max_diameter_mm(labels > 0, aff)
    json.dumps(out)
    with pytest.raises(ValueError):
        m.region_mask(labels, "oedema")


BRATS = Path(__file__).resolve().parents[3] / "shared" / "data" / "brats"


@pytest.mark.realdata
def test_real_brats_labels_are_consistent() -> None:
    segs = sorted(BRATS.glob("*/*_seg.nii.gz"))[:1] if BRATS.is_dir() else []
    if not segs:
        pytest.skip("../shared/data/brats is absent")
    nib = pytest.importorskip("nibabel")
    img = nib.load(segs[0])
    labels, aff = np.asarray(img.dataobj).astype(np.uint8), img.affine
    out = m.measure_labels(labels, aff)
    vox_ml = m.voxel_volume_ml(aff)
    for name, region in out["regions"].items():
        mask = m.region_mask(labels, name)
        assert region["volume_ml"] == pytest.approx(mask.sum() * vox_ml)
        assert sum(les["volume_ml"] for les in region["lesions"]) == pytest.approx(region["volume_ml"])
        assert all(les["max_diameter_mm"] <= region["max_diameter_mm"] + 1e-9 for les in region["lesions"])
    assert out["rano"] is not None and out["rano"]["longest_mm"] >= out["rano"]["perpendicular_mm"] > 0
    json.dumps(out)
