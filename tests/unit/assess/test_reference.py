"""assess.reference on a hand-made 30 x 30 px grid (10 m): the ring, its natural ground, its series rows,
the relative bar and bare line where the ring is sparse."""
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from minewatch.assess.reference import (
    REFERENCE,
    bare_ceiling,
    natural_ground,
    reference_frame,
    ring_mask,
    sparse_bar,
    water_fractions,
)
from minewatch.sky.cube import Grid

GRID = Grid(32649, (0.0, 0.0, 300.0, 300.0), 10.0)
MINE = box(100, 100, 200, 200)          # rows/cols 10..20


def test_ring_is_the_band_outside_the_boundary_minus_exclusions():
    ring = ring_mask(MINE, GRID, 0.0, 50.0)
    assert not ring[10:20, 10:20].any()                       # the mine itself
    assert ring[5:25, 5:25].sum() == 20 * 20 - 10 * 10 - 4 * 5   # rounded corners miss a few centres
    other = box(0, 0, 300, 150)                               # the southern half: another mine
    half = ring_mask(MINE, GRID, 0.0, 50.0, [other])
    assert not half[15:].any() and half[:15].sum() == ring[:15].sum()
    assert ring_mask(MINE, GRID, 0.0, 50.0, [box(-1000, -1000, 1000, 1000)]).sum() == 0


def test_natural_ground_is_stable_not_green():
    # (t=4, y=1, x=6): desert steppe, a second steppe pixel, a field (ploughed), water, a road, steppe under cloud
    nd = np.array([[0.16, 0.15, 0.7, -0.4, 0.06, 0.9],
                   [0.15, 0.16, 0.1, -0.4, 0.06, 0.9],
                   [0.17, 0.15, 0.6, -0.4, 0.06, 0.16],
                   [0.16, 0.16, 0.2, -0.4, 0.06, 0.15]], np.float32)[:, None, :]
    clear = np.ones(nd.shape, bool)
    clear[:2, 0, 5] = False                                   # the cloudy dates are not seen
    every = np.ones((1, 6), bool)
    np.testing.assert_array_equal(natural_ground(nd, clear, every, 0.12, 0.5),
                                  [[True, True, False, False, False, True]])
    # no NDVI floor: a green pixel is kept the same way, and `within` limits the candidates
    # the pixel at 0.1 is now under half the ring's 0.66; the one at 0.56 is not
    np.testing.assert_array_equal(natural_ground(nd + 0.5, clear, every, 0.12, 0.5),
                                  [[True, True, False, False, True, True]])
    only = np.array([[True, False, False, False, False, False]])
    np.testing.assert_array_equal(natural_ground(nd, clear, only, 0.12, 0.5), only)
    assert not natural_ground(nd, np.zeros_like(clear), every, 0.12, 0.5).any()   # never clear: not natural


def test_sparse_bar_only_where_the_ring_is_under_the_minimum_in_both_seasons():
    assert sparse_bar(0.3, 0.15, 0.16, 0.7) == pytest.approx(0.105)      # desert steppe
    assert sparse_bar(0.3, 0.15, None, 0.7) == pytest.approx(0.105)      # no baseline season: this one
    assert sparse_bar(0.5, 0.35, 0.7, 0.7) is None                       # a drought year: the factor's job
    assert sparse_bar(0.3, 0.6, 0.6, 0.7) is None and sparse_bar(0.3, None, 0.1, 0.7) is None


def test_bare_line_stays_under_a_sparse_ring():
    assert bare_ceiling(0.2, 0.16, 0.05) == pytest.approx(0.11)
    assert bare_ceiling(0.2, 0.6, 0.05) == 0.2 and bare_ceiling(0.2, None, 0.05) == 0.2


def test_reference_frame_means_the_clear_ring_pixels_per_date():
    mask = np.zeros((2, 2), bool)
    mask[0] = True                                             # 2 ring pixels
    ndvi = np.array([[[0.6, 0.8], [0, 0]], [[0.5, np.nan], [0, 0]]], np.float32)
    fvc = np.array([[[0.5, 0.7], [0, 0]], [[0.4, 0.0], [0, 0]]], np.float32)
    clear = np.ones((2, 2, 2), bool)
    times = pd.to_datetime(["2026-07-01", "2026-07-06"]).values
    df = reference_frame(mask, ndvi, fvc, clear, ["A", "B"], times, min_pixels=2)
    assert list(df.unit) == [REFERENCE] * 2 and list(df.item_id) == ["A", "B"]
    assert list(df.n_px) == [2.0, 2.0] and list(df.clear_px) == [2.0, 1.0] and list(df.clear_fraction) == [1.0, 0.5]
    assert df.ndvi_mean.tolist() == pytest.approx([0.7, 0.5]) and df.fvc_mean.tolist() == pytest.approx([0.6, 0.4])
    assert df.bsi_mean.isna().all()
    assert reference_frame(mask, ndvi, fvc, clear, ["A", "B"], times, min_pixels=3) is None


def test_water_fractions_per_unit_and_scene():
    m = {"planned:1": np.array([[True, True], [True, False]])}
    mndwi = np.array([[[0.2, -0.1], [0.3, 0.9]], [[np.nan, -0.2], [-0.3, 0.9]]], np.float32)
    clear = np.array([[[1, 1], [0, 1]], [[1, 1], [1, 1]]], bool)
    df = water_fractions(m, mndwi, clear, ["A", "B"])
    assert df.water_fraction.tolist() == [0.5, 0.0]            # A: 1 of 2 clear; B: 0 of 2 defined
