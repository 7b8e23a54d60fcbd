"""Cropland (耕地, 01xx): judged at the crop's peak, never as bare after harvest.

Rule (docs/assessment.md §2): a field is a pixel that, within one calendar year before the
plan year, was green (NDVI >= ``green_ndvi_min``), then bare (NDVI <= ``harvest_ndvi_max``),
then green again: a harvest between two crops (double-peak phenology), which natural cover
does not show (it browns in autumn and lies under snow in winter, but greens once a year).
The ring's fields form the cropland ring (unit ``reference_cropland`` in the series). Its
peak dates in a season are those where its mean FVC is at least ``peak_share`` of its
season maximum. Then:

- a unit whose target class starts with ``land_class_prefix`` (01) is judged on the peak
  dates only, against the cropland ring on the same dates (this season and the baseline
  season), through the usual reference normalisation (`peak_view`);
- the loss test sees a field pixel only on the current season's peak dates (`judged_clear`):
  bare after harvest is not loss; a field still bare at the crop's peak is.

Functions take arrays or the series table and return them, so that a chunked evidence
build can call them per block.
"""
from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from minewatch.assess.reference import REFERENCE
from minewatch.assess.season import Season

__all__ = ["REFERENCE_CROPLAND", "harvested", "is_cropland", "judged_clear", "peak_ids", "peak_view"]

REFERENCE_CROPLAND = "reference_cropland"   # unit key of the ring's fields in the series


def harvested(ndvi: np.ndarray, clear: np.ndarray, green_min: float, bare_max: float) -> np.ndarray:
    """(y, x) bool: a clear date at most `bare_max` between two clear dates at least `green_min`
    (arrays (t, y, x) in date order, one calendar year: call it per year). Green, bare, green
    again is a harvest between two crops; natural cover that browns in autumn, or lies under
    snow in winter, does not green again within the year."""
    if len(ndvi) < 3:
        return np.zeros(ndvi.shape[1:], bool)
    ok = clear & np.isfinite(ndvi)
    green = ok & (ndvi >= green_min)
    before = np.logical_or.accumulate(green, axis=0)
    after = np.logical_or.accumulate(green[::-1], axis=0)[::-1]
    return (ok[1:-1] & (ndvi[1:-1] <= bare_max) & before[:-2] & after[2:]).any(axis=0)


def is_cropland(land_class: str | None, prefix: str) -> bool:
    return bool(land_class) and str(land_class).startswith(prefix)


def peak_ids(series: pd.DataFrame, season: Season, min_clear_fraction: float, share: float) -> tuple[str, ...]:
    """Scene ids of the season's dates where the cropland ring is at its peak (mean FVC >=
    share x its season maximum, over dates with the ring clear enough); () without a ring."""
    r = series[series.unit == REFERENCE_CROPLAND]
    if r.empty:
        return ()
    d = pd.to_datetime(r.datetime).dt.date
    r = r[(d >= season.start) & (d <= season.end) & (r.clear_fraction >= min_clear_fraction)].dropna(
        subset=["fvc_mean"])
    if r.empty:
        return ()
    return tuple(sorted(r.item_id[r.fvc_mean >= share * float(r.fvc_mean.max())]))


def peak_view(series: pd.DataFrame, season: Season, min_clear_fraction: float,
              share: float, widen_days: int = 0) -> pd.DataFrame | None:
    """The series on the cropland ring's peak dates of `season` and of the season a year
    before, with the cropland ring as the unit ``reference`` (the rules' normalisation then
    compares a field with fields); None without a cropland ring this season. `widen_days`:
    peak dates are looked for that much beyond each end too, so that a cloudy season widened
    into the adjacent weeks (assess.windows) finds the crop's peak there."""
    now = peak_ids(series, season, min_clear_fraction, share)
    if not now:
        return None
    wide = Season(season.start - timedelta(days=widen_days), season.end + timedelta(days=widen_days))
    ids = set(now) | set(peak_ids(series, wide, min_clear_fraction, share)) \
        | set(peak_ids(series, wide.shifted(-1), min_clear_fraction, share))
    out = series[series.item_id.isin(ids) & (series.unit != REFERENCE)].copy()
    out.loc[out.unit == REFERENCE_CROPLAND, "unit"] = REFERENCE
    return out


def judged_clear(clear: np.ndarray, fields: np.ndarray, peak: np.ndarray) -> np.ndarray:
    """`clear` (t, y, x) with a field pixel (`fields`, (y, x)) seen only on the peak dates
    (`peak`, (t,) bool): the dates the loss test may confirm a field's loss on."""
    return clear & ~(fields[None] & ~peak[:, None, None])
