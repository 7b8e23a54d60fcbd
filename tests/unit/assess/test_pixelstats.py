"""assess.pixelstats: tile by tile, the window's aggregates are the whole-array computation's.

Real arrays: noisy NDVI with NaNs (no data) and infinities, pixels never clear (all cloud),
pixels clear only in the baseline, a block lost this season; several tile sides, including
ones that do not divide the window and one larger than it.
"""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from minewatch.assess import cropland, pixelstats, reference
from minewatch.assess.disturbance import clear_median, loss_mask, season_pixels
from minewatch.assess.evidence import Dates
from minewatch.config import Settings
from minewatch.outputs.composites import season_composites
from minewatch.sky import series

S = Settings(registry=Path("r.csv"), plans=Path("p"))
H, W = 45, 38


@pytest.fixture(scope="module")
def window():
    rng = np.random.default_rng(19)
    days = [date(2025, 7, 3) + timedelta(days=6 * k) for k in range(11)] + \
           [date(2026, 6, 20) + timedelta(days=5 * k) for k in range(16)]
    times = np.array(days, dtype="datetime64[ns]")
    t = len(times)
    dates = Dates.of(times, 2026, S.assess)
    ndvi = (0.55 + 0.15 * rng.standard_normal((t, H, W))).astype(np.float32)
    ndvi[np.ix_(dates.current, np.arange(10, 25), np.arange(5, 20))] = 0.05      # lost this season
    ndvi[rng.random(ndvi.shape) < 0.05] = np.nan                                  # no data
    ndvi[3, 0, 0] = ndvi[-2, 1, 1] = np.inf
    clear = rng.random(ndvi.shape) < 0.7
    clear[:, 30:33, 30:34] = False                                               # never clear
    clear[dates.current, 40:, :4] = False                                        # clear in the baseline only
    fvc = np.clip((ndvi - 0.05) / 0.75, 0, 1).astype(np.float32)
    bsi = rng.standard_normal(ndvi.shape).astype(np.float32)
    mndwi = rng.standard_normal(ndvi.shape).astype(np.float32)
    comp = dates.composite
    refl = rng.random((int(comp.sum()), 3, H, W)).astype(np.float32)
    refl[rng.random(refl.shape) < 0.03] = np.nan
    before = dates.baseline
    rgb = rng.random((int(before.sum()), 3, H, W)).astype(np.float32)
    masks = np.zeros((3, H, W), bool)
    masks[0, 5:30, 2:22] = True
    masks[1, 20:44, 15:37] = True
    masks[2, 30:33, 30:34] = True                                                 # a unit never seen clear
    ring = np.zeros((H, W), bool)
    ring[:, 25:] = True
    snow = rng.random(ndvi.shape) < 0.1
    a = pixelstats.TileArrays(ndvi, fvc, bsi, mndwi, clear, refl, rgb, snow)
    return a, dates, before, masks, ring, times


def whole_window(a: pixelstats.TileArrays, dates: Dates, ring: np.ndarray, times: np.ndarray):
    """arch's evidence on the whole arrays: fields, the cropland ring's rows, the loss judged on
    its peak dates, the stable natural ring."""
    cur, base, cfg, r, c = dates.current, dates.baseline, S.assess.disturbance, S.assess.reference, S.assess.cropland
    y25 = np.asarray(times, "datetime64[Y]").astype(int) + 1970 < 2026
    fields = cropland.harvested(a.ndvi[y25], a.clear[y25], c.green_ndvi_min, c.harvest_ndvi_max)
    ids = [f"S{i}" for i in range(len(times))]
    crop = reference.reference_frame(ring & fields, a.ndvi, a.fvc, a.clear, ids, times, r.min_pixels,
                                     cropland.REFERENCE_CROPLAND)
    judged = a.clear[cur]
    peaks: tuple[str, ...] = ()
    if crop is not None:
        peaks = cropland.peak_ids(crop, dates.season, r.min_clear_fraction, c.peak_share)
        judged = cropland.judged_clear(a.clear[cur], fields, np.isin(np.array(ids)[cur], peaks))
    loss = loss_mask(a.ndvi[base], a.clear[base], a.ndvi[cur], judged, cfg)
    rm = reference.natural_ground(a.ndvi[base], a.clear[base], ring & ~loss.confirmed & ~fields, r.stable_std_max,
                                  r.level_share)
    return fields, crop, peaks, loss, rm


def quiet_ring_and_fields(ndvi: np.ndarray, dates: Dates) -> np.ndarray:
    """The ring's columns stable (small noise: the stability test keeps them), a field in its
    top rows (green, harvested, green again in 2025; bare again on the current season's first
    dates, green on its last ones: the cropland ring peaks there)."""
    out = ndvi.copy()
    out[:, :, 25:] = 0.55 + 0.3 * (ndvi[:, :, 25:] - 0.55)
    f = (slice(None), slice(0, 20), slice(25, W))
    year = np.flatnonzero(~dates.current)
    field = np.full(len(dates.current), 0.75, np.float32)
    field[year[4:7]] = 0.1                              # the 2025 harvest between two greens
    cur = np.flatnonzero(dates.current)
    field[cur[:10]] = 0.1                              # bare early in this season (before the crop)
    out[f] = np.where(np.isnan(ndvi[f]), np.nan, field[:, None, None])
    return out


def tiled(window, chunk_px: int, a=None) -> pixelstats.PixelStats:
    a0, dates, before, masks, ring, times = window
    a = a0 if a is None else a

    def at(ys: slice, xs: slice) -> pixelstats.TileArrays:
        return pixelstats.TileArrays(*(None if v is None else v[..., ys, xs] for v in a))
    w = pixelstats.Window(times, tuple(f"S{i}" for i in range(len(times))), 2026, dates.season, dates.current,
                          dates.baseline, dates.composite, before, masks, ring)
    return pixelstats.pixel_stats((H, W), chunk_px, at, w, S.assess)


@pytest.mark.parametrize("chunk_px", [7, 16, 20, 64])
def test_tiles_give_the_whole_window_computation(window, chunk_px):
    a, dates, before, masks, ring, times = window
    cur, base, comp, cfg = dates.current, dates.baseline, dates.composite, S.assess.disturbance
    px = tiled(window, chunk_px)
    assert len(pixelstats.tiles((H, W), chunk_px)) == -(-H // chunk_px) * -(-W // chunk_px)

    # per pixel: exactly the whole-array functions
    fields, crop, _, loss, rm = whole_window(a, dates, ring, times)
    assert loss.confirmed[10:25, 5:20].mean() > 0.9 and loss.confirmed.sum() < 15 * 15 + 5
    for got, want in zip(px.loss, loss):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(px.season, season_pixels(a.ndvi[cur], a.clear[cur], cfg)):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(px.base_median, clear_median(a.ndvi[base], a.clear[base]))
    np.testing.assert_array_equal(px.base_clear, a.clear[base].sum(axis=0))
    assert np.isnan(px.season.median[30:33, 30:34]).all() and (px.season.n_clear[40:, :4] == 0).all()
    ndvi_max, median = season_composites(a.ndvi[comp], a.comp_refl, a.clear[comp])
    np.testing.assert_array_equal(px.ndvi_max, ndvi_max)
    np.testing.assert_array_equal(px.median, median)
    assert np.isnan(px.ndvi_max[30:33, 30:34]).all() and not np.isnan(px.ndvi_max[:30]).any()
    np.testing.assert_array_equal(px.fvc_median, clear_median(a.fvc[comp], a.clear[comp]))
    np.testing.assert_array_equal(px.base_rgb, clear_median(a.base_rgb, a.clear[before][:, None]))

    # per date: counts exactly, sums to float rounding
    whole = series.unit_sums(a.clear, masks, a.ndvi, a.fvc, a.bsi)
    np.testing.assert_array_equal(px.unit_sums[..., 0], whole[..., 0])
    np.testing.assert_allclose(px.unit_sums, whole, rtol=1e-12)
    assert (px.unit_sums[:, 2, 0] == 0).all()
    np.testing.assert_array_equal(px.water, reference.water_counts(masks, a.mndwi, a.clear))
    np.testing.assert_array_equal(px.snow, reference.snow_counts(masks, a.snow))
    np.testing.assert_array_equal(px.fields, fields)          # noise makes a few "harvests"
    assert crop is None and px.crop_ring is None              # too few in the ring for a cropland ring
    want = reference.ring_sums(rm, a.ndvi, a.fvc, a.clear)
    assert px.ring.n_px == want.n_px
    for u, m in enumerate(masks):    # each unit's per-date FVC over its pixels, NaN where not clear
        np.testing.assert_array_equal(px.unit_fvc[u], np.where(a.clear[:, m], a.fvc[:, m], np.nan))
    np.testing.assert_array_equal(px.ring.clear_px, want.clear_px)
    np.testing.assert_allclose(px.ring.ndvi_sum, want.ndvi_sum, rtol=1e-5)
    np.testing.assert_allclose(px.ring.fvc_sum, want.fvc_sum, rtol=1e-5)


def test_one_tile_is_bit_for_bit_the_whole_window(window):
    a, dates, before, masks, ring, _ = window
    one = tiled(window, max(H, W))
    whole = series.unit_sums(a.clear, masks, a.ndvi, a.fvc, a.bsi)
    np.testing.assert_array_equal(one.unit_sums, whole)
    assert len(pixelstats.tiles((H, W), max(H, W))) == 1


def test_packed_observations_give_each_dates_share_of_a_patch(window):
    a, dates, _, _, _, _ = window
    cur, cfg = dates.current, S.assess.disturbance
    px = tiled(window, 16)
    m = px.loss.confirmed
    obs = np.unpackbits(px.loss.observations, axis=0, count=int(cur.sum())).astype(bool)
    base = clear_median(a.ndvi[dates.baseline], a.clear[dates.baseline])
    ok = a.clear[cur] & np.isfinite(a.ndvi[cur])
    want = ok & (a.ndvi[cur] <= cfg.bare_ndvi) & (base - a.ndvi[cur] >= cfg.ndvi_drop)
    np.testing.assert_array_equal(obs, want)
    assert obs[:, m].mean(axis=1).min() > 0.5      # the lost block is clear and bare on most dates


@pytest.mark.parametrize("chunk_px", [7, 20, 64])
def test_stable_ring_and_fields_on_peak_dates_as_the_whole_window(window, chunk_px):
    """arch's rules on whole arrays (assess.reference.natural_ground, assess.cropland) against the
    tiles: the ring's level is the whole ring's, a field's loss is judged on the peak dates only."""
    a0, dates, before, masks, ring, times = window
    a = a0._replace(ndvi=quiet_ring_and_fields(a0.ndvi, dates))
    a = a._replace(fvc=np.clip((a.ndvi - 0.05) / 0.75, 0, 1).astype(np.float32))
    cur, base, cfg, r = dates.current, dates.baseline, S.assess.disturbance, S.assess.reference
    px = tiled(window, chunk_px, a)
    fields, crop, peaks, loss, rm = whole_window(a, dates, ring, times)
    assert fields[:20, 25:].mean() > 0.9 and fields[20:].mean() < 0.05     # noise: a few "harvests"
    np.testing.assert_array_equal(px.fields, fields)
    ids = [f"S{i}" for i in range(len(times))]
    assert 0 < len(peaks) < cur.sum()
    for got, want in zip(px.loss, loss):
        np.testing.assert_array_equal(got, want)
    assert not (px.loss.confirmed & fields)[:20, 25:].any()     # bare off-peak only: no loss on the field
    assert loss_mask(a.ndvi[base], a.clear[base], a.ndvi[cur], a.clear[cur], cfg).confirmed[:20, 25:].mean() > 0.5
    assert rm[20:, 25:].mean() > 0.9 and not rm[:20].any()
    want = reference.ring_sums(rm, a.ndvi, a.fvc, a.clear)
    assert px.ring.n_px == want.n_px
    np.testing.assert_array_equal(px.ring.clear_px, want.clear_px)
    np.testing.assert_allclose(px.ring.ndvi_sum, want.ndvi_sum, rtol=1e-5)
    got = reference.reference_rows(px.crop_ring, ids, times, r.min_pixels, cropland.REFERENCE_CROPLAND)
    np.testing.assert_allclose(got.fvc_mean, crop.fvc_mean, rtol=1e-5)
    assert px.damage_season is None                   # the ring is not sparse


@pytest.mark.parametrize("chunk_px", [16, 64])
def test_sparse_ring_lowers_the_seasons_bare_line(window, chunk_px):
    """A desert-steppe window (NDVI ~0.17): the season's bare counts at reference.bare_ceiling."""
    a0, dates, before, masks, ring, times = window
    ndvi = (0.17 + 0.1 * (a0.ndvi - 0.55)).astype(np.float32)
    a = a0._replace(ndvi=ndvi, fvc=np.clip((ndvi - 0.05) / 0.75, 0, 1).astype(np.float32))
    cur, cfg, r = dates.current, S.assess.disturbance, S.assess.reference
    px = tiled(window, chunk_px, a)
    ids = [f"S{i}" for i in range(len(times))]
    _, _, _, _, rm = whole_window(a, dates, ring, times)
    ref = reference.reference_frame(rm, a.ndvi, a.fvc, a.clear, ids, times, r.min_pixels)
    now = ref[ref.item_id.isin(np.array(ids)[cur]) & (ref.clear_fraction >= r.min_clear_fraction)].ndvi_mean
    line = reference.bare_ceiling(cfg.bare_ndvi, float(now.median()), r.sparse_ndvi_gap)
    assert line == pytest.approx(0.12, abs=0.01)
    want = season_pixels(a.ndvi[cur], a.clear[cur], cfg.model_copy(update={"bare_ndvi": line}))
    for got, w in zip(px.damage_season, want):
        np.testing.assert_array_equal(got, w)
    assert px.damage_season.n_bare.sum() < px.season.n_bare.sum()
