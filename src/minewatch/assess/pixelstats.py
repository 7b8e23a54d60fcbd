"""A window's per-pixel evidence as (H, W) aggregates and (unit x date) tables, tile by tile.

The rules never need a mine's (time, y, x) arrays, only what they reduce to over time: the
baseline seasons' per-pixel clear median NDVI and clear counts, the current season's clear,
valid, bare and loss counts and clear median NDVI (`disturbance.SeasonPixels`,
`disturbance.LossMask`, whose per-date loss and bare observations are kept packed, one bit a
date, for the patches' scene lists), the season composite (maximum NDVI, median FVC and
reflectance), the baseline's median true colour; and per date the units' sums, their water
counts and the reference ring's sums. Each of these is a per-pixel reduction over time or a
sum over pixels, so it is computed on one spatial tile (with its whole time axis) at a time
and the tiles are pasted (aggregates) or added (tables): peak memory follows the tile
(`imagery.chunk_px`), not the window. Per pixel the results are those of the whole window
bit for bit; the per-date means add float sums tile by tile, so on several tiles they may
differ from one whole-window sum in the last bits (float64 for the units, float32 for the
ring, as `ndarray.mean` sums).

`tile_stats` is the numpy computation on one tile's arrays; `pixel_stats` runs it over the
window's tiles, each tile's arrays given by the caller (`pipeline` reads them from the pixel
store, with a halo for the clear mask's dilation).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any, NamedTuple

import numpy as np

from minewatch.assess.disturbance import LossMask, SeasonPixels, clear_max, clear_median, loss_mask, season_pixels
from minewatch.assess.reference import RingSums, ring_sums, snow_counts, stable_median, water_counts
from minewatch.config import DisturbanceSettings
from minewatch.sky.series import unit_sums

__all__ = ["TileArrays", "PixelStats", "tiles", "tile_stats", "pixel_stats"]


class TileArrays(NamedTuple):
    """One tile's computed arrays over the window's time steps (numpy)."""
    ndvi: np.ndarray                 # (t, h, w) float32
    fvc: np.ndarray                  # (t, h, w)
    bsi: np.ndarray                  # (t, h, w)
    mndwi: np.ndarray                # (t, h, w)
    clear: np.ndarray                # (t, h, w) bool
    comp_refl: np.ndarray            # (composite steps, bands, h, w) reflectance
    base_rgb: np.ndarray | None      # (baseline "before" steps, 3, h, w) red/green/blue, or None
    snow: np.ndarray | None = None   # (t, h, w) bool snow or ice (out of `clear` already), or None


@dataclass(frozen=True, eq=False)
class PixelStats:
    """A window's aggregates (trailing dims (H, W)) and tables (leading dim: time or unit)."""
    base_median: np.ndarray | None   # (H, W) baseline seasons' clear median NDVI (None: no baseline step)
    base_clear: np.ndarray | None    # (H, W) baseline clear dates
    season: SeasonPixels | None      # the current season (None: no current step)
    loss: LossMask | None            # None without both baseline and current steps
    ndvi_max: np.ndarray             # (H, W) composite steps' maximum clear NDVI
    median: np.ndarray               # (bands, H, W) composite steps' median clear reflectance
    fvc_median: np.ndarray           # (H, W) composite steps' median clear FVC
    base_rgb: np.ndarray | None      # (3, H, W) the "before" steps' median clear red/green/blue
    unit_sums: np.ndarray            # (t, unit, 4) float64 `sky.series.unit_sums` of clear, ndvi, fvc, bsi
    water: np.ndarray                # (unit, t, 2) `reference.water_counts`
    ring: RingSums | None            # the reference ring's per-date sums (None: no ring)
    snow: np.ndarray | None = None   # (unit, t) `reference.snow_counts` (None: no snow mask)


# fields summed over tiles; every other array is pasted at its tile
TABLES = frozenset({"unit_sums", "water", "ring", "snow"})


def tiles(shape: tuple[int, int], chunk_px: int) -> list[tuple[slice, slice]]:
    """Row-major (y, x) slices of side `chunk_px` (smaller at the far edges) covering `shape`."""
    h, w = shape
    return [(slice(y, min(y + chunk_px, h)), slice(x, min(x + chunk_px, w)))
            for y in range(0, h, chunk_px) for x in range(0, w, chunk_px)]


def tile_stats(a: TileArrays, current: np.ndarray, baseline: np.ndarray, composite: np.ndarray,
               before: np.ndarray | None, masks: np.ndarray, ring: np.ndarray | None,
               cfg: DisturbanceSettings, stable_ndvi_min: float) -> PixelStats:
    """One tile's `PixelStats`. `current`, `baseline`, `composite` (t,) bool: the steps of this
    season, of the baseline seasons and of the composite; `before` (t,) bool: the steps of
    `a.base_rgb` (None: none); `masks` (unit, h, w) the units' pixels; `ring` (h, w) the
    reference ring's geometry (None: no ring), less what is not stable vegetation or lost here."""
    cur, base, comp = current, baseline, composite
    nb, cb, nc, cc = a.ndvi[base], a.clear[base], a.ndvi[cur], a.clear[cur]     # each season's steps, once
    base_med = clear_median(nb, cb) if base.any() else None
    season = season_pixels(nc, cc, cfg) if cur.any() else None
    loss = loss_mask(nb, cb, nc, cc, cfg, base=base_med) if base_med is not None and season is not None else None
    base_clear = _counts32(cb.sum(axis=0)) if base.any() else None
    del nb, cb, nc, cc       # the seasons' copies go before the composite's
    ring_px = None
    if ring is not None and base_med is not None:
        rm = ring & stable_median(base_med, stable_ndvi_min)
        if loss is not None:
            rm &= ~loss.confirmed
        ring_px = ring_sums(rm, a.ndvi, a.fvc, a.clear)
    return PixelStats(
        base_median=base_med, base_clear=base_clear,
        season=season._replace(n_clear=_counts32(season.n_clear), n_ok=_counts32(season.n_ok),
                               n_bare=_counts32(season.n_bare)) if season is not None else None,
        loss=loss._replace(n_loss=_counts32(loss.n_loss)) if loss is not None else None,
        ndvi_max=clear_max(a.ndvi[comp], a.clear[comp]).astype(np.float32, copy=False),
        median=clear_median(a.comp_refl, a.clear[comp][:, None]).astype(np.float32, copy=False),
        fvc_median=clear_median(a.fvc[comp], a.clear[comp]),
        base_rgb=clear_median(a.base_rgb, a.clear[before][:, None]) if before is not None and a.base_rgb is not None
        else None,
        unit_sums=unit_sums(a.clear, masks, a.ndvi, a.fvc, a.bsi), water=water_counts(masks, a.mndwi, a.clear),
        ring=ring_px, snow=None if a.snow is None else snow_counts(masks, a.snow))


def _counts32(n: np.ndarray) -> np.ndarray:
    """Per-pixel date counts as int32 (at most a few hundred dates): half numpy's int64."""
    return n.astype(np.int32, copy=False)


def _paste(full: Any, part: Any, ys: slice, xs: slice, shape: tuple[int, int]) -> Any:
    """`part` (an array with trailing (h, w), a NamedTuple of them, or a plain value) at (ys, xs) of `full`."""
    if part is None:
        return None
    if isinstance(part, tuple):      # SeasonPixels, LossMask: field by field
        olds = full if full is not None else (None,) * len(part)
        return type(part)(*(_paste(f, p, ys, xs, shape) for f, p in zip(olds, part)))
    if not isinstance(part, np.ndarray):
        return part
    if full is None:
        full = np.empty(part.shape[:-2] + shape, part.dtype)
    full[..., ys, xs] = part
    return full


def _merge(full: PixelStats | None, part: PixelStats, ys: slice, xs: slice, shape: tuple[int, int]) -> PixelStats:
    up = {}
    for f in fields(PixelStats):
        p, a = getattr(part, f.name), None if full is None else getattr(full, f.name)
        if f.name in TABLES:
            up[f.name] = p if a is None else (None if p is None else a + p)
        else:
            up[f.name] = _paste(a, p, ys, xs, shape)
    return PixelStats(**up) if full is None else replace(full, **up)


def pixel_stats(shape: tuple[int, int], chunk_px: int, arrays_at: Callable[[slice, slice], TileArrays],
                current: np.ndarray, baseline: np.ndarray, composite: np.ndarray, before: np.ndarray | None,
                masks: np.ndarray, ring: np.ndarray | None, cfg: DisturbanceSettings,
                stable_ndvi_min: float) -> PixelStats:
    """The window's `PixelStats`, tile by tile (`tiles`): `arrays_at(ys, xs)` gives a tile's
    arrays, `masks` (unit, H, W) and `ring` (H, W) are the whole window's; only one tile's
    arrays are alive at a time. One tile: its stats as they are."""
    parts = tiles(shape, chunk_px)
    if len(parts) == 1:
        return tile_stats(arrays_at(*parts[0]), current, baseline, composite, before, masks, ring, cfg,
                          stable_ndvi_min)
    out: PixelStats | None = None
    for ys, xs in parts:
        part = tile_stats(arrays_at(ys, xs), current, baseline, composite, before, masks[:, ys, xs],
                          None if ring is None else ring[ys, xs], cfg, stable_ndvi_min)
        out = _merge(out, part, ys, xs, shape)
    assert out is not None     # a window has at least one tile
    return out
