"""What the rules judge one mine on: its grid, geometries, per-pixel aggregates and per-unit series.

`pipeline.process_mine` reads the sky (load, observe) and reduces it tile by tile to the
window's aggregates and tables (`assess.pixelstats`), then `build` derives, once, everything
several rules share: the unit masks, the water share per unit, the same-season loss mask and
the natural-vegetation reference ring. Every rule (assess.judge.RULES) then reads one
`Evidence` and nothing else from the sky; no rule sees a (time, y, x) array.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Iterable, Mapping

import numpy as np
import pandas as pd
from affine import Affine
from shapely.geometry.base import BaseGeometry

from minewatch.assess import cropland, reference
from minewatch.assess.disturbance import LossMask, SeasonPixels
from minewatch.assess.masks import burn
from minewatch.assess.pixelstats import PixelStats
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
    """One mine's evidence on its UTM grid: (y, x) masks and aggregates, (t,) over the window's time steps."""
    grid: Grid
    boundary_utm: BaseGeometry
    units_utm: dict[str, BaseGeometry]       # unit key -> geometry in the grid's CRS
    unit_masks: dict[str, np.ndarray]        # unit key -> (y, x) pixel centres inside (the series' masks)
    unit_footprints: dict[str, np.ndarray]   # unit key -> (y, x) every pixel the unit touches
    series: pd.DataFrame                     # per (unit, scene) stats, water share, the reference ring
    reference: pd.DataFrame | None           # the ring's rows of `series` (None: no usable ring)
    season: SeasonPixels | None              # the current season's per-pixel aggregates (None: no step)
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
    damage_season: SeasonPixels | None = None   # `season` at the bare line under a sparse ring (None: not lowered)
    unit_fvc: dict[str, np.ndarray] = field(default_factory=dict)   # unit -> (t, unit px) FVC, NaN not clear

    @property
    def epsg(self) -> int:
        return self.grid.epsg

    @property
    def transform(self) -> Affine:
        return self.grid.transform

    @property
    def current_ids(self) -> list[str]:
        return [i for i, c in zip(self.ids, self.dates.current) if c]


def ring_geometry(boundary_utm: BaseGeometry, grid: Grid, units_utm: Mapping[str, BaseGeometry],
                  others: Iterable[BaseGeometry], s: Settings) -> np.ndarray | None:
    """(y, x) the reference ring's band around the boundary, off other mines' boundaries
    (EPSG:4490) and every unit; None when the reference is off. `assess.pixelstats` takes
    from it what is stable vegetation and not lost."""
    r = s.assess.reference
    if not r.enabled:
        return None
    others_utm = [coords.transform(g, 4490, grid.epsg) for g in others]
    return reference.ring_mask(boundary_utm, grid, r.inner_m, r.outer_m, others_utm + list(units_utm.values()))


def build(*, grid: Grid, boundary_utm: BaseGeometry, units_utm: Mapping[str, BaseGeometry],
          unit_masks: Mapping[str, np.ndarray], stats: pd.DataFrame, pixels: PixelStats, times: np.ndarray,
          ids: Iterable[str], dates: Dates, as_of: date, plan_year: int, s: Settings,
          history: MineHistory | None = None, measured_only: Iterable[str] = ()) -> Evidence:
    """The evidence from the window's aggregates. `stats`: the per-unit series (`sky.series.stats_frame`);
    `unit_masks`: the masks it was computed with, the first of `pixels.water`'s units (the
    ring in `pixels` left out other mines' boundaries, `ring_geometry`); `pixels.snow`: snow or ice
    (already out of the clear mask) counted per unit and date, the series' `snow_fraction`."""
    a = s.assess
    ids = tuple(str(i) for i in ids)
    series = stats
    if unit_masks:   # share of open water (MNDWI > 0) per unit and date, for water targets
        wf = reference.water_frame(list(unit_masks), pixels.water[:len(unit_masks)], ids)
        series = series.merge(wf, on=["unit", "item_id"], how="left")
        if pixels.snow is not None:
            series = series.merge(reference.snow_frame(list(unit_masks), pixels.snow[:len(unit_masks)],
                                                       [int(m.sum()) for m in unit_masks.values()], ids),
                                  on=["unit", "item_id"], how="left")

    # the reference rings (assess.pixelstats): stable natural ground and the ring's fields
    ref, crop_ref = None, None
    if a.reference.enabled and dates.baseline.any():
        if pixels.ring is not None:
            ref = reference.reference_rows(pixels.ring, ids, times, a.reference.min_pixels)
        if pixels.crop_ring is not None:
            crop_ref = reference.reference_rows(pixels.crop_ring, ids, times, a.reference.min_pixels,
                                                cropland.REFERENCE_CROPLAND)
        rings = [f for f in (ref, crop_ref) if f is not None]
        if rings:
            series = pd.concat([series, *rings], ignore_index=True).sort_values(
                ["unit", "datetime", "item_id"]).reset_index(drop=True)

    return Evidence(grid=grid, boundary_utm=boundary_utm, units_utm=dict(units_utm),
                    unit_masks=dict(unit_masks),
                    unit_footprints={k: burn([g], grid, all_touched=True) for k, g in units_utm.items()},
                    series=series, reference=ref, season=pixels.season, times=times, ids=ids,
                    dates=dates, loss=pixels.loss, as_of=as_of, plan_year=plan_year, history=history,
                    measured_only=frozenset(measured_only), fields=pixels.fields,
                    damage_season=pixels.damage_season,
                    unit_fvc=dict(zip(unit_masks, pixels.unit_fvc)))
