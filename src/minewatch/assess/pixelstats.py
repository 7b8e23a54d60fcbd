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

Three things the rules read are not per-pixel: the cropland ring's peak dates (a field's loss
is judged on them only, assess.cropland), the natural ring's level (assess.reference: a share
of the median over the whole ring's stable pixels) and the bare line under a sparse ring
(`reference.bare_ceiling`, from the ring's season NDVI). So `pixel_stats` makes passes over the
tiles: the first computes everything per pixel and the cropland ring's sums; the second the
loss (on the peak dates found), the third the natural ring's sums (its level taken from the
pasted aggregates), and only under a sparse ring a fourth the season's bare counts at the
lowered line. A pass reads its tile again (the pixel store reads only the tile's chunks); a
window of one tile is read once and its arrays kept across the passes. Each tile's arrays are
given by the caller (`pipeline` reads them from the pixel store, with a halo for the clear
mask's dilation).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any, NamedTuple

import numpy as np

from minewatch.assess import cropland
from minewatch.assess.disturbance import LossMask, SeasonPixels, clear_max, clear_median, loss_mask, season_pixels
from minewatch.assess.reference import (
    RingSums,
    bare_ceiling,
    baseline_spread,
    reference_rows,
    ring_sums,
    season_ndvi,
    snow_counts,
    stable_ground,
    water_counts,
)
from minewatch.assess.season import Season
from minewatch.config import AssessSettings
from minewatch.sky.series import unit_sums

__all__ = ["TileArrays", "PixelStats", "Window", "tiles", "pixel_stats"]


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
    base_spread: np.ndarray | None   # (H, W) baseline clear-date NDVI std (`reference.baseline_spread`)
    season: SeasonPixels | None      # the current season (None: no current step)
    loss: LossMask | None            # None without both baseline and current steps
    ndvi_max: np.ndarray             # (H, W) composite steps' maximum clear NDVI
    median: np.ndarray               # (bands, H, W) composite steps' median clear reflectance
    fvc_median: np.ndarray           # (H, W) composite steps' median clear FVC
    base_rgb: np.ndarray | None      # (3, H, W) the "before" steps' median clear red/green/blue
    unit_sums: np.ndarray            # (t, unit, 4) float64 `sky.series.unit_sums` of clear, ndvi, fvc, bsi
    water: np.ndarray                # (unit, t, 2) `reference.water_counts`
    ring: RingSums | None            # the natural reference ring's per-date sums (None: no ring)
    snow: np.ndarray | None = None   # (unit, t) `reference.snow_counts` (None: no snow mask)
    fields: np.ndarray | None = None        # (H, W) field pixels of the years before the plan's (cropland)
    crop_ring: RingSums | None = None       # the ring's fields' per-date sums (None: no field in the ring)
    damage_season: SeasonPixels | None = None   # `season` at the bare line under a sparse ring (None: not lowered)
    unit_fvc: tuple[np.ndarray, ...] = ()   # per unit (t, unit px) FVC, NaN where not clear (assess.parts)


@dataclass(frozen=True, eq=False)
class Window:
    """What the passes need of the window beyond its tiles' arrays."""
    times: np.ndarray                # (t,) datetime64
    ids: tuple[str, ...]             # (t,) scene ids
    plan_year: int
    season: Season                   # this plan year's season
    current: np.ndarray              # (t,) bool: this season's steps
    baseline: np.ndarray             # (t,) bool: the baseline seasons' steps
    composite: np.ndarray            # (t,) bool: the composite's steps
    before: np.ndarray | None        # (t,) bool: the steps of `TileArrays.base_rgb` (None: none)
    masks: np.ndarray                # (unit, H, W) the units' pixels
    band: np.ndarray | None          # (H, W) the reference ring's band (`evidence.ring_geometry`; None: off)


# fields summed over tiles; every other array is pasted at its tile
TABLES = frozenset({"unit_sums", "water", "ring", "snow", "crop_ring"})


def tiles(shape: tuple[int, int], chunk_px: int) -> list[tuple[slice, slice]]:
    """Row-major (y, x) slices of side `chunk_px` (smaller at the far edges) covering `shape`."""
    h, w = shape
    return [(slice(y, min(y + chunk_px, h)), slice(x, min(x + chunk_px, w)))
            for y in range(0, h, chunk_px) for x in range(0, w, chunk_px)]


def _fields(a: TileArrays, w: Window, s: AssessSettings) -> np.ndarray | None:
    """Field pixels (assess.cropland.harvested, per calendar year) over the years before the
    plan year; None when cropland handling is off or there is no such date."""
    years = np.asarray(w.times, "datetime64[Y]").astype(int) + 1970
    if not s.cropland.enabled or not (years < w.plan_year).any():
        return None
    out = np.zeros(a.ndvi.shape[1:], bool)
    for y in sorted(set(years[years < w.plan_year].tolist())):
        k = years == y
        out |= cropland.harvested(a.ndvi[k], a.clear[k], s.cropland.green_ndvi_min, s.cropland.harvest_ndvi_max)
    return out


def first_pass(a: TileArrays, w: Window, masks: np.ndarray, band: np.ndarray | None, s: AssessSettings,
               loss_now: bool) -> PixelStats:
    """One tile's per-pixel stats, and its loss when `loss_now` (no field waits for the peaks)."""
    cfg = s.disturbance
    cur, base, comp, before = w.current, w.baseline, w.composite, w.before
    nb, cb, nc, cc = a.ndvi[base], a.clear[base], a.ndvi[cur], a.clear[cur]     # each season's steps, once
    base_med = clear_median(nb, cb) if base.any() else None
    season = season_pixels(nc, cc, cfg) if cur.any() else None
    loss = loss_mask(nb, cb, nc, cc, cfg, base=base_med) \
        if loss_now and base_med is not None and season is not None else None
    spread = baseline_spread(nb, cb) if base.any() else None
    base_clear = _counts32(cb.sum(axis=0)) if base.any() else None
    del nb, cb, nc, cc       # the seasons' copies go before the composite's
    fields = _fields(a, w, s) if band is not None else None
    crop = ring_sums(band & fields, a.ndvi, a.fvc, a.clear) if band is not None and fields is not None else None
    return PixelStats(
        base_median=base_med, base_clear=base_clear, base_spread=spread,
        season=_season32(season), loss=_loss32(loss),
        ndvi_max=clear_max(a.ndvi[comp], a.clear[comp]).astype(np.float32, copy=False),
        median=clear_median(a.comp_refl, a.clear[comp][:, None]).astype(np.float32, copy=False),
        fvc_median=clear_median(a.fvc[comp], a.clear[comp]),
        base_rgb=clear_median(a.base_rgb, a.clear[before][:, None]) if before is not None and a.base_rgb is not None
        else None,
        unit_sums=unit_sums(a.clear, masks, a.ndvi, a.fvc, a.bsi), water=water_counts(masks, a.mndwi, a.clear),
        ring=None, snow=None if a.snow is None else snow_counts(masks, a.snow), fields=fields, crop_ring=crop,
        unit_fvc=tuple(np.where(a.clear[:, m], a.fvc[:, m], np.nan).astype(np.float32, copy=False)
                       for m in masks))


def _season32(season: SeasonPixels | None) -> SeasonPixels | None:
    if season is None:
        return None
    return season._replace(n_clear=_counts32(season.n_clear), n_ok=_counts32(season.n_ok),
                           n_bare=_counts32(season.n_bare))


def _loss32(loss: LossMask | None) -> LossMask | None:
    return None if loss is None else loss._replace(n_loss=_counts32(loss.n_loss))


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
    up: dict[str, Any] = {}
    for f in fields(PixelStats):
        p, a = getattr(part, f.name), None if full is None else getattr(full, f.name)
        if f.name in TABLES:
            up[f.name] = p if a is None else (None if p is None else a + p)
        elif f.name == "unit_fvc":      # (t, unit px) in the mask's row-major order: tiles do not paste
            up[f.name] = p if a is None else a
        else:
            up[f.name] = _paste(a, p, ys, xs, shape)
    return PixelStats(**up) if full is None else replace(full, **up)


def pixel_stats(shape: tuple[int, int], chunk_px: int, arrays_at: Callable[[slice, slice], TileArrays],
                w: Window, a: AssessSettings) -> PixelStats:
    """The window's `PixelStats` over its tiles (`tiles`, module docstring): `arrays_at(ys, xs)`
    gives a tile's arrays, `w.masks` and `w.band` are the whole window's. Only one tile's arrays
    are alive at a time, except for a window of one tile, read once."""
    parts = tiles(shape, chunk_px)
    one: dict[int, TileArrays] = {}

    def arrays(k: int) -> TileArrays:
        if len(parts) > 1:
            return arrays_at(*parts[k])
        if k not in one:
            one[k] = arrays_at(*parts[k])
        return one[k]

    def pasted(step: Callable[[TileArrays, tuple[slice, slice]], Any]) -> Any:
        out = None
        for k, (ys, xs) in enumerate(parts):
            p = step(arrays(k), (ys, xs))
            out = p if len(parts) == 1 else _paste(out, p, ys, xs, shape)
        return out

    def summed(step: Callable[[TileArrays, tuple[slice, slice]], Any]) -> Any:
        out = None
        for k, yx in enumerate(parts):
            p = step(arrays(k), yx)
            out = p if out is None else (out if p is None else out + p)
        return out

    cfg = a.disturbance
    band = w.band if w.baseline.any() else None
    may_fields = band is not None and a.cropland.enabled
    # pass 1: per pixel (the loss too unless fields are to be judged on the peak dates only)
    px: PixelStats | None = None
    fvc_parts: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in w.masks]
    for k, (ys, xs) in enumerate(parts):
        tm = w.masks[:, ys, xs]
        part = first_pass(arrays(k), w, tm, None if band is None else band[ys, xs], a, not may_fields)
        px = part if len(parts) == 1 else _merge(px, part, ys, xs, shape)
        for u, m in enumerate(tm):      # each unit's pixels of the tile, at their window positions
            r, c = np.nonzero(m)
            fvc_parts[u].append(((r + ys.start) * shape[1] + c + xs.start, part.unit_fvc[u]))
    assert px is not None     # a window has at least one tile
    if len(parts) > 1:
        px = replace(px, unit_fvc=tuple(_in_order(p, int(m.sum()), len(w.times)) for p, m in zip(fvc_parts, w.masks)))
    fields = px.fields
    crop_rows = reference_rows(px.crop_ring, w.ids, w.times, a.reference.min_pixels, cropland.REFERENCE_CROPLAND) \
        if px.crop_ring is not None and fields is not None and fields.any() else None
    px = replace(px, crop_ring=px.crop_ring if crop_rows is not None else None)
    # pass 2: the loss, a field's only on the cropland ring's peak dates
    if may_fields and px.base_median is not None and px.season is not None:
        peak = None
        if crop_rows is not None:
            peaks = cropland.peak_ids(crop_rows, w.season, a.reference.min_clear_fraction, a.cropland.peak_share)
            peak = np.isin(np.array(w.ids)[w.current], peaks)
        base_med, cur, base = px.base_median, w.current, w.baseline

        def loss_at(t: TileArrays, yx: tuple[slice, slice]) -> LossMask | None:
            cc = t.clear[cur]
            if peak is not None and fields is not None:
                cc = cropland.judged_clear(cc, fields[yx], peak)
            return _loss32(loss_mask(t.ndvi[base], t.clear[base], t.ndvi[cur], cc, cfg, base=base_med[yx]))
        px = replace(px, loss=pasted(loss_at))
    # pass 3: the natural ring (stable ground, its level over the whole ring) and the fields' kept part
    if band is None or px.base_median is None or px.base_spread is None:
        return px
    kept = ~px.loss.confirmed if px.loss is not None else np.ones(shape, bool)
    not_fields = ~fields if fields is not None else np.ones(shape, bool)
    ring = stable_ground(px.base_median, px.base_spread, band & kept & not_fields, a.reference.stable_std_max,
                         a.reference.level_share)
    px = replace(px, ring=summed(lambda t, yx: ring_sums(ring[yx], t.ndvi, t.fvc, t.clear)))
    if crop_rows is not None and fields is not None and px.loss is not None \
            and bool((band & fields & px.loss.confirmed).any()):
        crop = band & fields & kept
        px = replace(px, crop_ring=summed(lambda t, yx: ring_sums(crop[yx], t.ndvi, t.fvc, t.clear)))
    # pass 4, under a sparse ring only: the season's bare counts at the lowered bare line
    ref = reference_rows(px.ring, w.ids, w.times, a.reference.min_pixels) if px.ring is not None else None
    now = season_ndvi(ref, np.array(w.ids)[w.current], a.reference.min_clear_fraction, a.min_clear_obs)
    line = bare_ceiling(cfg.bare_ndvi, now, a.reference.sparse_ndvi_gap)
    if line < cfg.bare_ndvi and px.season is not None:
        low, cur = cfg.model_copy(update={"bare_ndvi": line}), w.current
        px = replace(px, damage_season=pasted(
            lambda t, yx: _season32(season_pixels(t.ndvi[cur], t.clear[cur], low))))
    return px


def _in_order(parts: list[tuple[np.ndarray, np.ndarray]], n_px: int, n_t: int) -> np.ndarray:
    """A unit's (t, px) FVC pieces (window flat index, values) in the mask's row-major order."""
    flat = np.concatenate([f for f, _ in parts]) if parts else np.zeros(0, np.int64)
    out = np.full((n_t, n_px), np.nan, np.float32)
    if flat.size:
        out[:, np.argsort(np.argsort(flat))] = np.concatenate([v for _, v in parts], axis=1)
    return out

