"""Cropland (耕地, 01xx): judged at the crop's peak, never as bare after harvest.

Rule (docs/assessment.md §2): a field is a pixel that, in the baseline year (every clear
date of the years before the plan year), was green (NDVI >= ``green_ndvi_min``) and later
bare (NDVI <= ``harvest_ndvi_max``): a harvest or ploughing, which natural cover does not
do within one growing season. The ring's fields form the cropland ring (unit
``reference_cropland`` in the series). Its peak dates in a season are those where its mean
FVC is at least ``peak_share`` of its season maximum. Then:

- a unit whose target class starts with ``land_class_prefix`` (01) is judged on the peak
  dates only, against the cropland ring on the same dates (this season and the baseline
  season), through the usual reference normalisation (`peak_view`);
- the loss test sees a field pixel only on the current season's peak dates (`judged_clear`):
  bare after harvest is not loss; a field still bare at the crop's peak is.

Functions take arrays or the series table and return them, so that a chunked evidence
build can call them per block.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from minewatch.assess.reference import REFERENCE
from minewatch.assess.season import Season

__all__ = ["REFERENCE_CROPLAND", "harvested", "is_cropland", "judged_clear", "peak_ids", "peak_view"]

REFERENCE_CROPLAND = "reference_cropland"   # unit key of the ring's fields in the series


def harvested(ndvi: np.ndarray, clear: np.ndarray, green_min: float, bare_max: float) -> np.ndarray:
    """(y, x) bool: some clear date at most `bare_max` after a clear date at least `green_min`
    (arrays (t, y, x) in date order)."""
    if len(ndvi) < 2:
        return np.zeros(ndvi.shape[1:], bool)
    ok = clear & np.isfinite(ndvi)
    green_so_far = np.logical_or.accumulate(ok & (ndvi >= green_min), axis=0)
    return (ok[1:] & (ndvi[1:] <= bare_max) & green_so_far[:-1]).any(axis=0)


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
              share: float) -> pd.DataFrame | None:
    """The series on the cropland ring's peak dates of `season` and of the season a year
    before, with the cropland ring as the unit ``reference`` (the rules' normalisation then
    compares a field with fields); None without a cropland ring this season."""
    now = peak_ids(series, season, min_clear_fraction, share)
    if not now:
        return None
    ids = set(now) | set(peak_ids(series, season.shifted(-1), min_clear_fraction, share))
    out = series[series.item_id.isin(ids) & (series.unit != REFERENCE)].copy()
    out.loc[out.unit == REFERENCE_CROPLAND, "unit"] = REFERENCE
    return out


def judged_clear(clear: np.ndarray, fields: np.ndarray, peak: np.ndarray) -> np.ndarray:
    """`clear` (t, y, x) with a field pixel (`fields`, (y, x)) seen only on the peak dates
    (`peak`, (t,) bool): the dates the loss test may confirm a field's loss on."""
    return clear & ~(fields[None] & ~peak[:, None, None])
