"""Per-mine inspection report: one self-contained Chinese HTML file (optionally PDF).

Everything is inline: CSS in a <style> block, images as base64 PNG, no scripts, no
external fonts or links, so the file opens offline and can be mailed or archived as is.
Charts use matplotlib with Noto Sans CJK (Debian fonts-noto-cjk); without it Chinese
would come out as boxes, so rendering stops with a clear error instead.

Contents: header from the annual plan (采矿权人, 证号, 矿山名称, 有效期限, 计划年度), true
colour and FVC maps (units outlined and labelled by 序号, findings in red labelled A1, A2 … as
in the tables; scale bar, north arrow, lon/lat ticks), where each anomaly is (its GeoJSON id,
centroid in CGCS2000 lon/lat and 3° Gauss-Krüger X/Y, nearest licence corner, datum note), the
evidence with Chinese field labels (`minewatch.labels.FIELDS`; English keys only as small
secondary text), one FVC chart per unit as the assessment sees it (threshold, the reference
ring's series, clear dates filled, the season window shaded), and the units that could not be
judged; with the unit ledger, each unit's timeline across plan years (planned, reported
restored, accepted, seasons observed against the threshold) as one chart and a table.
Printed (or `pdf.html_to_pdf`) it is A4 portrait with a header and page numbers, and no
table row is split across pages.
"""
from __future__ import annotations

import base64
import html
import io
import math
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
import pandas as pd
import shapely
from matplotlib import font_manager, rc_context
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath
from pyproj import Transformer
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from minewatch.assess.reference import REFERENCE
from minewatch.labels import CONFIDENCE_ZH, FIELDS, RULES_ZH, UNIT_STATE_ZH, VALUES_ZH, YES_NO_ZH
from minewatch.ledger.events import ACCEPTANCE, MENTION, SEASON, UnitEvent
from minewatch.outputs.lifecycle import STATUS_ZH
from minewatch.outputs.navigation import DATUM_NOTE_ZH, Location, locate, mine_zone_epsg, report_order
from minewatch.outputs.pdf import html_to_pdf
from minewatch.plumbing.atomic import write_text

if TYPE_CHECKING:
    from affine import Affine
    from matplotlib.axes import Axes

    from minewatch.promised.models import AnnualPlan, MiningRight
__all__ = ["LOSS_TYPES", "MineReportData", "ReportUnit", "anomaly_label", "cjk_font", "locator_png", "pair_stretch",
           "pair_window", "render_html", "render_report", "scene_date", "stretched"]

SECTION_ZH = {"restored": "上年度已修复", "damage": "现状损毁", "planned": "本年度计划"}
SECTION_ORDER = {"planned": 0, "restored": 1, "damage": 2}
COUNTY_EDGE = "#5b2a86"          # the county outline on the locator map (dark violet: not a finding's red)
CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK TC", "Noto Sans CJK JP", "Noto Sans CJK HK", "Noto Sans CJK KR")


def cjk_font() -> str:
    """Family name of an installed Noto Sans CJK font, or a clear error."""
    names = {f.name for f in font_manager.fontManager.ttflist}
    for fam in CJK_FAMILIES:
        if fam in names:
            return fam
    raise RuntimeError("Noto Sans CJK not found by matplotlib: install Debian package fonts-noto-cjk "
                       "(then delete ~/.cache/matplotlib so the font list is rebuilt)")


@dataclass(frozen=True)
class ReportUnit:
    key: str                       # "planned:2" (assess.rules.unit_key): matches series.unit
    section: str                   # restored | damage | planned
    seq: int                       # 序号
    geometry: BaseGeometry         # in the raster CRS (`MineReportData.epsg`)
    land_class: str = ""
    label: str = ""                # drawn on the map; defaults to the 序号

    @property
    def text(self) -> str:
        return self.label or str(self.seq)


@dataclass
class MineReportData:
    """What one mine's report shows. Arrays are (rows, cols) on the grid `transform`/`epsg`."""
    license_no: str                # 采矿权证证号
    holder: str                    # 采矿权人名称
    mine_name: str                 # 矿山名称
    validity: str                  # 采矿权有效期限 as written
    plan_year: int
    rgb: np.ndarray                # (H, W, 3) float 0..1, NaN = no data
    fvc: np.ndarray                # (H, W) float 0..1, NaN = no data
    transform: Affine              # (a, b, c, d, e, f); north-up
    epsg: int
    units: list[ReportUnit] = field(default_factory=list)
    anomalies: list[dict] = field(default_factory=list)    # GeoJSON features (lon/lat)
    series: pd.DataFrame | None = None     # unit, datetime, fvc_mean, clear_fraction
    thresholds: dict[str, float] = field(default_factory=dict)   # unit key -> FVC minimum
    unjudged: list[dict] | pd.DataFrame = field(default_factory=list)  # unit, reason, reason_zh, n_clear
    reference: pd.DataFrame | None = None  # unit, datetime, fvc_mean of the ring around each unit
    image_date: str = ""           # date (or period) of the images shown
    run_date: date | None = None
    min_clear_fraction: float = 0.0        # dates below it are drawn hollow (not used by the rules)
    scene_dates: dict[str, str] = field(default_factory=dict)  # scene id -> YYYY-MM-DD
    notes: list[str] = field(default_factory=list)          # extra lines for 说明
    boundary: BaseGeometry | None = None   # licence boundary, EPSG:4490: the zone and the nearest corner
    season: tuple[date, date] | None = None  # the assessment season, shaded on the charts
    # the unit ledger's view of this mine (outputs.unit_history.LedgerView): its units' events
    # across plan years, their lifecycle states and each unit's FVC minimum; empty: no timeline
    timeline: list[UnitEvent] = field(default_factory=list)
    unit_states: dict[str, str] = field(default_factory=dict)
    timeline_fvc_min: dict[str, float] = field(default_factory=dict)
    # before/after pairs of loss anomalies: median red/green/blue reflectance (H, W, 3), unstretched,
    # of the nearest baseline season and of this season, on the same grid (None: no pairs)
    before_rgb: np.ndarray | None = None
    after_rgb: np.ndarray | None = None
    before_period: str = ""
    pair_margin_m: float = 150.0           # around an anomaly's bbox in its pair
    county_code: str = ""                  # XZQDM of the licence, on the locator map
    county_name: str = ""                  # XZQMC when known (`report.county_names`)
    locator_frame_m: float = 25_000.0      # side of the locator map's square frame (at least, with a county)
    # the county's polygon, EPSG:4490 (outputs.counties, from `report.county_boundaries`); None: not drawn
    county_outline: BaseGeometry | None = None

    @classmethod
    def from_plan(cls, plan: AnnualPlan, right: MiningRight | None = None, **kw: Any) -> "MineReportData":
        """Header fields from an AnnualPlan (validity from the MiningRight when the plan lacks it)."""
        validity = plan.validity or (f"{right.valid_from.isoformat()} 至 {right.valid_to.isoformat()}" if right else "")
        return cls(license_no=plan.license_no, holder=plan.holder, mine_name=plan.mine_name,
                   validity=validity, plan_year=plan.plan_year, **kw)


# ---------------------------------------------------------------- figures

def _png(fig: Figure, dpi: int = 100) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _extent(transform: Affine, shape_hw: tuple[int, ...]) -> tuple[float, float, float, float]:
    h, w = shape_hw
    if abs(transform.b) > 1e-12 or abs(transform.d) > 1e-12:
        raise ValueError("rotated grids are not supported; give a north-up transform")
    x0, y0 = transform.c, transform.f
    return (x0, x0 + transform.a * w, y0 + transform.e * h, y0)


def _patch(geom: BaseGeometry, **kw: Any) -> PathPatch:
    verts, codes = [], []
    polys = geom.geoms if hasattr(geom, "geoms") else [geom]
    for p in polys:
        for ring in [p.exterior, *p.interiors]:
            xy = np.asarray(ring.coords)[:, :2]
            verts += xy.tolist()
            codes += [MplPath.MOVETO] + [MplPath.LINETO] * (len(xy) - 2) + [MplPath.CLOSEPOLY]
    return PathPatch(MplPath(verts, codes), **kw)


def _anomaly_geoms(data: MineReportData, anomalies: list[dict]) -> list[BaseGeometry]:
    """The anomalies' geometries (GeoJSON lon/lat) in the raster CRS, in table order."""
    if data.epsg in (4326, 4490):
        to = None
    else:
        to = Transformer.from_crs(4490, data.epsg, always_xy=True).transform
    out = []
    for f in anomalies:
        g = shape(f["geometry"])
        out.append(shapely.transform(g, lambda x, y: to(x, y), interleaved=False) if to else g)
    return out


def anomaly_label(i: int) -> str:
    """The label of the i-th anomaly (1-based) on the map and in the tables."""
    return f"A{i}"


def _nice_length(span_m: float) -> float:
    """A round scale-bar length near a fifth of the map width (1, 2 or 5 x 10^n m)."""
    target = span_m / 5.0
    exp = 10 ** math.floor(math.log10(target))
    return max(m * exp for m in (1, 2, 5) if m * exp <= target)


def _scale_bar(ax: Axes, extent: tuple[float, float, float, float]) -> None:
    x0, x1, y0, y1 = extent
    length = _nice_length(x1 - x0)
    bx, by = x0 + 0.04 * (x1 - x0), y0 + 0.05 * (y1 - y0)
    h = 0.012 * (y1 - y0)
    for k, colour in enumerate(("black", "white")):       # two halves, as on topographic maps
        ax.add_patch(matplotlib.patches.Rectangle((bx + k * length / 2, by), length / 2, h, facecolor=colour,
                                                  edgecolor="black", linewidth=0.8))
    text = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(bx + length / 2, by + 2.2 * h, text, ha="center", va="bottom", fontsize=8,
            bbox=dict(boxstyle="round,pad=0.1", facecolor="white", alpha=0.7, linewidth=0))


def _north_arrow(ax: Axes) -> None:
    # grids are north-up UTM: grid north is within a degree or two of true north here
    ax.annotate("北 N", xy=(0.94, 0.95), xytext=(0.94, 0.80), xycoords="axes fraction", ha="center", va="top",
                fontsize=9, fontweight="bold", arrowprops=dict(facecolor="black", width=3, headwidth=9, headlength=9),
                bbox=dict(boxstyle="round,pad=0.1", facecolor="white", alpha=0.7, linewidth=0))


def _nice_step(span_deg: float) -> float:
    for step in (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0):
        if span_deg / step <= 5:
            return step
    return 1.0


def _edge_ticks(a: float, b: float) -> np.ndarray:
    step = _nice_step(b - a)
    return np.arange(math.ceil(a / step) * step, b, step)


def _lonlat_ticks(ax: Axes, extent: tuple[float, float, float, float], epsg: int) -> None:
    """Lon/lat ticks on the bottom and left edges of a projected map (exact on the edges)."""
    x0, x1, y0, y1 = extent
    if epsg in (4326, 4490):
        return
    to_ll = Transformer.from_crs(epsg, 4490, always_xy=True)
    to_xy = Transformer.from_crs(4490, epsg, always_xy=True)
    lon0, lat0 = to_ll.transform(x0, y0)            # the bottom-left corner: both edges start here
    lons = _edge_ticks(lon0, to_ll.transform(x1, y0)[0])
    lats = _edge_ticks(lat0, to_ll.transform(x0, y1)[1])
    ax.set_xticks([to_xy.transform(lo, lat0)[0] for lo in lons], [f"{lo:.3f}°E" for lo in lons], fontsize=7)
    ax.set_yticks([to_xy.transform(lon0, la)[1] for la in lats], [f"{la:.3f}°N" for la in lats], fontsize=7)


def _map_png(data: MineReportData, anomalies: list[dict], font: str) -> str:
    extent = _extent(data.transform, data.fvc.shape)
    rgb = np.clip(np.nan_to_num(np.asarray(data.rgb, dtype=float), nan=0.0), 0, 1)
    geoms = _anomaly_geoms(data, anomalies)
    with rc_context({"font.family": [font], "axes.unicode_minus": False}):
        fig = Figure(figsize=(12, 5.8))
        axes = fig.subplots(1, 2)
        axes[0].imshow(rgb, extent=extent, interpolation="nearest")
        cmap = matplotlib.colormaps["YlGn"].with_extremes(bad="#d9d9d9")
        im = axes[1].imshow(np.ma.masked_invalid(data.fvc), extent=extent, cmap=cmap, vmin=0, vmax=1,
                            interpolation="nearest")
        fig.colorbar(im, ax=axes[1], fraction=0.046, pad=0.02, label="植被覆盖度")
        for ax, title, edge in ((axes[0], "真彩色影像", "#ffd400"), (axes[1], "植被覆盖度", "#1f3b73")):
            for u in data.units:
                ax.add_patch(_patch(u.geometry, facecolor="none", edgecolor=edge, linewidth=1.4,
                                    linestyle="--" if u.section == "damage" else "-"))
                p = u.geometry.representative_point()
                ax.text(p.x, p.y, u.text, ha="center", va="center", fontsize=9, color="black",
                        bbox=dict(boxstyle="round,pad=0.15", facecolor="white", alpha=0.8, linewidth=0))
            for i, g in enumerate(geoms, 1):
                ax.add_patch(_patch(g, facecolor=(1, 0, 0, 0.35), edgecolor="red", linewidth=2.0))
                b = g.bounds
                ax.text(b[2], b[3], anomaly_label(i), ha="left", va="bottom", fontsize=9, color="white",
                        fontweight="bold", bbox=dict(boxstyle="round,pad=0.15", facecolor="#b00000", linewidth=0))
            ax.set_title(title + (f"  {data.image_date}" if data.image_date else ""))
            ax.set_xlim(extent[0], extent[1])
            ax.set_ylim(extent[2], extent[3])
            _lonlat_ticks(ax, extent, data.epsg)
            _scale_bar(ax, extent)
            _north_arrow(ax)
            ax.set_xlabel("红色 A1…: 异常图斑 (编号同下表)  黄/蓝框: 修复单元 (数字为序号, 虚线为损毁区)", fontsize=8)
        return _png(fig, dpi=90)


# vegetation lost since the baseline: shown as before/after pairs
LOSS_TYPES = ("UNDECLARED_DISTURBANCE", "OUT_OF_BOUNDARY_DISTURBANCE", "DAMAGE_EXCEEDS_DECLARED",
              "VEGETATION_DEGRADATION", "RESTORED_LAND_REDISTURBED")


def _graticule(ax: Axes, extent: tuple[float, float, float, float], epsg: int) -> None:
    """Lon/lat lines across a projected map (curved as they are), labelled by `_lonlat_ticks`."""
    x0, x1, y0, y1 = extent
    to_ll = Transformer.from_crs(epsg, 4490, always_xy=True)
    to_xy = Transformer.from_crs(4490, epsg, always_xy=True)
    lon_a, lat_a, lon_b, lat_b = to_ll.transform_bounds(x0, y0, x1, y1, densify_pts=21)
    along = np.linspace(0, 1, 50)
    for lo in _edge_ticks(lon_a, lon_b):
        ax.plot(*to_xy.transform(np.full(50, lo), lat_a + along * (lat_b - lat_a)), color="#8a8a8a", linewidth=0.6)
    for la in _edge_ticks(lat_a, lat_b):
        ax.plot(*to_xy.transform(lon_a + along * (lon_b - lon_a), np.full(50, la)), color="#8a8a8a", linewidth=0.6)


# the licence and the county outline in the raster CRS, and the locator map's (x0, x1, y0, y1)
LocatorFrame = tuple[BaseGeometry, BaseGeometry | None, tuple[float, float, float, float]]


def _locator_frame(data: MineReportData) -> LocatorFrame | None:
    """The licence and the county outline in the raster CRS, and the locator map's square: centred on
    the licence with side `locator_frame_m`, or, with a county outline, on the county and large
    enough to hold it whole (and the licence) with a margin. None without a boundary."""
    if data.boundary is None or data.boundary.is_empty or data.epsg in (4326, 4490):
        return None
    to = Transformer.from_crs(4490, data.epsg, always_xy=True).transform
    b = shapely.transform(data.boundary, lambda x, y: to(x, y), interleaved=False)
    county = (shapely.transform(data.county_outline, lambda x, y: to(x, y), interleaved=False)
              if data.county_outline is not None and not data.county_outline.is_empty else None)
    if county is None:
        c, side = b.centroid, data.locator_frame_m
    else:
        x0, y0, x1, y1 = shapely.union_all([b.envelope, county.envelope]).bounds
        c = shapely.Point((x0 + x1) / 2, (y0 + y1) / 2)
        side = max(data.locator_frame_m, 1.08 * max(x1 - x0, y1 - y0))     # 4% margin each side
    half = side / 2
    return b, county, (c.x - half, c.x + half, c.y - half, c.y + half)


def _side_km(frame: LocatorFrame) -> float:
    """The locator map's side in km, to 4 significant figures as printed."""
    x0, x1 = frame[2][:2]
    return float(f"{(x1 - x0) / 1000:.4g}")


def locator_png(data: MineReportData, font: str, frame: LocatorFrame | None = None) -> str | None:
    """The mine in its surroundings: the licence boundary and the image map's frame in a square
    around the licence (`_locator_frame`, unless given), graticule, scale bar, north arrow, county
    code/name, and the county's outline with its name when `county_outline` is given. None without
    a boundary."""
    frame = frame or _locator_frame(data)
    if frame is None:
        return None
    b, county_geom, extent = frame
    c = b.centroid
    img = _extent(data.transform, data.fvc.shape)
    lon, lat = Transformer.from_crs(data.epsg, 4490, always_xy=True).transform(c.x, c.y)
    county = " ".join(x for x in (data.county_name, f"(县级代码 {data.county_code})" if data.county_code else "") if x)
    side_km = _side_km(frame)
    with rc_context({"font.family": [font], "axes.unicode_minus": False}):
        fig = Figure(figsize=(5.2, 5.2))
        ax = fig.subplots()
        ax.set_facecolor("#f4f1ea")
        _graticule(ax, extent, data.epsg)
        if county_geom is not None:     # under the licence: the county's land lighter, its border dark violet
            ax.add_patch(_patch(county_geom, facecolor="#fffdf7", edgecolor=COUNTY_EDGE, linewidth=2.0,
                                label=f"县界 {data.county_name}".rstrip()))
            if data.county_name:
                p = county_geom.representative_point()
                ax.text(p.x, p.y, data.county_name, ha="center", va="center", fontsize=11, color=COUNTY_EDGE,
                        fontweight="bold", bbox=dict(boxstyle="round,pad=0.2", facecolor="white", alpha=0.75,
                                                     linewidth=0))
        ax.add_patch(matplotlib.patches.Rectangle((img[0], img[2]), img[1] - img[0], img[3] - img[2],
                                                  facecolor="none", edgecolor="#1f3b73", linestyle="--",
                                                  linewidth=1.0, label="影像图范围"))
        ax.add_patch(_patch(b, facecolor=(1, 0, 0, 0.5), edgecolor="#b00000", linewidth=1.2, label="矿区范围"))
        ax.plot([c.x], [c.y], marker="*", markersize=14, color="#b00000", markeredgecolor="white", linestyle="none",
                label=f"矿区中心 {lon:.4f}°E {lat:.4f}°N")
        ax.set_xlim(extent[0], extent[1])
        ax.set_ylim(extent[2], extent[3])
        ax.set_aspect("equal")
        _lonlat_ticks(ax, extent, data.epsg)
        _scale_bar(ax, extent)
        _north_arrow(ax)
        ax.legend(fontsize=7, loc="upper left", framealpha=0.8)
        ax.set_title(f"位置示意图  {county}".rstrip(), fontsize=10)
        drawn = "县界取自行政区划图层" if county_geom is not None else "无县界底图, 仅示矿界、影像图范围与经纬网"
        ax.set_xlabel(f"范围 {side_km:g} km × {side_km:g} km; {drawn}", fontsize=7)
        return _png(fig, dpi=90)


def pair_stretch(before: np.ndarray, after: np.ndarray) -> tuple[float, float]:
    """One linear stretch for both images of a pair: the 2nd and 98th percentiles of every
    finite value of both (all three bands), so equal reflectance shows as equal colour."""
    v = np.concatenate([np.asarray(before, float).ravel(), np.asarray(after, float).ravel()])
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 0.0, 0.3
    lo, hi = (float(x) for x in np.percentile(v, [2, 98]))
    return lo, hi if hi > lo else lo + 1e-3


def stretched(rgb: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """(H, W, 3) reflectance to 0..1 display values (no data grey)."""
    out = np.clip((np.asarray(rgb, float) - lo) / (hi - lo), 0, 1)
    return np.where(np.isfinite(out), out, 0.85)


def pair_window(geom: BaseGeometry, transform: Affine, shape_hw: tuple[int, ...],
                margin_m: float) -> tuple[slice, slice]:
    """Rows and columns of the grid around `geom` (raster CRS) plus `margin_m`, inside the grid."""
    x0, y0, x1, y1 = geom.bounds
    h, w = shape_hw
    c0 = max(0, math.floor((x0 - margin_m - transform.c) / transform.a))
    c1 = min(w, math.ceil((x1 + margin_m - transform.c) / transform.a))
    r0 = max(0, math.floor((y1 + margin_m - transform.f) / transform.e))
    r1 = min(h, math.ceil((y0 - margin_m - transform.f) / transform.e))
    return slice(r0, max(r1, r0 + 1)), slice(c0, max(c1, c0 + 1))


def _pair_png(data: MineReportData, geom: BaseGeometry, label: str, aid: str, font: str) -> str:
    assert data.before_rgb is not None and data.after_rgb is not None
    rows, cols = pair_window(geom, data.transform, data.fvc.shape, data.pair_margin_m)
    before, after = data.before_rgb[rows, cols], data.after_rgb[rows, cols]
    lo, hi = pair_stretch(before, after)
    t = data.transform
    x0, y0 = t.c + cols.start * t.a, t.f + rows.start * t.e
    extent = (x0, x0 + before.shape[1] * t.a, y0 + before.shape[0] * t.e, y0)
    with rc_context({"font.family": [font], "axes.unicode_minus": False}):
        fig = Figure(figsize=(10, 4.6))
        for ax, img, title in zip(fig.subplots(1, 2), (before, after),
                                  (f"基期 {data.before_period}", f"本期 {data.image_date}")):
            ax.imshow(stretched(img, lo, hi), extent=extent, interpolation="nearest")
            ax.add_patch(_patch(geom, facecolor="none", edgecolor="red", linewidth=2.0))
            b = geom.bounds
            ax.text(b[2], b[3], label, ha="left", va="bottom", fontsize=9, color="white", fontweight="bold",
                    bbox=dict(boxstyle="round,pad=0.15", facecolor="#b00000", linewidth=0))
            ax.set_title(title, fontsize=10)
            ax.set_xlim(extent[0], extent[1])
            ax.set_ylim(extent[2], extent[3])
            _lonlat_ticks(ax, extent, data.epsg)
            _scale_bar(ax, extent)
            _north_arrow(ax)
        fig.suptitle(f"{label} 前后对比 (真彩色, 两幅同一拉伸 {lo:.3f}–{hi:.3f})  编号 {aid}", fontsize=9)
        return _png(fig, dpi=80)


def _pairs_html(data: MineReportData, anomalies: list[dict], font: str) -> list[str]:
    """Before/after true-colour pairs of the loss anomalies, in table order (A-labels as there)."""
    if data.before_rgb is None or data.after_rgb is None:
        return []
    geoms = _anomaly_geoms(data, anomalies)
    h = []
    for i, (f, g) in enumerate(zip(anomalies, geoms), 1):
        if f["properties"].get("type") not in LOSS_TYPES:
            continue
        aid = str(f.get("id") or f["properties"].get("id") or "")
        lab = anomaly_label(i)
        png = _pair_png(data, g, lab, aid, font)
        h.append(f'<div class="chart pair" data-anomaly-id="{_e(aid)}"><h3>{lab} 前后对比</h3>'
                 f'<img alt="{lab} 基期与本期真彩色对比" src="data:image/png;base64,{png}">'
                 f'<p class="muted">左: 基期 {_e(data.before_period)}; 右: 本期 {_e(data.image_date)}; '
                 f"红框为异常图斑 {lab}, 范围外扩 {data.pair_margin_m:g} m。</p></div>")
    return h


def _reference_rows(data: MineReportData, unit_key_: str) -> pd.DataFrame | None:
    """The ring's series for a unit: the mine's ring (unit REFERENCE in the series frame) or
    a per-unit ring given in `data.reference`."""
    if data.reference is not None and not data.reference.empty:
        r = data.reference[data.reference["unit"].isin([unit_key_, REFERENCE])]
        if not r.empty:
            return r.sort_values("datetime")
    if data.series is not None and "unit" in data.series:
        r = data.series[data.series["unit"] == REFERENCE]
        if not r.dropna(subset=["fvc_mean"]).empty:
            return r.sort_values("datetime")
    return None


def _unit_chart_png(data: MineReportData, unit: ReportUnit, s: pd.DataFrame, ref: pd.DataFrame | None,
                    font: str) -> str:
    with rc_context({"font.family": [font], "axes.unicode_minus": False}):
        fig = Figure(figsize=(10, 3.0))
        ax = fig.subplots()
        if data.season is not None:      # every year's season window in the span shown
            t_all = pd.to_datetime(s["datetime"])
            for year in range(t_all.min().year, t_all.max().year + 1):
                a = pd.Timestamp(data.season[0].replace(year=year), tz=t_all.dt.tz)
                b = pd.Timestamp(data.season[1].replace(year=year), tz=t_all.dt.tz)
                ax.axvspan(a, b, color="#fff0b3", alpha=0.7, linewidth=0,
                           label="评估季" if year == t_all.max().year else None)
        t = pd.to_datetime(s["datetime"])
        y = s["fvc_mean"].astype(float)
        ok = s["clear_fraction"].astype(float) >= data.min_clear_fraction
        ax.plot(t, y, color="#2c7a3f", linewidth=1, alpha=0.6)
        ax.plot(t[ok], y[ok], "o", color="#2c7a3f", markersize=4, label="晴空日期 (计入判定)")
        if (~ok).any():
            ax.plot(t[~ok], y[~ok], "o", markerfacecolor="none", color="#2c7a3f", markersize=4,
                    label="云量过多 (未计入)")
        if ref is not None and not ref.empty:
            ax.plot(pd.to_datetime(ref["datetime"]), ref["fvc_mean"].astype(float), "-", color="#555555",
                    linewidth=1.2, label="周边参照环")
        thr = data.thresholds.get(unit.key)
        if thr is not None:
            ax.axhline(thr, color="red", linestyle="--", linewidth=1.2, label=f"要求下限 {thr:.2f}")
        ax.set_ylim(0, 1)
        ax.set_ylabel("植被覆盖度")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", ncol=5, frameon=False)
        fig.autofmt_xdate()
        return _png(fig, dpi=90)


# ---------------------------------------------------------------- html

def _e(x: object) -> str:
    return html.escape("" if x is None else str(x))


def _fmt_value(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.4f}".rstrip("0").rstrip(".") if abs(v) < 1e6 else f"{v:.1f}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_fmt_value(x) for x in v)
    return str(v)


def _code(key: str) -> str:
    """An English key or code as secondary text (small, grey; `.code` in the CSS)."""
    return f'<span class="code">{_e(key)}</span>'


def _value_html(v: object) -> str:
    if isinstance(v, bool):
        return _e(YES_NO_ZH[v])
    if isinstance(v, str) and v in VALUES_ZH:
        return f"{_e(VALUES_ZH[v])} {_code(v)}"
    return _e(_fmt_value(v))


def fields_html(d: dict | None, anomaly_type: str = "") -> str:
    """Observed/expected as `中文标签: 值 单位` lines, the English key as secondary text.

    The machine's `rule` text is replaced by the plain-language rule of the anomaly type
    (`labels.RULES_ZH`), the original kept as secondary text."""
    if not d:
        return "—"
    if not isinstance(d, dict):
        return _e(d)
    lines = []
    for k, v in d.items():
        if v is None:
            continue
        lab = FIELDS.get(k)
        name = lab.zh if lab else "其他"
        unit = f" {lab.unit}" if lab and lab.unit and not isinstance(v, (str, bool)) else ""
        if k == "rule" and anomaly_type in RULES_ZH:
            val = f"{_e(RULES_ZH[anomaly_type])} {_code(str(v))}"
        else:
            val = _value_html(v)
        title = f' title="{_e(lab.rule)}"' if lab and lab.rule else ""
        lines.append(f'<span class="lbl"{title}>{_e(name)}</span>: {val}{_e(unit)} {_code(k)}')
    return "<br>".join(lines) or "—"


_DATE_IN_ID = re.compile(r"(20\d{2})(\d{2})(\d{2})")


def scene_date(scene_id: str, known: dict[str, str] | None = None) -> str:
    if known and scene_id in known:
        return known[scene_id]
    m = _DATE_IN_ID.search(scene_id)
    return f"{m.group(1)}-{m.group(2)}-{m.group(3)}" if m else ""


def _unit_name(key: str, units: dict[str, ReportUnit]) -> str:
    u = units.get(key)
    if u is not None:
        return f"{SECTION_ZH.get(u.section, u.section)} 序号{u.seq}"
    if ":" in key:
        sec, seq = key.split(":", 1)
        return f"{SECTION_ZH.get(sec, sec)} 序号{seq}"
    return key


CSS = """
body{font-family:"Noto Sans CJK SC","Noto Sans SC","Microsoft YaHei","PingFang SC",sans-serif;margin:24px auto;
max-width:1160px;color:#1a1a1a;background:#fff;font-size:14px;line-height:1.5}
h1{font-size:22px;border-bottom:3px solid #1f3b73;padding-bottom:6px}
h2{font-size:17px;color:#1f3b73;margin-top:28px;border-left:5px solid #1f3b73;padding-left:8px;break-after:avoid}
h3{font-size:15px;margin:14px 0 4px;break-after:avoid}
table{border-collapse:collapse;width:100%;margin:8px 0}
th,td{border:1px solid #b7c0cc;padding:4px 6px;vertical-align:top;text-align:left}
th{background:#e8edf4}
thead{display:table-header-group}
tr,img,.chart,.sum{break-inside:avoid;page-break-inside:avoid}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.head th{width:16%}
.sum{background:#fff4e5;border:1px solid #f0b46a;padding:8px 12px;margin:10px 0}
.sev-high{color:#b00000;font-weight:bold}
.muted{color:#666;font-size:12px}
.code{color:#888;font-size:10px;font-family:monospace}
.lbl{font-weight:bold}
.aid{font-family:monospace;font-size:10px;word-break:break-all}
img{max-width:100%}
.chart{margin-bottom:10px}
@page{size:A4 portrait;margin:16mm 10mm 14mm 10mm;
@top-left{content:var(--head);font-size:9px;color:#555}
@bottom-right{content:"第 " counter(page) " 页 / 共 " counter(pages) " 页";font-size:9px;color:#555}}
@media print{body{margin:0;max-width:none;font-size:11px}h1{font-size:18px}h2{font-size:14px}
td,th{padding:2px 4px}}
"""


def _css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _page_css(data: MineReportData) -> str:
    """The print header (mine, licence, night) for the @page margin box of this report."""
    night = data.run_date.isoformat() if data.run_date else ""
    head = f"{data.mine_name} {data.license_no} 核查日期 {night}"
    # margin boxes do not see custom properties in every engine: write the string in place
    return CSS.replace("var(--head)", _css_string(head)).replace("</", "<\\/")


def _sorted_anomalies(data: MineReportData) -> list[dict]:
    return sorted(data.anomalies, key=report_order)


def _locations(data: MineReportData, anomalies: list[dict]) -> list[Location]:
    if not anomalies:
        return []
    first = shape(anomalies[0]["geometry"]).centroid.x
    epsg = mine_zone_epsg(data.boundary, first)
    return [locate(f["geometry"], data.boundary, epsg) for f in anomalies]


def _location_table(anomalies: list[dict], locs: list[Location], units: dict[str, ReportUnit]) -> list[str]:
    zone = locs[0].gk_epsg
    h = ["<table><thead><tr><th>编号</th><th>异常类型</th><th>严重程度 / 可信度 / 状态</th><th>单元</th>"
         "<th>面积(hm²)</th><th>中心点经纬度 (CGCS2000)</th>"
         f"<th>中心点 X / Y (3度带 EPSG:{zone})</th><th>最近矿界拐点</th></tr></thead><tbody>"]
    for i, (f, loc) in enumerate(zip(anomalies, locs), 1):
        p = f["properties"]
        sec, seq = p.get("unit_section"), p.get("unit_seq")
        unit = _unit_name(f"{sec}:{seq}", units) if seq is not None else "—"
        sev = p.get("severity", "")
        aid = str(f.get("id") or p.get("id") or "")
        status = STATUS_ZH.get(p.get("status", ""), "")
        h.append(f'<tr data-anomaly-id="{_e(aid)}"><td><b>{anomaly_label(i)}</b><br>'
                 f'<span class="aid" title="GeoJSON id">{_e(aid)}</span></td>'
                 f"<td>{_e(p.get('type_zh') or p.get('type'))}<br>{_code(p.get('type', ''))}</td>"
                 f'<td><span class="sev-{_e(sev)}">{_e(p.get("severity_zh") or sev)}</span> / '
                 f"{_e(CONFIDENCE_ZH.get(p.get('confidence', ''), ''))}"
                 f"{' / ' + _e(status) if status else ''}</td><td>{_e(unit)}</td>"
                 f'<td class="num">{float(p.get("area_hm2") or 0):.4f}</td>'
                 f'<td class="num" data-lon="{loc.lon:.6f}" data-lat="{loc.lat:.6f}">'
                 f"{loc.lon:.6f}°E<br>{loc.lat:.6f}°N</td>"
                 f'<td class="num" data-x="{loc.x:.2f}" data-y="{loc.y:.2f}">X {loc.x:.2f}<br>Y {loc.y:.2f}</td>'
                 f"<td>{_e(loc.corner_text)}</td></tr>")
    h.append("</tbody></table>")
    h.append(f'<p class="muted">{_e(DATUM_NOTE_ZH)}</p>')
    return h


def _evidence_table(data: MineReportData, anomalies: list[dict]) -> list[str]:
    h = ["<table><thead><tr><th>编号</th><th>目标地类</th><th>观测值</th><th>应达值与判定规则</th>"
         "<th>证据影像 (日期)</th><th>说明</th></tr></thead><tbody>"]
    for i, f in enumerate(anomalies, 1):
        p = f["properties"]
        kind = p.get("type", "")
        ev = "<br>".join(f"{_e(s)} ({_e(scene_date(s, data.scene_dates))})" for s in p.get("evidence_scenes", []))
        rule = RULES_ZH.get(kind, "")
        h.append(f"<tr><td><b>{anomaly_label(i)}</b></td><td>{_e(p.get('target_land_class') or '—')}</td>"
                 f"<td>{fields_html(p.get('observed'), kind)}</td>"
                 f"<td>{'<b>规则</b>: ' + _e(rule) + '<br>' if rule else ''}{fields_html(p.get('expected'), kind)}</td>"
                 f"<td>{ev or '—'}</td><td>{_e(p.get('notes_zh') or '')}</td></tr>")
    h.append("</tbody></table>")
    return h


def render_html(data: MineReportData) -> str:
    font = cjk_font()
    units = {u.key: u for u in data.units}
    ordered = sorted(data.units, key=lambda u: (SECTION_ORDER.get(u.section, 9), u.seq))
    unj = data.unjudged.to_dict("records") if isinstance(data.unjudged, pd.DataFrame) else list(data.unjudged)
    anomalies = _sorted_anomalies(data)
    title = f"{_e(data.mine_name)} {data.plan_year}年度矿区生态修复遥感核查报告"
    h = ["<!DOCTYPE html>", '<html lang="zh-CN"><head><meta charset="utf-8">',
         f"<title>{title}</title>",
         f"<style>{_page_css(data)}</style></head><body>",
         f"<h1>{title}</h1>",
         '<table class="head">',
         f"<tr><th>采矿权人名称</th><td>{_e(data.holder)}</td><th>采矿权证证号</th><td>{_e(data.license_no)}</td></tr>",
         f"<tr><th>矿山名称</th><td>{_e(data.mine_name)}</td><th>采矿权有效期限</th><td>{_e(data.validity)}</td></tr>",
         f"<tr><th>计划年度</th><td>{data.plan_year}</td><th>核查日期</th>"
         f"<td>{_e(data.run_date.isoformat() if data.run_date else '')}</td></tr>",
         "</table>"]
    n_high = sum(1 for f in anomalies if f["properties"].get("severity") == "high")
    area = sum(float(f["properties"].get("area_hm2") or 0) for f in anomalies)
    h.append(f'<div class="sum">发现异常 <b>{len(anomalies)}</b> 处（其中严重程度高 {n_high} 处），'
             f"异常总面积 <b>{area:.4f}</b> hm²；无法判定的单元 <b>{len(unj)}</b> 个。</div>")

    h.append("<h2>一、影像图</h2>")
    h.append(f'<img alt="真彩色与植被覆盖度影像图" src="data:image/png;base64,{_map_png(data, anomalies, font)}">')
    frame = _locator_frame(data)
    loc = locator_png(data, font, frame)
    if frame is not None and loc is not None:
        county = data.county_name or "—"
        code = f" (县级行政区划代码 {data.county_code})" if data.county_code else ""
        side_km = _side_km(frame)
        where = ("以县域为中心, 紫色线为县界 (取自行政区划图层)" if frame[1] is not None
                 else "以矿区为中心; 无县界底图, 仅示矿界、影像图范围与经纬网")
        h.append(f'<div class="chart locator"><h3>位置示意图</h3>'
                 f'<img alt="矿区位置示意图" src="data:image/png;base64,{loc}">'
                 f'<p class="muted">所在县: {_e(county)}{_e(code)}; 图幅 {side_km:g} km 见方, {where}。</p></div>')

    h.append("<h2>二、异常位置</h2>")
    if anomalies:
        h += _location_table(anomalies, _locations(data, anomalies), units)
        h.append("<h2>三、异常证据</h2>")
        h += _evidence_table(data, anomalies)
        h += _pairs_html(data, anomalies, font)
    else:
        h.append("<p>本次核查未发现异常。</p>")

    h.append("<h2>四、各单元植被覆盖度变化</h2>")
    series = data.series if data.series is not None else pd.DataFrame(columns=["unit", "datetime", "fvc_mean",
                                                                               "clear_fraction"])
    for u in ordered:
        s = series[series["unit"] == u.key].sort_values("datetime")
        head = f"{SECTION_ZH.get(u.section, u.section)} 序号{u.seq}" + (
            f"（地类 {u.land_class}）" if u.land_class else "")
        h.append(f'<div class="chart" data-unit="{_e(u.key)}"><h3>{_e(head)}</h3>')
        if s.dropna(subset=["fvc_mean"]).empty:
            h.append('<p class="muted">无有效观测。</p></div>')
            continue
        ref = _reference_rows(data, u.key)
        n_ok = int((s["clear_fraction"].astype(float) >= data.min_clear_fraction).sum())
        cap = [f"晴空日期 {n_ok} 个 (共 {len(s)} 个影像日期)"]
        if ref is not None:
            cap.append(f'<span class="ref-ring">周边参照环: {len(ref)} 个日期</span>')
        if data.season is not None:
            cap.append(f"评估季 {data.season[0].isoformat()} 至 {data.season[1].isoformat()} (黄色底)")
        thr = data.thresholds.get(u.key)
        if thr is not None:
            cap.append(f"要求下限 {thr:.2f} (红色虚线)")
        h.append(f'<img alt="{_e(head)} 植被覆盖度时间序列" '
                 f'src="data:image/png;base64,{_unit_chart_png(data, u, s, ref, font)}">'
                 f'<p class="muted">{"; ".join(cap)}</p></div>')

    h.append("<h2>五、无法判定的单元</h2>")
    if unj:
        h.append("<table><thead><tr><th>单元</th><th>原因</th><th>晴空观测数</th></tr></thead><tbody>")
        for r in unj:
            n = r.get("n_clear")
            h.append(f"<tr><td>{_e(_unit_name(str(r.get('unit', '')), units))}</td>"
                     f"<td>{_e(r.get('reason_zh') or r.get('reason'))} {_code(str(r.get('reason') or ''))}</td>"
                     f'<td class="num">{"" if n is None or pd.isna(n) else int(n)}</td></tr>')
        h.append("</tbody></table>")
    else:
        h.append("<p>所有单元均已判定。</p>")

    if data.timeline:
        h.append("<h2>六、单元全流程跟踪</h2>")
        h += _timeline_html(data, font)

    h.append("<h2>说明</h2><ul class=\"muted\">")
    for line in ["影像: Sentinel-2 L2A 地表反射率, 10 m; 已掩膜云、云影及卷云。",
                 "植被覆盖度按像元二分模型由 NDVI 计算; 单元值为晴空日期单元均值的季节中位数。",
                 "周边参照环: 矿区外围未受扰动的自然植被, 用于扣除年景 (干旱、物候) 的影响。",
                 "面积单位 hm², 保留4位小数; 坐标系 CGCS2000。",
                 "本报告为遥感核查线索, 需经实地核实后认定。", *data.notes]:
        h.append(f"<li>{_e(line)}</li>")
    h.append("</ul></body></html>")
    return "\n".join(h) + "\n"


# ---------------------------------------------------------------- unit timeline (ledger)

_TIMELINE_MARKS = {   # what a plan row says, drawn on the timeline: marker, colour, legend
    "damage": ("x", "#7f7f7f", "损毁"),
    "planned": ("s", "#1f77b4", "计划修复"),
    "restored": ("^", "#2c7a3f", "申报已修复"),
}


def _timeline_units(data: MineReportData) -> list[str]:
    return sorted({e.unit_id for e in data.timeline})


def _timeline_chart_png(data: MineReportData, font: str) -> str:
    """One row per unit, one column per year: plan rows as markers, acceptance as a star
    (hollow when 不合格), each season's FVC as a dot (green when it meets the unit's minimum,
    red below it, grey when there is no minimum) labelled with FVC / minimum."""
    uids = _timeline_units(data)
    years = sorted({e.year for e in data.timeline if e.year})
    with rc_context({"font.family": [font], "axes.unicode_minus": False}):
        fig = Figure(figsize=(10, 0.8 + 0.55 * len(uids)))
        ax = fig.subplots()
        seen: set[str] = set()

        def mark(x: float, y: float, m: str, c: str, label: str, **kw: Any) -> None:
            ax.plot([x], [y], m, color=c, markersize=8, label=None if label in seen else label, **kw)
            seen.add(label)

        for i, uid in enumerate(uids):
            for e in (e for e in data.timeline if e.unit_id == uid):
                if e.kind == MENTION:
                    m, c, label = _TIMELINE_MARKS[e.section]
                    mark(e.year - 0.25, i, m, c, label)
                elif e.kind == ACCEPTANCE:
                    ok = e.result == "合格"
                    mark(e.year, i, "*", "#b8860b", "验收合格" if ok else "验收不合格",
                         **({} if ok else {"markerfacecolor": "none"}))
                elif e.kind == SEASON and e.fvc is not None:
                    lim = data.timeline_fvc_min.get(uid)
                    c = "#999999" if lim is None else ("#2c7a3f" if e.fvc >= lim else "#d62728")
                    mark(e.year + 0.25, i, "o", c, "生长季植被覆盖度" if lim is None or e.fvc >= lim else "低于阈值")
                    ax.annotate(f"{e.fvc:.2f}" + ("" if lim is None else f"/{lim:.2f}"), (e.year + 0.25, i),
                                textcoords="offset points", xytext=(0, 7), ha="center", fontsize=7)
        ax.set_yticks(range(len(uids)), [f"{u.removeprefix(data.license_no + '-')} "   # the mine is the report's
                                         f"({UNIT_STATE_ZH.get(data.unit_states.get(u, ''), '—')})"
                                         for u in uids], fontsize=7)
        ax.set_ylim(-0.6, len(uids) - 0.4)
        ax.invert_yaxis()
        if years:
            ax.set_xticks(years, [f"{y}年" for y in years])
            ax.set_xlim(years[0] - 0.6, years[-1] + 0.6)
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=6, frameon=False)
        return _png(fig, dpi=90)


def _timeline_cells(events: list[UnitEvent], lim: float | None) -> tuple[str, str, str, str]:
    """One unit's year: what was planned, reported, accepted, observed (text for the table)."""
    planned, reported, accepted, seasons = [], [], [], []
    for e in events:
        what = " ".join(x for x in (f"第{e.seq}号", e.land_class,
                                    "" if e.area_hm2 is None else f"{e.area_hm2:.4f} hm²") if x)
        if e.kind == MENTION and e.section in ("planned", "damage"):
            planned.append(("计划" if e.section == "planned" else "损毁") + what)
        elif e.kind == MENTION:
            reported.append(what + ("，称已验收" if e.accepted else ""))
        elif e.kind == ACCEPTANCE:
            accepted.append(f"{e.result or '待验收'} {e.accepted_on or e.applied_on or ''} {e.certificate_no}".strip())
        elif e.kind == SEASON and e.fvc is not None:
            verdict = "" if lim is None else ("，达标" if e.fvc >= lim else "，未达标")
            seasons.append(f"{e.fvc:.4f}" + ("" if lim is None else f"（阈值 {lim:.2f}{verdict}）"))
    return "；".join(planned), "；".join(reported), "；".join(accepted), "；".join(seasons)


def _timeline_html(data: MineReportData, font: str) -> list[str]:
    """The timeline chart and its table: one row per unit and year."""
    h = [f'<img alt="单元全流程时间轴" src="data:image/png;base64,{_timeline_chart_png(data, font)}">',
         "<table><thead><tr><th>单元标识码</th><th>状态</th><th>年度</th><th>计划/损毁</th><th>申报已修复</th>"
         "<th>验收</th><th>生长季植被覆盖度</th></tr></thead><tbody>"]
    for uid in _timeline_units(data):
        evs = [e for e in data.timeline if e.unit_id == uid]
        state = UNIT_STATE_ZH.get(data.unit_states.get(uid, ""), "—")
        for year in sorted({e.year for e in evs}):
            cells = _timeline_cells([e for e in evs if e.year == year], data.timeline_fvc_min.get(uid))
            h.append(f"<tr><td>{_e(uid)}</td><td>{_e(state)}</td><td>{year or '—'}</td>"
                     + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    h.append("</tbody></table>")
    h.append('<p class="muted">台账单元按位置跨年度匹配 (标识码不变)；验收以县级主管部门验收清单为准；'
             "植被覆盖度为生长季晴空日期中位数，阈值为目标地类的要求下限。</p>")
    return h


def render_report(data: MineReportData, path: str | Path, *, pdf: bool = False, pdf_timeout: float = 120) -> Path:
    """Write the HTML report atomically (and `<path>.pdf` beside it when `pdf`)."""
    out = write_text(path, render_html(data))
    if pdf:
        html_to_pdf(out, Path(out).with_suffix(".pdf"), timeout=pdf_timeout)
    return out
