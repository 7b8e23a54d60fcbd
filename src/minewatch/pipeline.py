"""One mine, end to end: promise + sky -> evidence -> rules -> result. Plain functions, no orchestration.

The sky part (search, load, observe, compute) is here; what the rules need is derived in
`assess.evidence` and judged in `assess.judge`. The Prefect flow in `minewatch.flow.nightly`
maps `process_mine` over the registry; tests and the benchmark call it directly.
"""
from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, NamedTuple

import dask.array as dsa
import numpy as np
import pandas as pd
import xarray as xr
from affine import Affine
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from minewatch.assess import evidence, pixelstats
from minewatch.assess.anomaly import Anomaly, Unjudged
from minewatch.assess.history import DROPPED, season_rows, tracked_units
from minewatch.assess.judge import judge
from minewatch.assess.rules import mine_record, unit_key
from minewatch.assess.season import in_seasons
from minewatch.assess.thresholds import ThresholdTable
from minewatch.config import Settings
from minewatch.labels import EVIDENCE_ZH
from minewatch.ledger.history import MineHistory, SeasonRow
from minewatch.promised import coords
from minewatch.promised.models import AnnualPlan, MiningRight
from minewatch.sky import catalog, cube, indices, masks, series
from minewatch.sky.pixels import IngestReport, PixelStore, SkippedScene

if TYPE_CHECKING:
    import pystac
from minewatch.sky.reader import WindowReader, gdal_env
from minewatch.sky.sources import BANDS, CLOUD_PROB

log = logging.getLogger("minewatch")
TRUE_COLOUR = ("red", "green", "blue")


@dataclass(frozen=True, eq=False)
class Composite:
    """The season's composites on the mine's grid, for the COGs and the report's maps."""
    rgb: np.ndarray          # (H, W, 3) true colour 0..1 (median red/green/blue / 0.3)
    fvc: np.ndarray          # (H, W) median FVC over clear dates
    ndvi_max: np.ndarray     # (H, W) maximum NDVI over clear dates
    median: np.ndarray       # (B, H, W) median reflectance per band of `bands`
    bands: tuple[str, ...]
    transform: Affine
    epsg: int
    period: str              # "YYYY-MM-DD/YYYY-MM-DD": first and last date composited
    # the nearest baseline season's median red/green/blue reflectance (H, W, 3), unstretched, for
    # the report's before/after pairs (None: no baseline season, or the composite is the baseline)
    baseline_rgb: np.ndarray | None = None
    baseline_period: str = ""

    @property
    def rgb_reflectance(self) -> np.ndarray:
        """(H, W, 3) this season's median red/green/blue reflectance, unstretched (as `baseline_rgb`)."""
        return np.moveaxis(self.median[[self.bands.index(b) for b in TRUE_COLOUR]], 0, -1)


@dataclass(frozen=True)
class MineProducts:
    """A mine's heavy products, written where it ran (a cluster worker) into the state folder on
    shared storage, in place of the arrays (`job.write_mine_products`): the run folder copies
    the files, so the flow process never holds a mine's composites."""
    folder: str                              # OUT/state/worker/<licence>/<digest>
    composites: tuple[str, ...]              # the two COGs' file names in `folder`
    composite: str                           # the pickled Composite, for the report until it is written there
    overview_png: str                        # the overview page's image (outputs.overview.imagery_png)
    overview_bounds: tuple[float, float, float, float]   # its (west, south, east, north), CGCS2000
    written_by: str                          # "host:pid" of the process that wrote them


@dataclass
class MineResult:
    license_no: str
    mine_name: str
    anomalies: list[Anomaly] = field(default_factory=list)
    unjudged: list[Unjudged] = field(default_factory=list)
    series: pd.DataFrame | None = None
    scenes: list[str] = field(default_factory=list)
    error: str | None = None
    traceback: str | None = None
    composite: Composite | None = None  # season composites on the mine's grid, for COGs and reports
    units_utm: dict | None = None       # unit key -> geometry in the grid's CRS
    thresholds: dict = field(default_factory=dict)   # unit key -> FVC minimum used
    reused: bool = False                # taken from an earlier run's result (nothing new)
    held_back: list[Anomaly] = field(default_factory=list)   # flags under assess.confidence.report_min
    steps_read: int = 0                 # time steps read from the catalogue's files this run
    steps_stored: int = 0               # time steps taken from the pixel store (read on earlier runs)
    # scenes left out tonight because an asset could not be read (tried again next run); tuples, so
    # results pickled before these fields existed still read
    scenes_skipped: tuple[SkippedScene, ...] = ()
    evidence_incomplete: str | None = None   # the catalogue matched more scenes than it paged: why
    seasons: tuple[SeasonRow, ...] = ()      # this season's unit measures, for the ledger (job writes them)
    # the mine's region, season window and threshold rows (assess.rules.mine_record), for the run summary
    regional: dict | None = None
    products: MineProducts | None = None     # on a cluster: the composites as files, `composite` None


def _bbox_lonlat(grid: cube.Grid) -> tuple[float, float, float, float]:
    t = Transformer.from_crs(grid.epsg, 4326, always_xy=True)
    return t.transform_bounds(*grid.bounds, densify_pts=21)


def find_scenes(right: MiningRight, grid: cube.Grid, start: date, end: date, s: Settings) -> list:
    """Normalised scenes (sky.sources) over the grid's window from the configured catalogue;
    CatalogError if the search fails after its retries (this mine only)."""
    from minewatch.sky import sources
    c = s.catalog
    sign = None
    if c.source == "planetary-computer":
        try:
            import planetary_computer  # optional: PC asset hrefs need a SAS token to be read
            sign = planetary_computer.sign
        except ImportError:
            log.warning("planetary_computer is not installed: Planetary Computer hrefs stay unsigned")
    src = sources.get_source(c.source, url=c.url if "url" in c.model_fields_set or c.source == "local" else None,
                             collection=c.collection, sign=sign)
    return catalog.search_scenes(src.url, src.collection, _bbox_lonlat(grid), start, end,
                                 max_cloud_cover=c.max_cloud_cover, timeout=c.timeout_s,
                                 page_size=c.page_size, retries=c.retries, backoff_s=c.backoff_s,
                                 max_total_s=c.max_search_s, client_side_cloud_filter=c.client_side_cloud_filter,
                                 source=src, cloud_prob=c.cloud_probability)


def load_pixels(license_no: str, items: list[pystac.Item], grid: cube.Grid, s: Settings, store: PixelStore,
                keep_from: date | None = None) -> tuple[xr.DataArray, IngestReport]:
    """The window's lazy (time, band, y, x) cube as `cube.load_window` gives it, less the scenes
    whose assets cannot be read (`IngestReport.skipped`).

    Only the steps the store lacks are read from the catalogue (then kept there); the cube
    is read back from the store. Reads go through `reader.WindowReader` (the same pixels as
    stackstac's reader, without a WarpedVRT per asset)."""
    ct = s.imagery.chunk_time
    rep = store.ingest(license_no, items, grid, chunk_time=ct, reader=WindowReader, gdal_env=gdal_env(s.catalog),
                       keep_from=keep_from, chunk_px=s.imagery.store_chunk_px)
    return store.open(license_no, store.usable(items, rep), grid, chunk_time=ct, headers=rep.headers), rep


def evidence_gaps(res: MineResult) -> list[Unjudged]:
    """unjudged.csv rows (unit "": the whole mine) for scenes skipped and a search cut short."""
    rows = []
    if res.scenes_skipped:
        rows.append(Unjudged(res.license_no, "", "SCENES_SKIPPED",
                             f"{EVIDENCE_ZH['SCENES_SKIPPED']}: {len(res.scenes_skipped)} 景 "
                             f"({', '.join(sk.id for sk in res.scenes_skipped)})", 0))
    if res.evidence_incomplete:
        rows.append(Unjudged(res.license_no, "", "EVIDENCE_INCOMPLETE",
                             f"{EVIDENCE_ZH['EVIDENCE_INCOMPLETE']} ({res.evidence_incomplete})", 0))
    return rows


class Observed(NamedTuple):
    refl: xr.Dataset          # surface reflectance (and scl, cloud probability) per band
    indices: xr.Dataset       # ndvi, fvc, bsi (not `index`: that is tuple.index)
    clear: xr.DataArray       # bool (time, y, x)
    stats: xr.Dataset         # per (unit, time) counts and means
    masks: xr.DataArray       # (unit, y, x) the unit masks `stats` is over
    snow: xr.DataArray | None = None   # bool (time, y, x) snow or ice (masked in `clear` too)


def observe(raw: xr.DataArray, grid: cube.Grid, units_utm: dict[str, BaseGeometry], s: Settings) -> Observed:
    """Lazy reflectance, index cube (ndvi, fvc, bsi), clear mask and per-unit stats for one window;
    the units are rasterised here, once."""
    refl, idx, clear, snow = observe_pixels(raw, s)
    um = series.unit_masks(units_utm, grid)
    return Observed(refl, idx, clear, series.unit_stats(idx, clear, um), um, snow)


def observe_pixels(raw: xr.DataArray, s: Settings) -> tuple[xr.Dataset, xr.Dataset, xr.DataArray, xr.DataArray]:
    """Lazy reflectance, index cube (ndvi, fvc, bsi), clear mask and snow/ice mask of a window (or part of one)."""
    refl = cube.to_reflectance(raw)
    cp = refl.get(CLOUD_PROB)
    if s.imagery.cloud_prob_max is not None and cp is None:
        log.warning("imagery.cloud_prob_max is set but this catalogue's scenes have no cloud-probability "
                    "band: SCL alone decides")
    im = s.imagery
    # snow/ice and terrain shadow are masked on every date (docs/assessment.md §4a); snow is also
    # counted per unit, so a unit short of dates under snow says so (SNOW_COVER)
    snow = masks.snow_mask(refl, im.snow_classes, im.ndsi_min, im.snow_nir_min, im.snow_green_min,
                           im.ice_green_min)
    shade = masks.terrain_shadow_mask(refl, im.terrain_shadow_classes, im.dark_nir_max, im.dark_visible_max,
                                      im.dark_ndwi_max)
    clear = masks.clear_mask(refl.scl, im.mask_classes, im.mask_dilation_px,
                             cloud_prob=cp, cloud_prob_max=im.cloud_prob_max, also=snow | shade)
    nd = indices.ndvi(refl)
    idx = xr.Dataset({"ndvi": nd, "fvc": indices.fvc(nd, s.indices.ndvi_soil, s.indices.ndvi_veg),
                      "bsi": indices.bsi(refl)})
    return refl, idx, clear, snow


def tile_arrays(raw: xr.DataArray, s: Settings, composite: np.ndarray, before: np.ndarray | None,
                crop: tuple[slice, slice]) -> pixelstats.TileArrays:
    """One tile's arrays for `assess.pixelstats`, computed from the lazy cube `raw` of the tile
    and its halo (the clear mask's dilation sees across the tile's edges), then cut to `crop`."""
    refl, idx, clear, snow = observe_pixels(raw, s)
    comp_refl = refl[list(REFLECTANCE)].isel(time=composite).to_dataarray("band").transpose("time", "band", "y", "x")
    # the "before" image: only the three visible bands of the nearest baseline season's steps
    base_rgb = (refl[list(TRUE_COLOUR)].isel(time=before).to_dataarray("band").transpose("time", "band", "y", "x")
                if before is not None else None)
    lazy = [v.data for v in (idx.ndvi, idx.fvc, idx.bsi, indices.mndwi(refl), clear, comp_refl, snow, base_rgb)
            if v is not None]
    # dask writes each chunk into its place: no second, concatenated copy of the tile's arrays
    got = [np.empty(v.shape, v.dtype) if isinstance(v, dsa.Array) else np.asarray(v) for v in lazy]
    todo = [(v, g) for v, g in zip(lazy, got) if isinstance(v, dsa.Array)]
    if todo:
        dsa.store([v for v, _ in todo], [g for _, g in todo], lock=False)
    cut = (..., *crop)
    nd, fv, bs, mn, cl, cr, sn, *br = (g[cut] for g in got)
    return pixelstats.TileArrays(nd, fv, bs, mn, cl.astype(bool, copy=False), cr, br[0] if br else None,
                                 sn.astype(bool, copy=False))


def _halo(ys: slice, xs: slice, shape: tuple[int, int], px: int) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
    """The tile (ys, xs) grown by `px` within `shape`, and the tile's place in it."""
    y0, x0 = max(ys.start - px, 0), max(xs.start - px, 0)
    grown = (slice(y0, min(ys.stop + px, shape[0])), slice(x0, min(xs.stop + px, shape[1])))
    return grown, (slice(ys.start - y0, ys.stop - y0), slice(xs.start - x0, xs.stop - x0))


REFLECTANCE = tuple(b for b in BANDS if b != "scl")     # the median composite's bands


def season_composite(px: pixelstats.PixelStats, transform: Affine, epsg: int, times: np.ndarray) -> Composite:
    """The season's composites over clear dates: maximum NDVI and median reflectance (written
    as COGs), and for the report's maps true colour (median red/green/blue) and median FVC."""
    median = px.median
    rgb = median[[REFLECTANCE.index(b) for b in TRUE_COLOUR]]
    return Composite(rgb=np.clip(np.moveaxis(rgb, 0, -1) / 0.3, 0, 1), fvc=px.fvc_median, ndvi_max=px.ndvi_max,
                     median=median, bands=REFLECTANCE, transform=transform, epsg=epsg, period=_period(times))


def _period(times: np.ndarray) -> str:
    ct = pd.to_datetime(times)
    return f"{ct.min():%Y-%m-%d}/{ct.max():%Y-%m-%d}"


def baseline_steps(times: np.ndarray, dates: evidence.Dates) -> np.ndarray | None:
    """The nearest baseline season's time steps (bool), for the "before" image; None when this
    season has no steps (the composite is then the baseline itself) or no baseline season has any."""
    if not dates.current.any():
        return None
    return next((m for m in (in_seasons(times, [b]) for b in dates.baseline_seasons) if m.any()), None)


def mine_grid(right: MiningRight, s: Settings) -> tuple[BaseGeometry, int, cube.Grid]:
    """The mine's boundary in its UTM zone and the explicit grid its window is loaded on
    (wide enough for the search buffer and the reference ring)."""
    boundary_utm, epsg = coords.to_utm(right.boundary)
    a = s.assess
    ring_out = a.reference.outer_m if a.reference.enabled else 0.0
    return boundary_utm, epsg, cube.grid_around(boundary_utm, epsg, max(s.catalog.buffer_m, ring_out),
                                                s.imagery.resolution)


def search_start(s: Settings, plan_year: int) -> date:
    """1 January of the earliest baseline year: the same season of earlier years is the baseline."""
    return date(plan_year - s.assess.disturbance.baseline_years, 1, 1)


def scenes_for(right: MiningRight, s: Settings, as_of: date, plan_year: int) -> list:
    """Scenes a mine is judged on: from the baseline years to as_of."""
    return find_scenes(right, mine_grid(right, s)[2], search_start(s, plan_year), as_of, s)


def window_arrays(raw: xr.DataArray, store: PixelStore, license_no: str, items: list[pystac.Item],
                  grid: cube.Grid, s: Settings, rep: IngestReport, composite: np.ndarray,
                  before: np.ndarray | None) -> Callable[[slice, slice], pixelstats.TileArrays]:
    """`assess.pixelstats`' tile reader: a window of one tile computes `raw` as loaded; on
    several tiles each tile (and its halo for the clear mask's dilation) is opened from the
    pixel store on its own, so no read holds more than a tile of the window."""
    one = len(pixelstats.tiles(grid.shape, s.imagery.chunk_px)) == 1

    def at(ys: slice, xs: slice) -> pixelstats.TileArrays:
        if one:
            return tile_arrays(raw, s, composite, before, (ys, xs))
        grown, crop = _halo(ys, xs, grid.shape, s.imagery.mask_dilation_px)
        # only the store's spatial chunks the tile (and its halo) crosses are read
        win = store.open(license_no, items, grid, chunk_time=s.imagery.chunk_time, headers=rep.headers,
                         chunk_px=s.imagery.store_chunk_px, window=grown)
        return tile_arrays(win, s, composite, before, crop)
    return at


def process_mine(right: MiningRight, plan: AnnualPlan | None, thresholds: ThresholdTable,
                 s: Settings, as_of: date, plan_year: int, others: Sequence[BaseGeometry] = (),
                 items: list[pystac.Item] | None = None,
                 pixels: PixelStore | None = None, history: MineHistory | None = None) -> MineResult:
    """One mine: scenes -> pixels -> evidence (per-unit series, reference ring, loss) -> rules -> result.

    `others`: other mines' boundaries (EPSG:4490) kept out of the reference ring. `items`
    skips the search when the caller already has them. Flags under
    `assess.confidence.report_min` go to `held_back` (and a LOW_CONFIDENCE row in
    `unjudged`), not to `anomalies`. `pixels`: the pixel store; only steps it lacks are read
    (None: a store for this call only, so the reads and their fault rules are the night's).
    `history`: the ledger's snapshot of the mine; the units only it knows (accepted units
    this plan omits, last year's planned units it drops) are measured beside the plan's,
    keyed ``section:seq@year``, for the history rules (assess.history).
    """
    if pixels is None:
        with tempfile.TemporaryDirectory(prefix="minewatch-pixels-") as d:
            return process_mine(right, plan, thresholds, s, as_of, plan_year, others, items, PixelStore(d),
                                history)
    res = MineResult(right.license_no, right.mine_name)
    boundary_utm, epsg, grid = mine_grid(right, s)
    units = plan.units if plan else ()
    units_utm = {unit_key(u): coords.transform(u.geometry, 4490, epsg) for u in units}
    tracked = tracked_units(history, plan_year, s.ledger.management_years)
    units_utm.update({k: coords.transform(t.mention.geometry, 4490, epsg) for k, t in tracked.items()})

    if items is None:
        items = find_scenes(right, grid, search_start(s, plan_year), as_of, s)
    res.scenes = [it.id for it in items]
    res.evidence_incomplete = catalog.shortfall(items)
    log.info("mine %s: %d scenes%s", right.license_no, len(items),
             f" (evidence incomplete: {res.evidence_incomplete})" if res.evidence_incomplete else "")
    if not items:
        res.error = "NO_SCENES"
        return res

    raw, rep = load_pixels(right.license_no, items, grid, s, pixels, keep_from=search_start(s, plan_year))
    res.steps_read, res.steps_stored = len(rep.read), len(rep.stored)
    res.scenes_skipped = tuple(rep.skipped)
    res_items = pixels.usable(items, rep)
    res.scenes = [it.id for it in res_items]     # what the mine is judged on
    log.info("mine %s: %d time steps read from the catalogue, %d from the pixel store%s%s", right.license_no,
             res.steps_read, res.steps_stored, f", {len(rep.pruned)} old steps dropped" if rep.pruned else "",
             f", {len(rep.skipped)} scenes skipped (unreadable: {', '.join(sk.id for sk in rep.skipped)})"
             if rep.skipped else "")
    stat_geoms = units_utm or {"boundary": boundary_utm}
    um = series.unit_masks(stat_geoms, grid)
    t, ids = raw.time.values, raw.id.values
    dates = evidence.Dates.of(t, plan_year, s.assess,      # the mine's window: its own, else its region's
                              thresholds.window_of(right.license_no, right.county_code, None, s.assess)[0])
    comp_t, base_t = dates.composite, baseline_steps(t, dates)
    px = pixelstats.pixel_stats(
        grid.shape, s.imagery.chunk_px, window_arrays(raw, pixels, right.license_no, res_items, grid, s, rep,
                                                      comp_t, base_t),
        pixelstats.Window(t, tuple(str(i) for i in ids), plan_year, dates.season, dates.current, dates.baseline,
                          comp_t, base_t, um.values, evidence.ring_geometry(boundary_utm, grid, units_utm, others, s)),
        s.assess)
    res.composite = season_composite(px, grid.transform, epsg, t[comp_t])
    if base_t is not None and px.base_rgb is not None:
        res.composite = replace(res.composite, baseline_rgb=np.moveaxis(px.base_rgb, 0, -1),
                                baseline_period=_period(t[base_t]))
    stats = series.stats_of_sums(px.unit_sums, um.values.sum(axis=(1, 2)), list(stat_geoms), t, ids)
    ev = evidence.build(grid=grid, boundary_utm=boundary_utm, units_utm=units_utm,
                        unit_masks={k: um.sel(unit=k).values for k in units_utm},
                        stats=series.stats_frame(stats), pixels=px, times=t, ids=ids, dates=dates,
                        as_of=as_of, plan_year=plan_year, s=s, history=history,
                        measured_only=[k for k, t in tracked.items() if t.kind == DROPPED])
    j = judge(ev, right, plan, thresholds, s)
    res.series, res.units_utm, res.thresholds = ev.series, units_utm, j.fvc_minimums
    res.anomalies, res.held_back = list(j.anomalies), list(j.held_back)
    res.unjudged = list(j.unjudged) + evidence_gaps(res)
    res.seasons = tuple(season_rows(ev, plan, s))
    res.regional = mine_record(right, plan, thresholds, ev.series, plan_year, as_of, s.assess)
    return res
