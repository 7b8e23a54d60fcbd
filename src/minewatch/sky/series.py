"""Per-unit statistics per date: the series every rule is judged on."""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from rasterio.features import rasterize

from minewatch.sky.cube import Grid

STAT_VARS = ("ndvi", "fvc", "bsi")


def unit_masks(geoms_utm: dict[str, object], grid: Grid) -> xr.DataArray:
    """(unit, y, x) boolean masks: pixels whose centre lies inside each geometry."""
    h, w = grid.shape
    keys = list(geoms_utm)
    arr = np.zeros((len(keys), h, w), dtype=bool)
    for i, k in enumerate(keys):
        arr[i] = rasterize([(geoms_utm[k], 1)], out_shape=(h, w), transform=grid.transform,
                           fill=0, all_touched=False, dtype="uint8").astype(bool)
    return xr.DataArray(arr, dims=("unit", "y", "x"), coords={"unit": keys})


def unit_stats(index: xr.Dataset, clear: xr.DataArray, masks: xr.DataArray) -> xr.Dataset:
    """Lazy per (unit, time) counts and clear-pixel means of each index.

    A pixel counts when the SCL says clear and the index is defined there.
    """
    valid = clear & index.ndvi.notnull()
    m = masks.astype("float32")
    n_valid = xr.dot(valid.astype("float32"), m, dim=["y", "x"])
    out = {"n_px": m.sum(["y", "x"]), "clear_px": n_valid}
    for v in STAT_VARS:
        total = xr.dot(index[v].where(valid, 0).astype("float32"), m, dim=["y", "x"])
        out[f"{v}_mean"] = total / n_valid.where(n_valid > 0)
    return xr.Dataset(out)


def stats_frame(stats: xr.Dataset) -> pd.DataFrame:
    """Computed stats as a tidy table: one row per (unit, scene)."""
    df = stats.to_dataframe().reset_index()
    df["clear_fraction"] = np.where(df.n_px > 0, df.clear_px / df.n_px.where(df.n_px > 0), 0.0)
    keep = ["unit", "id", "time", "n_px", "clear_px", "clear_fraction"] + [f"{v}_mean" for v in STAT_VARS]
    df = df[[c for c in keep if c in df.columns]].rename(columns={"id": "item_id", "time": "datetime"})
    return df.sort_values(["unit", "datetime", "item_id"]).reset_index(drop=True)
