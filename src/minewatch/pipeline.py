"""One mine, end to end: promise + sky -> anomalies. Plain functions, no orchestration.

The Prefect flow in `minewatch.flow.nightly` maps `process_mine` over the registry; tests and
the benchmark call it directly.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

import dask
import numpy as np
import pandas as pd
import xarray as xr
from pyproj import Transformer
from rasterio.features import rasterize

from minewatch.assess import reference
from minewatch.assess.anomaly import Anomaly
from minewatch.assess.confidence import at_least, classify
from minewatch.assess.disturbance import clear_median, damage_excess, loss_mask, loss_patches
from minewatch.assess.rules import Season, Unjudged, assess_units, unit_key
from minewatch.assess.thresholds import ThresholdTable
from minewatch.config import Settings
from minewatch.outputs import composites
from minewatch.promised import coords
from minewatch.promised.models import DAMAGE, AnnualPlan, MiningRight
from minewatch.sky import catalog, cube, indices, masks, series
from minewatch.sky.pixels import IngestReport, PixelStore
from minewatch.sky.reader import WindowReader, gdal_env
from minewatch.sky.sources import BANDS, CLOUD_PROB

log = logging.getLogger("minewatch")


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
    composite: dict | None = None       # season median rgb/fvc on the mine's grid, for reports
    units_utm: dict | None = None       # unit key -> geometry in the grid's CRS
    thresholds: dict = field(default_factory=dict)   # unit key -> FVC minimum used
    reused: bool = False                # taken from an earlier run's result (nothing new)
    held_back: list[Anomaly] = field(default_factory=list)   # flags under assess.confidence.report_min
    steps_read: int = 0                 # time steps read from the catalogue's files this run
    steps_stored: int = 0               # time steps taken from the pixel store (read on earlier runs)


def _bbox_lonlat(grid: cube.Grid) -> tuple[float, float, float, float]:
    t = Transformer.from_crs(grid.epsg, 4326, always_xy=True)
    return t.transform_bounds(*grid.bounds, densify_pts=21)


def find_scenes(right: MiningRight, grid: cube.Grid, start: date, end: date, s: Settings):
    """Normalised scenes (sky.sources) over the grid's window from the configured catalogue;
    CatalogError if the search fails after its retries (this mine only)."""
    from minewatch.sky import sources
    c = s.catalog
    sign = None
    if c.source == "planetary-computer":
        try:
            import planetary_computer      # optional: PC asset hrefs need a SAS token to be read
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


def load_pixels(license_no: str, items, grid: cube.Grid, s: Settings, store: PixelStore | None = None,
                keep_from: date | None = None) -> tuple[xr.DataArray, IngestReport | None]:
    """The window's lazy (time, band, y, x) cube as `cube.load_window` gives it.

    With `store`, only the steps the store lacks are read from the catalogue (then kept
    there); the cube is read back from the store. Reads go through `reader.WindowReader`
    (the same pixels as stackstac's reader, without a WarpedVRT per asset)."""
    ct = s.imagery.chunk_time
    if store is None:
        return cube.load_window(items, grid, chunk_time=ct, reader=WindowReader, gdal_env=gdal_env(s.catalog)), None
    rep = store.ingest(license_no, items, grid, chunk_time=ct, reader=WindowReader, gdal_env=gdal_env(s.catalog),
                       keep_from=keep_from)
    return store.open(license_no, items, grid, chunk_time=ct, headers=rep.headers), rep


def observe(raw: xr.DataArray, grid: cube.Grid, units_utm: dict, s: Settings):
    """Lazy reflectance, index cube (ndvi, fvc, bsi), clear mask and per-unit stats for one window."""
    refl = cube.to_reflectance(raw)
    cp = refl.get(CLOUD_PROB)
    if s.imagery.cloud_prob_max is not None and cp is None:
        log.warning("imagery.cloud_prob_max is set but this catalogue's scenes have no cloud-probability "
                    "band: SCL alone decides")
    clear = masks.clear_mask(refl.scl, s.imagery.mask_classes, s.imagery.mask_dilation_px,
                             cloud_prob=cp, cloud_prob_max=s.imagery.cloud_prob_max)
    nd = indices.ndvi(refl)
    idx = xr.Dataset({"ndvi": nd, "fvc": indices.fvc(nd, s.indices.ndvi_soil, s.indices.ndvi_veg),
                      "bsi": indices.bsi(refl)})
    stats = series.unit_stats(idx, clear, series.unit_masks(units_utm, grid))
    return refl, idx, clear, stats


REFLECTANCE = tuple(b for b in BANDS if b != "scl")     # the median composite's bands


def season_composite(ndvi: np.ndarray, refl: np.ndarray, clear: np.ndarray, fvc: np.ndarray,
                     transform, epsg: int, times) -> dict:
    """The season's composites over clear dates: maximum NDVI and median reflectance (written
    as COGs), and for the report's maps true colour (median red/green/blue) and median FVC."""
    ndvi_max, median = composites.season_composites(ndvi, refl, clear)
    fvc_med = clear_median(fvc, clear)
    rgb = median[[REFLECTANCE.index(b) for b in ("red", "green", "blue")]]
    ct = pd.to_datetime(times)
    return {"rgb": np.clip(np.moveaxis(rgb, 0, -1) / 0.3, 0, 1), "fvc": fvc_med,
            "ndvi_max": ndvi_max, "median": median, "bands": list(REFLECTANCE),
            "transform": transform, "epsg": epsg, "period": f"{ct.min():%Y-%m-%d}/{ct.max():%Y-%m-%d}"}


def _in_season(times: np.ndarray, season: Season) -> np.ndarray:
    d = pd.to_datetime(times).date
    return np.array([season.start <= x <= season.end for x in d], dtype=bool)


def mine_grid(right: MiningRight, s: Settings):
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


def scenes_for(right: MiningRight, s: Settings, as_of: date, plan_year: int):
    """Scenes a mine is judged on: from the baseline years to as_of."""
    return find_scenes(right, mine_grid(right, s)[2], search_start(s, plan_year), as_of, s)


def _in_seasons(times: np.ndarray, seasons) -> np.ndarray:
    out = np.zeros(len(times), bool)
    for se in seasons:
        out |= _in_season(times, se)
    return out


def process_mine(right: MiningRight, plan: AnnualPlan | None, thresholds: ThresholdTable,
                 s: Settings, as_of: date, plan_year: int, others=(), items: list | None = None,
                 pixels: PixelStore | None = None) -> MineResult:
    """One mine: scenes -> per-unit series (+ reference ring, water share) -> rules -> flags.

    `others`: other mines' boundaries (EPSG:4490) kept out of the reference ring. `items`
    skips the search when the caller already has them. Flags under
    `assess.confidence.report_min` go to `held_back` (and a LOW_CONFIDENCE row in
    `unjudged`), not to `anomalies`. `pixels`: the pixel store; only steps it lacks are read.
    """
    res = MineResult(right.license_no, right.mine_name)
    a = s.assess
    boundary_utm, epsg, grid = mine_grid(right, s)
    units = plan.units if plan else ()
    units_utm = {unit_key(u): coords.transform(u.geometry, 4490, epsg) for u in units}

    if items is None:
        items = find_scenes(right, grid, search_start(s, plan_year), as_of, s)
    res.scenes = [it.id for it in items]
    log.info("mine %s: %d scenes", right.license_no, len(items))
    if not items:
        res.error = "NO_SCENES"
        return res

    raw, rep = load_pixels(right.license_no, items, grid, s, pixels, keep_from=search_start(s, plan_year))
    res.steps_read, res.steps_stored = (len(rep.read), len(rep.stored)) if rep else (raw.sizes["time"], 0)
    if rep is not None:
        log.info("mine %s: %d time steps read from the catalogue, %d from the pixel store%s", right.license_no,
                 res.steps_read, res.steps_stored, f", {len(rep.pruned)} old steps dropped" if rep.pruned else "")
    refl, idx, clear, stats = observe(raw, grid, units_utm or {"boundary": boundary_utm}, s)
    season = Season.of(plan_year, a.season_start, a.season_end)
    base_seasons = [season.shifted(-k) for k in range(1, a.disturbance.baseline_years + 1)]
    base_season = base_seasons[0]
    t = idx.time.values
    cur_t, base_t = _in_season(t, season), _in_seasons(t, base_seasons)
    comp_t = cur_t if cur_t.any() else base_t if base_t.any() else np.ones(len(t), bool)
    comp_refl = refl[list(REFLECTANCE)].isel(time=comp_t).to_dataarray("band").transpose("time", "band", "y", "x")
    mndwi = indices.mndwi(refl)
    stats_c, ndvi_all, clear_all, mndwi_all, comp_refl = dask.compute(stats, idx.ndvi, clear, mndwi, comp_refl)
    ndvi_all, clear_all, mndwi_all = ndvi_all.values, clear_all.values.astype(bool), mndwi_all.values
    fvc_all = np.clip((ndvi_all - s.indices.ndvi_soil) / (s.indices.ndvi_veg - s.indices.ndvi_soil), 0, 1)
    ids = [str(i) for i in idx.id.values]
    res.series = series.stats_frame(stats_c)
    res.composite = season_composite(ndvi_all[comp_t], comp_refl.values, clear_all[comp_t], fvc_all[comp_t],
                                     grid.transform, epsg, t[comp_t])
    res.units_utm = units_utm

    h, w = grid.shape
    umasks = {k: rasterize([(g, 1)], out_shape=(h, w), transform=grid.transform, fill=0,
                           dtype="uint8").astype(bool) for k, g in units_utm.items()}
    if umasks:   # share of open water (MNDWI > 0) per unit and date, for water targets
        wf = reference.water_fractions(umasks, mndwi_all, clear_all, ids)
        res.series = res.series.merge(wf, on=["unit", "item_id"], how="left")

    # change detection on the same season of earlier years
    cfg = a.disturbance
    confirmed = base = loss_obs = None
    if base_t.any() and cur_t.any():
        confirmed, base, loss_obs = loss_mask(ndvi_all[base_t], clear_all[base_t], ndvi_all[cur_t],
                                              clear_all[cur_t], cfg)

    # the reference ring: natural vegetation around the mine, this season and the baseline
    if a.reference.enabled and base_t.any():
        others_utm = [coords.transform(g, 4490, epsg) for g in others]
        ring = reference.ring_mask(boundary_utm, grid, a.reference.inner_m, a.reference.outer_m,
                                   others_utm + list(units_utm.values()))
        ring &= reference.stable_vegetation(ndvi_all[base_t], clear_all[base_t], a.reference.stable_ndvi_min)
        if confirmed is not None:
            ring &= ~confirmed
        rf = reference.reference_frame(ring, ndvi_all, fvc_all, clear_all, ids, t, a.reference.min_pixels)
        if rf is not None:
            res.series = pd.concat([res.series, rf], ignore_index=True).sort_values(
                ["unit", "datetime", "item_id"]).reset_index(drop=True)

    flags: list[Anomaly] = []
    if plan is not None:
        for u in plan.units:
            th = thresholds.lookup(u.land_class, a.region, county_code=right.county_code) if u.land_class else None
            if th is not None and th.measure == "fvc":
                res.thresholds[unit_key(u)] = th.min
        fl, unj = assess_units(right, plan, res.series, thresholds, as_of=as_of,
                               season_mmdd=(a.season_start, a.season_end),
                               min_clear_obs=a.min_clear_obs, min_clear_fraction=a.min_clear_fraction,
                               region=a.region, area_of=coords.area_hm2, cfg=a)
        flags += fl
        res.unjudged += unj

    if as_of >= season.end and confirmed is not None:
        cur_ids = [i for i, c in zip(ids, cur_t) if c]
        flags += disturbance_flags(right, plan, plan_year, grid, boundary_utm, units_utm, base_t, cur_t,
                                   ndvi_all, clear_all, confirmed, base, loss_obs, cur_ids, season,
                                   base_season, epsg, s)

    for f in flags:
        if at_least(f.confidence, a.confidence.report_min):
            res.anomalies.append(f)
        else:
            res.held_back.append(f)
            res.unjudged.append(Unjudged(right.license_no, f.key, "LOW_CONFIDENCE",
                                         f"低置信度{f.type_zh}未上报 (held back: {f.type}, confidence {f.confidence})",
                                         int(f.observed.get("clear_observations", 0) or 0)))
    return res


def _to_4490(geom_utm, epsg: int):
    return coords.transform(geom_utm, epsg, 4490)


def _loss_anomaly(kind, p, right, plan_year, season, base_season, epsg, cfg, conf_cfg, rule, notes) -> Anomaly:
    g = _to_4490(p.geometry_utm, epsg)
    c = p.geometry_utm.centroid
    drop = p.baseline_ndvi - p.current_ndvi
    confidence = classify(p.loss_observations, p.agree, drop - cfg.ndvi_drop + conf_cfg.fvc_margin,
                          min_obs=cfg.min_clear_obs, margin_min=conf_cfg.fvc_margin,
                          agree_high=conf_cfg.agree_high, agree_highest=conf_cfg.agree_highest)
    if confidence == "highest" and coords.area_hm2(g) < 2 * cfg.min_area_hm2:
        confidence = "high"          # highest also needs twice the minimum mapping unit
    return Anomaly(
        type=kind, severity="high", license_no=right.license_no,
        mine_name=right.mine_name, plan_year=plan_year, geometry=g, area_hm2=coords.area_hm2(g),
        period=season.label,
        observed={"ndvi_baseline": p.baseline_ndvi, "ndvi_current": p.current_ndvi,
                  "ndvi_drop": round(drop, 4), "clear_observations": p.loss_observations,
                  "clear_dates_current": p.clear_observations, "agreeing_dates": p.agree, "pixels": p.n_px},
        expected={"rule": rule, "ndvi_drop_min": cfg.ndvi_drop, "bare_ndvi_max": cfg.bare_ndvi,
                  "min_clear_obs": cfg.min_clear_obs, "min_area_hm2": cfg.min_area_hm2,
                  "baseline_period": base_season.label,
                  "source": "same-season baseline; minimum mapping unit as GFW alerts (0.2 ha)"},
        evidence_scenes=p.scenes, key=f"{'loss' if kind == 'UNDECLARED_DISTURBANCE' else 'oob'}"
                                      f"@{round(c.x, -2):.0f},{round(c.y, -2):.0f}",
        notes_zh=notes, confidence=confidence)


def disturbance_flags(right, plan, plan_year, grid, boundary_utm, units_utm, base_t, cur_t, ndvi_all,
                      clear_all, confirmed, base, loss_obs, cur_ids, season, base_season, epsg,
                      s) -> list[Anomaly]:
    """UNDECLARED_DISTURBANCE, OUT_OF_BOUNDARY_DISTURBANCE and DAMAGE_EXCEEDS_DECLARED."""
    cfg, conf_cfg = s.assess.disturbance, s.assess.confidence
    h, w = grid.shape
    cur_nd, cur_cl = ndvi_all[cur_t], clear_all[cur_t]

    def burn(geoms, all_touched=True):
        geoms = [g for g in geoms if g is not None and not g.is_empty]
        if not geoms:
            return np.zeros((h, w), bool)
        return rasterize([(g, 1) for g in geoms], out_shape=(h, w), transform=grid.transform, fill=0,
                         all_touched=all_touched, dtype="uint8").astype(bool)

    inside = burn([boundary_utm], all_touched=False)
    declared = burn(list(units_utm.values()))
    units = {unit_key(u): u for u in (plan.units if plan else ())}
    temporary = burn([units_utm[k] for k, u in units.items() if u.is_temporary])
    out: list[Anomaly] = []
    for p in loss_patches(confirmed, inside & ~declared, base, cur_nd, cur_cl, loss_obs, cur_ids,
                          grid.transform, grid.resolution ** 2, cfg):
        out.append(_loss_anomaly("UNDECLARED_DISTURBANCE", p, right, plan_year, season, base_season, epsg,
                                 cfg, conf_cfg, "no vegetation loss outside declared units",
                                 "边界内出现未在年度计划中申报的植被损毁，需核实并修编方案"))
    if cfg.out_of_boundary:
        search = burn([boundary_utm.buffer(s.catalog.buffer_m)], all_touched=False)
        for p in loss_patches(confirmed, search & ~inside & ~temporary & ~declared, base, cur_nd, cur_cl, loss_obs,
                              cur_ids, grid.transform, grid.resolution ** 2, cfg):
            out.append(_loss_anomaly("OUT_OF_BOUNDARY_DISTURBANCE", p, right, plan_year, season, base_season,
                                     epsg, cfg, conf_cfg,
                                     "no vegetation loss outside the boundary (search buffer) "
                                     "except on declared temporary land",
                                     "矿区范围外出现植被损毁（非申报临时用地），疑似越界开采或堆放"))
    for k, u in units.items():
        if u.section != DAMAGE:
            continue
        um = burn([units_utm[k]], all_touched=False)
        if not um.any():
            continue
        others_declared = burn([g for kk, g in units_utm.items() if kk != k], all_touched=False)
        ex = damage_excess(um, ~others_declared & ~confirmed, cur_nd, cur_cl, cur_ids, grid.transform, cfg)
        if ex is None:
            continue
        px_hm2 = grid.resolution ** 2 / 10_000
        declared_hm2 = u.area_hm2 if u.area_hm2 else coords.area_hm2(u.geometry)
        excess_hm2 = ex.excess_px * px_hm2
        allowed = max(cfg.min_area_hm2, cfg.damage_tolerance * declared_hm2)
        if excess_hm2 < allowed:
            continue
        g = _to_4490(ex.geometry_utm, epsg)
        confidence = classify(ex.clear_observations, ex.agree, excess_hm2 / allowed - 1 + conf_cfg.fvc_margin,
                              min_obs=cfg.min_clear_obs, margin_min=conf_cfg.fvc_margin,
                              agree_high=conf_cfg.agree_high, agree_highest=conf_cfg.agree_highest)
        out.append(Anomaly(
            type="DAMAGE_EXCEEDS_DECLARED", severity="high" if excess_hm2 >= declared_hm2 else "medium",
            license_no=right.license_no, mine_name=right.mine_name, plan_year=plan_year, geometry=g,
            area_hm2=coords.area_hm2(g), period=season.label,
            observed={"measured_bare_hm2": round(ex.measured_px * px_hm2, 4), "excess_hm2": round(excess_hm2, 4),
                      "ndvi_current": ex.current_ndvi, "clear_observations": ex.clear_observations,
                      "agreeing_dates": ex.agree, "pixels": ex.excess_px},
            expected={"rule": "bare ground connected to a declared damage unit <= declared area + "
                              "max(min_area_hm2, damage_tolerance x declared)",
                      "declared_hm2": round(declared_hm2, 4), "allowed_excess_hm2": round(allowed, 4),
                      "damage_tolerance": cfg.damage_tolerance, "bare_ndvi_max": cfg.bare_ndvi,
                      "min_clear_obs": cfg.min_clear_obs},
            evidence_scenes=ex.scenes, unit_seq=u.seq, unit_section=u.section, key=k,
            notes_zh="实测裸露/损毁面积明显超出年度计划申报的损毁面积", confidence=confidence))
    return out
