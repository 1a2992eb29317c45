"""Windowing a plane to the bytes the viewer draws (core.window_level.display_bytes)."""

import numpy as np

from brainlens.core.window_level import display_bytes


def test_window_maps_low_to_0_high_to_255_and_clips():
    plane = np.array([[-50.0, 0.0, 50.0], [100.0, 150.0, np.nan]], dtype=np.float32)
    out = display_bytes(plane, 0.0, 100.0)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, [[0, 0, 127], [255, 255, 0]])


def test_integer_planes_and_a_zero_width_window():
    plane = np.array([[10, 20], [30, 40]], dtype=np.int16)
    np.testing.assert_array_equal(display_bytes(plane, 20, 20), [[0, 0], [255, 255]])


def test_bytes_are_fortran_ordered_for_the_column_major_renderer():
    plane = np.random.default_rng(0).random((64, 48, 5), dtype=np.float32)[:, :, 2]  # a strided axial cut
    out = display_bytes(plane, 0.0, 1.0)
    assert out.flags.f_contiguous and out.T.flags.c_contiguous
    np.testing.assert_array_equal(out, np.clip(plane * 255, 0, 255).astype(np.uint8))
