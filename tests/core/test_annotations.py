"""Ruler and ROI figures against hand / numpy computations on a known-spacing volume."""

import numpy as np
import pytest

from brainlens.core.annotations import Annotation, AnnotationStore
from brainlens.core.scene import SeriesDisplay
from brainlens.core.volume import Volume


@pytest.fixture
def series():
    data = np.random.default_rng(3).normal(500, 60, (40, 36, 20)).astype(np.float32)
    return SeriesDisplay.prepare(Volume(data, np.diag([0.8, 1.25, 2.0, 1.0]), "known spacing"))


def test_ten_mm_ruler_reads_ten_mm(series):
    along_h = Annotation("ruler", "axial", 5, [(3.0, 4.0), (3.0 + 12.5, 4.0)], series)  # 12.5 x 0.8 mm
    along_v = Annotation("ruler", "axial", 5, [(3.0, 4.0), (3.0, 12.0)], series)  # 8 x 1.25 mm
    oblique = Annotation("ruler", "coronal", 5, [(0.0, 0.0), (7.5, 3.0)], series)  # 6 mm across, 6 mm down
    assert along_h.length_mm() == pytest.approx(10.0)
    assert along_v.length_mm() == pytest.approx(10.0)
    assert oblique.length_mm() == pytest.approx(np.hypot(6.0, 6.0))
    assert "10.0 mm" in along_h.summary()


def test_ellipse_roi_matches_numpy(series):
    ann = Annotation("ellipse", "axial", 7, [(10.0, 8.0), (22.0, 20.0)], series)
    sl = series.canonical.data[:, :, 7]
    hh, vv = np.meshgrid(np.arange(sl.shape[0]), np.arange(sl.shape[1]), indexing="ij")
    inside = ((hh - 16.0) / 6.0) ** 2 + ((vv - 14.0) / 6.0) ** 2 <= 1.0
    s = ann.stats()
    assert s["n"] == inside.sum()
    assert s["mean"] == pytest.approx(float(sl[inside].mean()), rel=1e-6)
    assert s["sd"] == pytest.approx(float(sl[inside].std()), rel=1e-5)
    assert s["area_mm2"] == pytest.approx(np.pi * (6 * 0.8) * (6 * 1.25))


def test_freehand_square_roi(series):
    square = [(4.5, 4.5), (9.5, 4.5), (9.5, 9.5), (4.5, 9.5)]  # pixel centres 5..9 inside
    ann = Annotation("freehand", "sagittal", 3, square, series)
    sl = series.canonical.data[3, :, :]
    s = ann.stats()
    assert s["n"] == 25
    assert s["mean"] == pytest.approx(float(sl[5:10, 5:10].mean()), rel=1e-6)
    assert s["area_mm2"] == pytest.approx(5 * 1.25 * 5 * 2.0)


def test_store_names_lists_and_finds_by_slice(series):
    store, seen = AnnotationStore(), []
    store.changed.connect(lambda: seen.append(len(store.items)))
    a = store.add(Annotation("ruler", "axial", 2, [(0, 0), (1, 1)], series))
    b = store.add(Annotation("ruler", "axial", 3, [(0, 0), (1, 1)], series))
    assert (a.name, b.name) == ("Ruler 1", "Ruler 2")
    assert store.on_slice(series, "axial", 3) == [b]
    index = store.remove(a)
    store.insert(index, a)
    assert store.items == [a, b] and seen == [1, 2, 1, 2]
