"""assess.reference on a hand-made 30 x 30 px grid (10 m): the ring, its stable vegetation, its series rows."""
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from minewatch.assess.reference import REFERENCE, reference_frame, ring_mask, stable_vegetation, water_fractions
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


def test_stable_vegetation_is_the_clear_baseline_median():
    nd = np.array([[[0.5, 0.1]], [[0.4, 0.2]], [[0.1, 0.9]]], np.float32)      # (t=3, y=1, x=2)
    clear = np.array([[[1, 1]], [[1, 1]], [[0, 0]]], bool)                     # the last date is cloud
    np.testing.assert_array_equal(stable_vegetation(nd, clear, 0.3), [[True, False]])   # medians 0.45, 0.15
    assert not stable_vegetation(nd, np.zeros_like(clear), 0.0).any()         # never clear: not stable


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
