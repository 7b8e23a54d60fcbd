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

from typing import Iterable, NamedTuple

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


def baseline_spread(base_ndvi: np.ndarray, base_clear: np.ndarray) -> np.ndarray:
    """(y, x) std of the clear-date NDVI over the baseline season; inf under two such dates."""
    data = np.where(base_clear, base_ndvi, np.nan)
    n = np.isfinite(data).sum(axis=0)
    std = np.full(data.shape[1:], np.inf)
    has = n >= 2
    if has.any():
        std[has] = np.nanstd(data[:, has], axis=0)
    return std


def natural_ground(base_ndvi: np.ndarray, base_clear: np.ndarray, within: np.ndarray,
                   std_max: float, level_share: float) -> np.ndarray:
    """(y, x) bool: stable natural ground among `within` (module docstring): clear-date NDVI
    std <= std_max over the baseline season, median > 0 (not water) and >= level_share x the
    median of the stable candidates' medians."""
    return stable_ground(clear_median(base_ndvi, base_clear), baseline_spread(base_ndvi, base_clear), within,
                         std_max, level_share)


def stable_ground(med: np.ndarray, std: np.ndarray, within: np.ndarray, std_max: float,
                  level_share: float) -> np.ndarray:
    """`natural_ground` from the baseline's per-pixel clear median and spread (a window's
    aggregates: the level is the whole ring's, so it is taken once the tiles are pasted)."""
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


def season_ndvi(ref: pd.DataFrame | None, current_ids: Iterable[str], min_clear_fraction: float,
                min_dates: int) -> float | None:
    """The ring's season NDVI: median over this season's dates (`current_ids`) it is clear
    enough on, at least `min_dates` of them; None without a ring."""
    if ref is None:
        return None
    r = ref[ref.item_id.isin(list(current_ids)) & (ref.clear_fraction >= min_clear_fraction)].ndvi_mean.dropna()
    return float(r.median()) if len(r) >= min_dates else None


class RingSums(NamedTuple):
    """Per date over a ring's clear pixels with an NDVI: their count and float32 NDVI/FVC sums
    (as `ndarray.mean` sums them), so tiles of one ring add up."""
    n_px: int                # pixels in the ring
    clear_px: np.ndarray     # (t,) int
    ndvi_sum: np.ndarray     # (t,) float32
    fvc_sum: np.ndarray      # (t,) float32

    def __add__(self, other: "RingSums") -> "RingSums":     # type: ignore[override]
        return RingSums(self.n_px + other.n_px, self.clear_px + other.clear_px, self.ndvi_sum + other.ndvi_sum,
                        self.fvc_sum + other.fvc_sum)


def ring_sums(mask: np.ndarray, ndvi: np.ndarray, fvc: np.ndarray, clear: np.ndarray) -> RingSums:
    """`RingSums` of (y, x) `mask` over (t, y, x) arrays."""
    t = ndvi.shape[0]
    k, sn, sf = np.zeros(t, np.int64), np.zeros(t, np.float32), np.zeros(t, np.float32)
    for i in range(t):
        v = ndvi[i][mask]
        ok = clear[i][mask] & np.isfinite(v)
        k[i] = int(ok.sum())
        if k[i]:
            sn[i], sf[i] = v[ok].sum(), fvc[i][mask][ok].sum()
    return RingSums(int(mask.sum()), k, sn, sf)


def reference_rows(sums: RingSums, item_ids: Iterable[str], times: Iterable, min_pixels: int,
                   unit: str = REFERENCE) -> pd.DataFrame | None:
    """Series rows (unit `unit`, the ring's) in the shape of `sky.series.stats_frame`."""
    n = sums.n_px
    if n < min_pixels:
        return None
    rows = []
    for i, (iid, t) in enumerate(zip(item_ids, times)):
        k = int(sums.clear_px[i])
        rows.append({"unit": unit, "item_id": str(iid), "datetime": pd.Timestamp(t), "n_px": float(n),
                     "clear_px": float(k), "clear_fraction": k / n,
                     # as ndarray.mean divides: float32(float64 sum / n)
                     "ndvi_mean": float(np.float32(np.float64(sums.ndvi_sum[i]) / k)) if k else np.nan,
                     "fvc_mean": float(np.float32(np.float64(sums.fvc_sum[i]) / k)) if k else np.nan,
                     "bsi_mean": np.nan})
    return pd.DataFrame(rows)


def reference_frame(mask: np.ndarray, ndvi: np.ndarray, fvc: np.ndarray, clear: np.ndarray,
                    item_ids: Iterable[str], times: Iterable, min_pixels: int,
                    unit: str = REFERENCE) -> pd.DataFrame | None:
    """Series rows (unit `unit`, the ring's) in the shape of `sky.series.stats_frame`."""
    return reference_rows(ring_sums(mask, ndvi, fvc, clear), item_ids, times, min_pixels, unit)


def water_counts(masks: np.ndarray, mndwi: np.ndarray, clear: np.ndarray) -> np.ndarray:
    """(unit, t, 2) int: per unit mask of (unit, y, x) and date, its clear pixels with an MNDWI
    and those of them with MNDWI > 0 (open water)."""
    out = np.zeros((masks.shape[0], mndwi.shape[0], 2), np.int64)
    for u, m in enumerate(masks):
        for i in range(mndwi.shape[0]):
            v = mndwi[i][m]
            ok = clear[i][m] & np.isfinite(v)
            out[u, i] = int(ok.sum()), int((v[ok] > 0).sum())
    return out


def water_frame(keys: Iterable[str], counts: np.ndarray, item_ids: Iterable[str]) -> pd.DataFrame:
    """Per (unit, scene) of `water_counts`: share of the unit's clear pixels with MNDWI > 0."""
    ids = [str(i) for i in item_ids]
    rows = [{"unit": key, "item_id": iid, "water_fraction": float(c[i, 1] / c[i, 0]) if c[i, 0] else np.nan}
            for key, c in zip(keys, counts) for i, iid in enumerate(ids)]
    return pd.DataFrame(rows, columns=["unit", "item_id", "water_fraction"])


def water_fractions(masks: dict[str, np.ndarray], mndwi: np.ndarray, clear: np.ndarray,
                    item_ids: Iterable[str]) -> pd.DataFrame:
    """Per (unit, scene): share of the unit's clear pixels with MNDWI > 0 (open water)."""
    stack = np.stack(list(masks.values())) if masks else np.zeros((0,) + mndwi.shape[1:], bool)
    return water_frame(masks, water_counts(stack, mndwi, clear), item_ids)


def snow_counts(masks: np.ndarray, snow: np.ndarray) -> np.ndarray:
    """(unit, t) int: per unit mask of (unit, y, x) and date, its pixels under snow or ice."""
    return np.array([[int(snow[i][m].sum()) for i in range(snow.shape[0])] for m in masks],
                    np.int64).reshape(masks.shape[0], snow.shape[0])


def snow_frame(keys: Iterable[str], counts: np.ndarray, n_px: Iterable[int], item_ids: Iterable[str]) -> pd.DataFrame:
    """Per (unit, scene) of `snow_counts`: share of the unit's `n_px` pixels under snow or ice."""
    ids = [str(i) for i in item_ids]
    rows = [{"unit": key, "item_id": iid, "snow_fraction": float(c[i]) / n if n else np.nan}
            for key, c, n in zip(keys, counts, n_px) for i, iid in enumerate(ids)]
    return pd.DataFrame(rows, columns=["unit", "item_id", "snow_fraction"])


def snow_fractions(masks: dict[str, np.ndarray], snow: np.ndarray, item_ids: Iterable[str]) -> pd.DataFrame:
    """Per (unit, scene): share of the unit's pixels under snow or ice (a date recorded as
    snow-covered; the pixels are out of the clear mask already)."""
    stack = np.stack(list(masks.values())) if masks else np.zeros((0,) + snow.shape[1:], bool)
    return snow_frame(masks, snow_counts(stack, snow), [int(m.sum()) for m in masks.values()], item_ids)
