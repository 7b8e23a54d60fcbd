"""The natural-vegetation reference ring around a mine.

Rule (docs/assessment.md): the ring is the band ``inner_m``..``outer_m`` outside the mine
boundary, minus other mines' boundaries, minus every declared unit (temporary land can lie
outside the boundary), minus pixels that are not stable natural ground in the baseline season
and minus pixels with confirmed loss this season. Natural ground is chosen by stability, not by
an NDVI floor, so that a desert-steppe ring (NDVI ~0.15) still exists: the pixel's NDVI varies
little over the baseline season's clear dates (std <= ``stable_std_max``: fields being ploughed
or harvested, land being changed are out), it is not water (median > 0), and its median is at
least ``level_share`` of the ring's own median (roads, pits, rock outcrops in the ring are out;
relative, so it scales with the land). Per date, the reference is the mean FVC (and NDVI) of
the ring's clear pixels; it becomes unit ``reference`` in the per-unit series so reports can
draw it and the rules can normalise against it. Where the ring is itself under a unit's FVC
minimum (sparse natural cover), `sparse_bar` judges the unit relative to the ring.
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


def natural_ground(base_ndvi: np.ndarray, base_clear: np.ndarray, within: np.ndarray,
                   std_max: float, level_share: float) -> np.ndarray:
    """(y, x) bool: stable natural ground among `within` (module docstring): clear-date NDVI
    std <= std_max over the baseline season, median > 0 (not water) and >= level_share x the
    median of the stable candidates' medians."""
    med = clear_median(base_ndvi, base_clear)
    data = np.where(base_clear, base_ndvi, np.nan)
    n = np.isfinite(data).sum(axis=0)
    std = np.full(med.shape, np.inf)
    has = n >= 2
    if has.any():
        std[has] = np.nanstd(data[:, has], axis=0)
    cand = within & np.isfinite(med) & (med > 0) & (std <= std_max)
    if not cand.any():
        return cand
    return cand & (med >= level_share * float(np.median(med[cand])))


def sparse_bar(fvc_min: float, now: float | None, base: float | None, share: float) -> float | None:
    """The relative bar where the ring is sparse: share x the ring's cover this season, when the
    ring is under the unit's minimum this season and in the baseline season (natural land that
    never reaches the bar); None where the ring is not sparse (or unknown)."""
    if not now or (base is not None and base >= fvc_min) or now >= fvc_min:
        return None
    return round(share * now, 4)


def bare_ceiling(bare_ndvi: float, ring_ndvi: float | None, gap: float) -> float:
    """NDVI at or under which ground is bare: `bare_ndvi`, lowered to `gap` under the ring's
    season NDVI where the ring is near the bare line (matching the surroundings is not bare)."""
    return bare_ndvi if ring_ndvi is None else min(bare_ndvi, round(ring_ndvi - gap, 4))


def reference_frame(mask: np.ndarray, ndvi: np.ndarray, fvc: np.ndarray, clear: np.ndarray,
                    item_ids: Iterable[str], times: Iterable, min_pixels: int,
                    unit: str = REFERENCE) -> pd.DataFrame | None:
    """Series rows (unit `unit`, the ring's) in the shape of `sky.series.stats_frame`."""
    n = int(mask.sum())
    if n < min_pixels:
        return None
    rows = []
    for i, (iid, t) in enumerate(zip(item_ids, times)):
        ok = clear[i][mask] & np.isfinite(ndvi[i][mask])
        k = int(ok.sum())
        rows.append({"unit": unit, "item_id": str(iid), "datetime": pd.Timestamp(t), "n_px": float(n),
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
