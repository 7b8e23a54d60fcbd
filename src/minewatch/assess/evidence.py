"""What the rules judge one mine on: its grid, geometries, per-pixel arrays and per-unit series.

`pipeline.process_mine` reads the sky (load, observe, compute) and hands the computed arrays
to `build`, which derives, once, everything several rules share: the unit masks, the water
share per unit, the same-season loss mask and the natural-vegetation reference ring. Every
rule (assess.judge.RULES) then reads one `Evidence` and nothing else from the sky.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Iterable, Mapping

import numpy as np
import pandas as pd
from affine import Affine
from shapely.geometry.base import BaseGeometry

from minewatch.assess import cropland, reference
from minewatch.assess.disturbance import LossMask, loss_mask
from minewatch.assess.masks import burn
from minewatch.assess.season import Season, in_seasons
from minewatch.config import AssessSettings, Settings
from minewatch.ledger.history import MineHistory
from minewatch.promised import coords
from minewatch.sky.cube import Grid


@dataclass(frozen=True, eq=False)
class Dates:
    """Which of the window's time steps are this season's and which the baseline's."""
    season: Season                          # this plan year's assessment season
    baseline_seasons: tuple[Season, ...]    # the same season of the baseline years, nearest first
    current: np.ndarray                     # (t,) bool: in `season`
    baseline: np.ndarray                    # (t,) bool: in any baseline season

    @classmethod
    def of(cls, times: np.ndarray, plan_year: int, a: AssessSettings,
           window: tuple[str, str] | None = None) -> "Dates":
        """`window`: the mine's MM-DD season (ThresholdTable.window_of; None: the config's)."""
        season = Season.of(plan_year, *(window or (a.season_start, a.season_end)))
        base = tuple(season.shifted(-k) for k in range(1, a.disturbance.baseline_years + 1))
        return cls(season, base, in_seasons(times, [season]), in_seasons(times, base))

    @property
    def composite(self) -> np.ndarray:
        """Steps the season composite is made of: this season's, else the baseline's, else all."""
        if self.current.any():
            return self.current
        return self.baseline if self.baseline.any() else np.ones(len(self.current), bool)


@dataclass(frozen=True, eq=False)
class Evidence:
    """One mine's evidence on its UTM grid; arrays are (t, y, x) over the window's time steps."""
    grid: Grid
    boundary_utm: BaseGeometry
    units_utm: dict[str, BaseGeometry]       # unit key -> geometry in the grid's CRS
    unit_masks: dict[str, np.ndarray]        # unit key -> (y, x) pixel centres inside (the series' masks)
    unit_footprints: dict[str, np.ndarray]   # unit key -> (y, x) every pixel the unit touches
    series: pd.DataFrame                     # per (unit, scene) stats, water share, the reference ring
    reference: pd.DataFrame | None           # the ring's rows of `series` (None: no usable ring)
    ndvi: np.ndarray
    fvc: np.ndarray
    clear: np.ndarray                        # bool
    times: np.ndarray                        # (t,) datetime64
    ids: tuple[str, ...]                     # (t,) scene ids
    dates: Dates
    loss: LossMask | None                    # None without both baseline and current dates
    as_of: date
    plan_year: int
    history: MineHistory | None = None       # the ledger's snapshot of the mine (the history rules)
    # unit keys measured for the history rules only (last year's planned units this plan drops):
    # in the series, not declared ground for the disturbance rules
    measured_only: frozenset[str] = frozenset()
    fields: np.ndarray | None = None         # (y, x) field pixels of the baseline year (assess.cropland)

    @property
    def epsg(self) -> int:
        return self.grid.epsg

    @property
    def transform(self) -> Affine:
        return self.grid.transform

    @property
    def current_ids(self) -> list[str]:
        return [i for i, c in zip(self.ids, self.dates.current) if c]


def build(*, grid: Grid, boundary_utm: BaseGeometry, units_utm: Mapping[str, BaseGeometry],
          unit_masks: Mapping[str, np.ndarray], stats: pd.DataFrame, ndvi: np.ndarray, fvc: np.ndarray,
          clear: np.ndarray, mndwi: np.ndarray, times: np.ndarray, ids: Iterable[str], dates: Dates,
          others: Iterable[BaseGeometry], as_of: date, plan_year: int, s: Settings,
          history: MineHistory | None = None, measured_only: Iterable[str] = (),
          snow: np.ndarray | None = None) -> Evidence:
    """The evidence from the computed window. `stats`: the per-unit series (`sky.series.stats_frame`);
    `unit_masks`: the masks it was computed with; `others`: other mines' boundaries (EPSG:4490),
    kept out of the reference ring; `snow`: (t, y, x) snow or ice (already out of `clear`), counted
    per unit and date as the series' `snow_fraction`."""
    a = s.assess
    ids = tuple(str(i) for i in ids)
    series = stats
    if unit_masks:   # share of open water (MNDWI > 0) per unit and date, for water targets
        wf = reference.water_fractions(dict(unit_masks), mndwi, clear, ids)
        series = series.merge(wf, on=["unit", "item_id"], how="left")
        if snow is not None:
            series = series.merge(reference.snow_fractions(dict(unit_masks), snow, ids),
                                  on=["unit", "item_id"], how="left")

    cur, base = dates.current, dates.baseline
    band = None
    if a.reference.enabled and base.any():
        others_utm = [coords.transform(g, 4490, grid.epsg) for g in others]
        band = reference.ring_mask(boundary_utm, grid, a.reference.inner_m, a.reference.outer_m,
                                   others_utm + list(units_utm.values()))
    # fields (assess.cropland): green then harvested in the baseline year; seen at the crop's peak only
    fields = _fields(ndvi, clear, times, plan_year, a) if band is not None else None
    crop_ref, cur_clear = None, clear[cur]
    if fields is not None and fields.any():
        crop_ref = reference.reference_frame(band & fields, ndvi, fvc, clear, ids, times, a.reference.min_pixels,
                                             cropland.REFERENCE_CROPLAND)
        if crop_ref is not None:
            peaks = cropland.peak_ids(crop_ref, dates.season, a.reference.min_clear_fraction, a.cropland.peak_share)
            cur_clear = cropland.judged_clear(clear[cur], fields, np.isin(np.array(ids)[cur], peaks))

    # change detection on the same season of earlier years
    loss = loss_mask(ndvi[base], clear[base], ndvi[cur], cur_clear, a.disturbance) \
        if base.any() and cur.any() else None

    # the reference ring: stable natural ground around the mine, this season and the baseline
    ref = None
    if band is not None:
        kept = ~loss.confirmed if loss is not None else np.ones(grid.shape, bool)
        not_fields = ~fields if fields is not None else np.ones(grid.shape, bool)
        ring = reference.natural_ground(ndvi[base], clear[base], band & kept & not_fields,
                                        a.reference.stable_std_max, a.reference.level_share)
        ref = reference.reference_frame(ring, ndvi, fvc, clear, ids, times, a.reference.min_pixels)
        if crop_ref is not None and loss is not None and (band & fields & loss.confirmed).any():
            crop_ref = reference.reference_frame(band & fields & kept, ndvi, fvc, clear, ids, times,
                                                 a.reference.min_pixels, cropland.REFERENCE_CROPLAND)
        rings = [f for f in (ref, crop_ref) if f is not None]
        if rings:
            series = pd.concat([series, *rings], ignore_index=True).sort_values(
                ["unit", "datetime", "item_id"]).reset_index(drop=True)

    return Evidence(grid=grid, boundary_utm=boundary_utm, units_utm=dict(units_utm),
                    unit_masks=dict(unit_masks),
                    unit_footprints={k: burn([g], grid, all_touched=True) for k, g in units_utm.items()},
                    series=series, reference=ref, ndvi=ndvi, fvc=fvc, clear=clear, times=times, ids=ids,
                    dates=dates, loss=loss, as_of=as_of, plan_year=plan_year, history=history,
                    measured_only=frozenset(measured_only), fields=fields)


def _fields(ndvi: np.ndarray, clear: np.ndarray, times: np.ndarray, plan_year: int,
            a: AssessSettings) -> np.ndarray | None:
    """Field pixels (assess.cropland.harvested, per calendar year) over the years before the
    plan year; None when cropland handling is off or there is no such date."""
    years = pd.to_datetime(times).year
    if not a.cropland.enabled or not (years < plan_year).any():
        return None
    out = np.zeros(ndvi.shape[1:], bool)
    for y in sorted(set(years[years < plan_year])):
        k = np.asarray(years == y)
        out |= cropland.harvested(ndvi[k], clear[k], a.cropland.green_ndvi_min, a.cropland.harvest_ndvi_max)
    return out
