"""The per-unit statistics table: only new or changed steps are computed, the rest read back.

A small real index cube (random NDVI/FVC/BSI, a clear mask, two unit masks) through the
night's own `series.unit_stats` and `series.stats_frame`.
"""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from minewatch.sky import series
from minewatch.sky.pixels import Step
from minewatch.sky.unitstats import UnitStatsStore, stats_key

T, H, W = 5, 12, 10


@pytest.fixture()
def cube():
    rng = np.random.default_rng(3)
    ids = [f"S2A_{d}" for d in range(T)]
    times = np.array([np.datetime64("2026-06-01", "ns") + np.timedelta64(10 * d, "D") for d in range(T)])
    c = {"time": times, "id": ("time", ids)}
    idx = xr.Dataset({v: (("time", "y", "x"), rng.uniform(-0.2, 0.9, (T, H, W)).astype("float32"))
                      for v in series.STAT_VARS}, coords=c)
    clear = xr.DataArray(rng.uniform(size=(T, H, W)) > 0.3, dims=("time", "y", "x"), coords=c)
    m = np.zeros((2, H, W), bool)
    m[0, :6], m[1, 6:, 3:] = True, True
    masks = xr.DataArray(m, dims=("unit", "y", "x"), coords={"unit": ["u1", "u2"]})
    steps = [Step(f"sentinel-2a_2026-06-{d + 1:02d}", ids[d], date(2026, 6, d + 1), f"fp{d}") for d in range(T)]
    return idx, clear, masks, steps


def _compute(idx, clear, masks, asked):
    def compute(steps):
        asked.append([st.key for st in steps])
        pos = [list(idx.id.values).index(st.id) for st in steps]
        return series.stats_frame(series.unit_stats(idx.isel(time=pos), clear.isel(time=pos), masks).compute())
    return compute


def test_only_new_or_changed_steps_are_computed_and_the_table_equals_a_full_computation(cube, tmp_path):
    idx, clear, masks, steps = cube
    store, asked = UnitStatsStore(tmp_path / "stats"), []
    compute = _compute(idx, clear, masks, asked)
    key = stats_key(masks, {"mask_classes": [0, 1, 3, 8, 9, 10], "dilation": 2})
    full = series.stats_frame(series.unit_stats(idx, clear, masks).compute())

    first, done = store.update("M1", key, steps[:3], compute)
    assert done == [st.key for st in steps[:3]] and len(first) == 2 * 3
    got, done = store.update("M1", key, steps, compute)       # two new steps: only they are computed
    assert done == [st.key for st in steps[3:]]
    pd.testing.assert_frame_equal(got.drop(columns="fingerprint"), full)
    assert store.update("M1", key, steps, compute)[1] == []   # nothing new: nothing computed
    pd.testing.assert_frame_equal(store.load("M1", key).drop(columns="fingerprint"), full)   # a real Parquet

    again = list(steps)
    again[1] = Step(steps[1].key, steps[1].id, steps[1].day, "reprocessed")
    assert store.update("M1", key, again, compute)[1] == [steps[1].key]      # a changed scene: that step
    moved = masks.copy(data=np.roll(masks.values, 1, axis=2))
    other = stats_key(moved, {"mask_classes": [0, 1, 3, 8, 9, 10], "dilation": 2})
    assert other != key and stats_key(masks, {"mask_classes": [0, 1], "dilation": 2}) != key
    assert len(store.update("M1", other, again, compute)[1]) == T             # other units: every step
    kept, done = store.update("M1", other, again[2:], compute)                # steps no longer searched
    assert done == [] and sorted(set(kept["item_id"])) == [st.id for st in again[2:]]


def test_same_rows_give_same_bytes_and_a_damaged_table_is_computed_again(cube, tmp_path):
    idx, clear, masks, steps = cube
    one, two, asked = UnitStatsStore(tmp_path / "one"), UnitStatsStore(tmp_path / "two"), []
    compute = _compute(idx, clear, masks, asked)
    key = stats_key(masks, {})
    one.update("M1", key, steps, compute)
    two.update("M1", key, steps[2:], compute)
    two.update("M1", key, steps, compute)
    assert (tmp_path / "one" / "M1.parquet").read_bytes() == (tmp_path / "two" / "M1.parquet").read_bytes()
    (tmp_path / "one" / "M1.parquet").write_bytes(b"PAR1 not really")
    assert one.load("M1", key) is None
    assert len(one.update("M1", key, steps, compute)[1]) == T
