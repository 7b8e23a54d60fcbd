"""The natural-vegetation reference ring around a mine.

Rule (docs/assessment.md): the ring is the band ``inner_m``..``outer_m`` outside the mine
boundary, minus other mines' boundaries, minus every declared unit (temporary land can lie
outside the boundary), minus pixels that were not vegetated in the baseline season (median
NDVI < ``stable_ndvi_min``: roads, water, other pits) and minus pixels with confirmed loss
this season. Per date, the reference is the mean FVC (and NDVI) of the ring's clear pixels;
it becomes unit ``reference`` in the per-unit series so reports can draw it and the rules
can normalise against it.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from minewatch.assess.disturbance import clear_median
from minewatch.assess.masks import burn
from minewatch.sky.cube import Grid

REFERENCE = "reference"     # unit key of the natural-vegetation ring in the series


def ring_mask(boundary_utm: BaseGeometry, grid: Grid, inner_m: float, outer_m: float,
              exclude_geoms: Iterable[BaseGeometry] = ()) -> np.ndarray:
    """(y, x) bool: pixel centres in the band inner_m..outer_m outside the boundary, off `exclude_geoms`."""
    ring = boundary_utm.buffer(outer_m).difference(boundary_utm.buffer(inner_m))
    ex = [g for g in exclude_geoms if g is not None and not g.is_empty]
    if ex:
        ring = ring.difference(unary_union(ex))
    return burn([ring], grid)


def stable_vegetation(base_ndvi: np.ndarray, base_clear: np.ndarray, ndvi_min: float) -> np.ndarray:
    """Pixels green in the baseline season (median of clear dates >= ndvi_min)."""
    med = clear_median(base_ndvi, base_clear)
    return np.isfinite(med) & (med >= ndvi_min)


def reference_frame(mask: np.ndarray, ndvi: np.ndarray, fvc: np.ndarray, clear: np.ndarray,
                    item_ids: Iterable[str], times: Iterable, min_pixels: int) -> pd.DataFrame | None:
    """Series rows (unit ``reference``) in the shape of `sky.series.stats_frame`."""
    n = int(mask.sum())
    if n < min_pixels:
        return None
    rows = []
    for i, (iid, t) in enumerate(zip(item_ids, times)):
        ok = clear[i][mask] & np.isfinite(ndvi[i][mask])
        k = int(ok.sum())
        rows.append({"unit": REFERENCE, "item_id": str(iid), "datetime": pd.Timestamp(t), "n_px": float(n),
                     "clear_px": float(k), "clear_fraction": k / n,
                     "ndvi_mean": float(ndvi[i][mask][ok].mean()) if k else np.nan,
                     "fvc_mean": float(fvc[i][mask][ok].mean()) if k else np.nan,
                     "bsi_mean": np.nan})
    return pd.DataFrame(rows)


def water_fractions(masks: dict[str, np.ndarray], mndwi: np.ndarray, clear: np.ndarray,
                    item_ids: Iterable[str]) -> pd.DataFrame:
    """Per (unit, scene): share of the unit's clear pixels with MNDWI > 0 (open water)."""
    rows = []
    for key, m in masks.items():
        for i, iid in enumerate(item_ids):
            v = mndwi[i][m]
            ok = clear[i][m] & np.isfinite(v)
            rows.append({"unit": key, "item_id": str(iid),
                         "water_fraction": float((v[ok] > 0).mean()) if ok.any() else np.nan})
    return pd.DataFrame(rows, columns=["unit", "item_id", "water_fraction"])


def snow_fractions(masks: dict[str, np.ndarray], snow: np.ndarray, item_ids: Iterable[str]) -> pd.DataFrame:
    """Per (unit, scene): share of the unit's pixels under snow or ice (a date recorded as
    snow-covered; the pixels are out of the clear mask already)."""
    rows = []
    for key, m in masks.items():
        n = int(m.sum())
        for i, iid in enumerate(item_ids):
            rows.append({"unit": key, "item_id": str(iid),
                         "snow_fraction": float(snow[i][m].sum()) / n if n else np.nan})
    return pd.DataFrame(rows, columns=["unit", "item_id", "snow_fraction"])
