"""Change detection: vegetation lost this season against the same season of earlier years.

Rule (docs/assessment.md):
- baseline: per-pixel median NDVI over the clear dates of the same assessment season in the
  ``baseline_years`` earlier years (phenology cancels: July is compared with July);
- a clear date confirms loss at a pixel when NDVI <= ``bare_ndvi`` and baseline - NDVI >=
  ``ndvi_drop``; a pixel is lost when at least ``min_clear_obs`` dates confirm it and they
  are at least half of its clear dates (persistence; clouds and shadows are masked, so a
  cloud can never confirm);
- connected (8-neighbour) lost pixels form patches; patches under the minimum mapping unit
  ``min_area_hm2`` (0.2 hm², as GFW alerts) are dropped; the rest are vectorised and their
  area reported in hm².
`assess.disturbance_rules` sorts patches by where they lie: inside the boundary and outside
every declared unit -> UNDECLARED_DISTURBANCE; outside the boundary, inside the search buffer
and outside temporary-land units -> OUT_OF_BOUNDARY_DISTURBANCE. `damage_excess` measures bare
ground connected to a declared damage unit (DAMAGE_EXCEEDS_DECLARED).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from affine import Affine
from rasterio.features import shapes
from scipy import ndimage
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from minewatch.config import DisturbanceSettings


@dataclass(frozen=True)
class LossPatch:
    geometry_utm: BaseGeometry  # shapely polygon in the grid's CRS
    n_px: int
    baseline_ndvi: float        # patch mean of per-pixel baseline medians
    current_ndvi: float         # patch mean of per-pixel current medians
    loss_observations: int      # median per-pixel count of confirming observations
    scenes: tuple[str, ...]     # scenes where most of the patch was clear and bare
    agree: float = 1.0          # median per-pixel share of clear dates that confirm loss
    clear_observations: int = 0  # median per-pixel count of clear current-season dates


def clear_median(values: np.ndarray, clear: np.ndarray) -> np.ndarray:
    """Per-pixel median over the dates where `clear` and the value is not NaN (axis 0); NaN
    where there is none. Pixels without a value (expected: cloud) are left out of the median
    rather than silenced: numpy's all-NaN warning, and any filter against it, are process-wide,
    and a filter entered in one mine's thread drops another library's in another thread."""
    data = np.where(clear, values, np.nan)
    has = ~np.isnan(data).all(axis=0)
    out = np.full(data.shape[1:], np.nan, dtype=data.dtype)
    if has.any():
        out[has] = _nanmedian0(data[:, has])
    return out


def _nanmedian0(a: np.ndarray) -> np.ndarray:
    """np.nanmedian(a, axis=0) of a (t, n) array with a value in every column, bit for bit, by
    one sort: numpy takes a masked-array median for a short axis (t < 600), ~10x slower, which
    was the largest single cost of a mine's per-pixel evidence. NaN sorts last; the median is
    the mean of the two middle values (the middle one twice when odd), summed in the dtype and
    halved, as numpy does."""
    s = np.sort(a, axis=0)
    n = np.count_nonzero(~np.isnan(a), axis=0)
    hi = n // 2
    lo = np.where(n % 2 == 1, hi, hi - 1)
    pair = np.take_along_axis(s, np.stack([lo, hi]), axis=0)
    return (pair[0] + pair[1]) / 2


def clear_max(values: np.ndarray, clear: np.ndarray) -> np.ndarray:
    """Per-pixel maximum over the dates where `clear` and the value is not NaN (axis 0), in the
    values' dtype; NaN where there is none (set, not reduced: no all-NaN warning)."""
    ok = clear & ~np.isnan(values)
    nan = values.dtype.type(np.nan)
    return np.where(ok.any(axis=0), np.max(np.where(ok, values, values.dtype.type(-np.inf)), axis=0,
                                            initial=-np.inf), nan)


def pack_dates(obs: np.ndarray) -> np.ndarray:
    """(t, y, x) bool as (ceil(t / 8), y, x) uint8, one bit a date: a season's per-date
    observations kept at 1/32 of a float32 plane each, for the patches' scene lists."""
    return np.packbits(obs, axis=0)


def date_fractions(bits: np.ndarray, n_dates: int, m: np.ndarray) -> np.ndarray:
    """(t,) share of the pixels of mask `m` (y, x) whose bit is set on each date of `bits`."""
    return np.unpackbits(bits[:, m], axis=0, count=n_dates).mean(axis=1)


class SeasonPixels(NamedTuple):
    """Per-pixel aggregates of the current season's dates, what the disturbance rules read."""
    n_clear: np.ndarray         # (y, x) clear dates
    n_ok: np.ndarray            # (y, x) clear dates with an NDVI
    median: np.ndarray          # (y, x) median NDVI over those dates (NaN: none)
    n_bare: np.ndarray          # (y, x) clear dates with NDVI <= bare_ndvi
    bare: np.ndarray            # (ceil(t / 8), y, x) packed (`pack_dates`): this date is clear and bare here
    n_dates: int                # t: the season's dates


def season_pixels(cur_ndvi: np.ndarray, cur_clear: np.ndarray, cfg: DisturbanceSettings) -> SeasonPixels:
    """The current season's per-pixel aggregates from its (t, y, x) NDVI and clear mask."""
    ok = cur_clear & np.isfinite(cur_ndvi)
    bare = ok & (cur_ndvi <= cfg.bare_ndvi)
    return SeasonPixels(cur_clear.sum(axis=0), ok.sum(axis=0), clear_median(cur_ndvi, ok), bare.sum(axis=0),
                        pack_dates(bare), int(cur_ndvi.shape[0]))


class LossMask(NamedTuple):
    confirmed: np.ndarray       # (y, x) bool: loss confirmed at the pixel
    baseline: np.ndarray        # (y, x) baseline-season median NDVI
    observations: np.ndarray    # (ceil(t / 8), y, x) packed (`pack_dates`): this current date confirms loss here
    n_loss: np.ndarray          # (y, x) current dates that confirm loss


def loss_mask(base_ndvi: np.ndarray, base_clear: np.ndarray,
              cur_ndvi: np.ndarray, cur_clear: np.ndarray, cfg: DisturbanceSettings,
              base: np.ndarray | None = None) -> LossMask:
    """Per-pixel confirmed loss, and the per-pixel baseline median and loss counts. `base`: the
    baseline median when the caller has it (`clear_median(base_ndvi, base_clear)`)."""
    base = clear_median(base_ndvi, base_clear) if base is None else base
    cur_ok = cur_clear & np.isfinite(cur_ndvi)
    loss_obs = cur_ok & (cur_ndvi <= cfg.bare_ndvi) & ((base[None] - cur_ndvi) >= cfg.ndvi_drop)
    n_loss = loss_obs.sum(axis=0)
    n_ok = cur_ok.sum(axis=0)
    confirmed = (n_loss >= cfg.min_clear_obs) & (2 * n_loss >= n_ok) & np.isfinite(base)
    return LossMask(confirmed, base, pack_dates(loss_obs), n_loss)


def loss_patches(loss: LossMask, season: SeasonPixels, eligible: np.ndarray, item_ids: list[str],
                 transform: Affine, pixel_area_m2: float, cfg: DisturbanceSettings) -> list[LossPatch]:
    """Connected (8-neighbour) patches of confirmed loss within `eligible`, above the MMU."""
    labels, n = ndimage.label(loss.confirmed & eligible, structure=np.ones((3, 3), bool))
    min_px = cfg.min_area_hm2 * 10_000 / pixel_area_m2
    patches = []
    for lab in range(1, n + 1):
        m = labels == lab
        npx = int(m.sum())
        if npx < min_px:
            continue
        geom = unary_union([shape(g) for g, v in shapes(m.astype("uint8"), mask=m,
                                                         transform=transform, connectivity=8) if v])
        frac_bare = date_fractions(loss.observations, season.n_dates, m)
        scenes = tuple(sorted(i for i, f in zip(item_ids, frac_bare) if f >= 0.5))
        n_ok = season.n_clear[m]
        n_loss = loss.n_loss[m]
        patches.append(LossPatch(geom, npx, round(float(loss.baseline[m].mean()), 4),
                                 round(float(np.nanmean(season.median[m])), 4),
                                 int(np.median(n_loss)), scenes,
                                 round(float(np.median(n_loss / np.maximum(n_ok, 1))), 4),
                                 int(np.median(n_ok))))
    return patches


@dataclass(frozen=True)
class DamageExcess:
    geometry_utm: BaseGeometry  # bare ground connected to the unit, outside it
    measured_px: int            # unit pixels + connected bare pixels outside it
    excess_px: int
    current_ndvi: float         # median NDVI of the excess pixels
    clear_observations: int     # median clear dates over the excess pixels
    scenes: tuple[str, ...]     # scenes where most of the excess was clear and bare
    agree: float                # median share of clear dates bare over the excess


def damage_excess(unit_mask: np.ndarray, eligible: np.ndarray, season: SeasonPixels, item_ids: list[str],
                  transform: Affine, cfg: DisturbanceSettings, bare_ndvi: float | None = None) -> DamageExcess | None:
    """Bare ground (season-median NDVI <= bare_ndvi on >= min_clear_obs clear dates) 8-connected
    to the damage unit, within `eligible` (not another declared unit, not new loss). `bare_ndvi`:
    the bare line where it is not cfg.bare_ndvi (lowered under a sparse reference ring; `season`'s
    bare counts must be at that line)."""
    bare_ndvi = cfg.bare_ndvi if bare_ndvi is None else bare_ndvi
    n_ok, med = season.n_ok, season.median
    bare = (n_ok >= cfg.min_clear_obs) & (med <= bare_ndvi)
    cand = (bare & eligible) | unit_mask
    labels, _ = ndimage.label(cand, structure=np.ones((3, 3), bool))
    near = ndimage.binary_dilation(unit_mask, structure=np.ones((3, 3), bool))
    touching = np.unique(labels[near & (labels > 0)])
    region = np.isin(labels, touching[touching > 0])
    excess = region & ~unit_mask
    if not excess.any():
        return None
    geom = unary_union([shape(g) for g, v in shapes(excess.astype("uint8"), mask=excess,
                                                     transform=transform, connectivity=8) if v])
    frac = date_fractions(season.bare, season.n_dates, excess)
    scenes = tuple(sorted(i for i, f in zip(item_ids, frac) if f >= 0.5))
    agree = float(np.median(season.n_bare[excess] / np.maximum(n_ok[excess], 1)))
    return DamageExcess(geom, int((region | unit_mask).sum()), int(excess.sum()),
                        round(float(np.nanmedian(med[excess])), 4), int(np.median(n_ok[excess])),
                        scenes, round(agree, 4))
