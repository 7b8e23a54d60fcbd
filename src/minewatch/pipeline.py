"""One mine, end to end: promise + sky -> anomalies. Plain functions, no orchestration.

The Prefect flow in `flows/nightly.py` maps `process_mine` over the registry; tests and
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
from shapely.geometry import box
from shapely.ops import transform as shp_transform

from minewatch.assess.anomaly import Anomaly
from minewatch.assess.disturbance import loss_mask, loss_patches
from minewatch.assess.rules import Season, Unjudged, assess_units, unit_key
from minewatch.assess.thresholds import ThresholdTable
from minewatch.config import Settings
from minewatch.promised import coords
from minewatch.promised.models import AnnualPlan, MiningRight
from minewatch.sky import catalog, cube, indices, masks, series

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


def observe(items, grid: cube.Grid, units_utm: dict, s: Settings):
    """Lazy reflectance, index cube (ndvi, fvc, bsi), clear mask and per-unit stats for one window."""
    raw = cube.load_window(items, grid, chunk_time=s.imagery.chunk_time)
    refl = cube.to_reflectance(raw)
    clear = masks.clear_mask(refl.scl, s.imagery.mask_classes, s.imagery.mask_dilation_px)
    nd = indices.ndvi(refl)
    idx = xr.Dataset({"ndvi": nd, "fvc": indices.fvc(nd, s.indices.ndvi_soil, s.indices.ndvi_veg),
                      "bsi": indices.bsi(refl)})
    stats = series.unit_stats(idx, clear, series.unit_masks(units_utm, grid))
    return refl, idx, clear, stats


def season_composite(refl: xr.Dataset, fvc: xr.DataArray, clear: xr.DataArray) -> xr.Dataset:
    """Per-pixel median over clear dates: true colour and FVC, lazily."""
    c = clear.chunk({"time": -1}) if clear.chunks else clear
    rgb = xr.concat([refl[b].where(c) for b in ("red", "green", "blue")], dim="rgb")
    return xr.Dataset({"rgb": rgb.median("time"), "fvc": fvc.where(c).median("time")})


def _in_season(times: np.ndarray, season: Season) -> np.ndarray:
    d = pd.to_datetime(times).date
    return np.array([season.start <= x <= season.end for x in d], dtype=bool)


def mine_grid(right: MiningRight, s: Settings):
    """The mine's boundary in its UTM zone and the explicit grid its window is loaded on."""
    boundary_utm, epsg = coords.to_utm(right.boundary)
    return boundary_utm, epsg, cube.grid_around(boundary_utm, epsg, s.catalog.buffer_m, s.imagery.resolution)


def scenes_for(right: MiningRight, s: Settings, as_of: date, plan_year: int):
    """Scenes a mine is judged on: from 1 January of last year (the baseline season) to as_of."""
    return find_scenes(right, mine_grid(right, s)[2], date(plan_year - 1, 1, 1), as_of, s)


def process_mine(right: MiningRight, plan: AnnualPlan | None, thresholds: ThresholdTable,
                 s: Settings, as_of: date, plan_year: int, items: list | None = None) -> MineResult:
    """Everything for one mine; `items` skips the search when the caller already has them."""
    res = MineResult(right.license_no, right.mine_name)
    boundary_utm, epsg, grid = mine_grid(right, s)
    to_utm = Transformer.from_crs(4490, epsg, always_xy=True).transform
    units = plan.units if plan else ()
    units_utm = {unit_key(u): shp_transform(to_utm, u.geometry) for u in units}

    if items is None:
        items = find_scenes(right, grid, date(plan_year - 1, 1, 1), as_of, s)
    res.scenes = [it.id for it in items]
    log.info("mine %s: %d scenes", right.license_no, len(items))
    if not items:
        res.error = "NO_SCENES"
        return res

    refl, idx, clear, stats = observe(items, grid, units_utm or {"boundary": boundary_utm}, s)
    season = Season.of(plan_year, s.assess.season_start, s.assess.season_end)
    base_season = Season.of(plan_year - 1, s.assess.season_start, s.assess.season_end)
    t = idx.time.values
    cur_t, base_t = _in_season(t, season), _in_season(t, base_season)
    comp_t = cur_t if cur_t.any() else base_t if base_t.any() else np.ones(len(t), bool)
    comp = season_composite(refl.isel(time=comp_t), idx.fvc[comp_t], clear[comp_t])
    stats_c, base_nd, base_cl, cur_nd, cur_cl, comp = dask.compute(
        stats, idx.ndvi[base_t], clear[base_t], idx.ndvi[cur_t], clear[cur_t], comp)
    res.series = series.stats_frame(stats_c)
    ct = pd.to_datetime(t[comp_t])
    res.composite = {"rgb": np.clip(np.moveaxis(comp.rgb.values, 0, -1) / 0.3, 0, 1),
                     "fvc": comp.fvc.values, "transform": grid.transform, "epsg": epsg,
                     "period": f"{ct.min():%Y-%m-%d}/{ct.max():%Y-%m-%d}"}
    res.units_utm = units_utm
    if plan is not None:
        for u in plan.units:
            th = thresholds.lookup(u.land_class, s.assess.region) if u.land_class else None
            if th is not None and th.measure == "fvc":
                res.thresholds[unit_key(u)] = th.min

    if plan is not None:
        a, u = assess_units(right, plan, res.series, thresholds, as_of=as_of,
                            season_mmdd=(s.assess.season_start, s.assess.season_end),
                            min_clear_obs=s.assess.min_clear_obs,
                            min_clear_fraction=s.assess.min_clear_fraction,
                            region=s.assess.region, area_of=coords.area_hm2)
        res.anomalies += a
        res.unjudged += u

    if as_of >= season.end and base_t.any() and cur_t.any():
        res.anomalies += undeclared_disturbance(right, plan, plan_year, grid, boundary_utm, units_utm,
                                                base_nd, base_cl, cur_nd, cur_cl,
                                                [str(i) for i in idx.id.values[cur_t]], season, epsg, s)
    return res


def undeclared_disturbance(right, plan, plan_year, grid, boundary_utm, units_utm,
                           base_nd, base_cl, cur_nd, cur_cl, cur_ids, season, epsg, s) -> list[Anomaly]:
    """Loss inside the boundary and outside every unit the plan declares."""
    cfg = s.assess.disturbance
    h, w = grid.shape
    inside = rasterize([(boundary_utm, 1)], out_shape=(h, w), transform=grid.transform,
                       fill=0, dtype="uint8").astype(bool)
    declared = np.zeros((h, w), bool)
    if units_utm:
        declared = rasterize([(g, 1) for g in units_utm.values()], out_shape=(h, w),
                             transform=grid.transform, fill=0, all_touched=True, dtype="uint8").astype(bool)
    confirmed, base, loss_obs = loss_mask(base_nd.values, base_cl.values, cur_nd.values, cur_cl.values, cfg)
    patches = loss_patches(confirmed, inside & ~declared, base, cur_nd.values, cur_cl.values, loss_obs,
                           cur_ids, grid.transform, grid.resolution ** 2, cfg)
    to_geo = Transformer.from_crs(epsg, 4490, always_xy=True).transform
    out = []
    for p in patches:
        g = shp_transform(to_geo, p.geometry_utm)
        c = p.geometry_utm.centroid
        out.append(Anomaly(
            type="UNDECLARED_DISTURBANCE", severity="high", license_no=right.license_no,
            mine_name=right.mine_name, plan_year=plan_year, geometry=g, area_hm2=coords.area_hm2(g),
            period=season.label,
            observed={"ndvi_baseline": p.baseline_ndvi, "ndvi_current": p.current_ndvi,
                      "clear_observations": p.loss_observations, "pixels": p.n_px},
            expected={"rule": "no vegetation loss outside declared units",
                      "ndvi_drop_min": cfg.ndvi_drop, "bare_ndvi_max": cfg.bare_ndvi,
                      "min_clear_obs": cfg.min_clear_obs, "min_area_hm2": cfg.min_area_hm2,
                      "baseline_period": f"{season.start.replace(year=season.start.year - 1)}/"
                                         f"{season.end.replace(year=season.end.year - 1)}",
                      "source": "same-season baseline; minimum mapping unit as GFW alerts (0.2 ha)"},
            evidence_scenes=p.scenes, key=f"loss@{round(c.x, -2):.0f},{round(c.y, -2):.0f}",
            notes_zh="边界内出现未在年度计划中申报的植被损毁，需核实并修编方案"))
    return out
