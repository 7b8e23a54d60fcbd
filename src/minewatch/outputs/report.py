"""Per-mine inspection report: one self-contained Chinese HTML file (optionally PDF).

Everything is inline: CSS in a <style> block, images as base64 PNG, no scripts, no
external fonts or links, so the file opens offline and can be mailed or archived as is.
Charts use matplotlib with Noto Sans CJK (Debian fonts-noto-cjk); without it Chinese
would come out as boxes, so rendering stops with a clear error instead.

Contents: header from the annual plan (采矿权人, 证号, 矿山名称, 有效期限, 计划年度), true
colour and FVC maps with units outlined and labelled by 序号 and findings in red, one FVC
chart per unit (threshold line, reference ring when given), the anomaly table, and the
units that could not be judged with their reasons.
"""
from __future__ import annotations

import base64
import html
import io
import re
import shutil
import subprocess
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

from minewatch.plumbing.atomic import write_text

if TYPE_CHECKING:
    from affine import Affine

    from minewatch.promised.models import AnnualPlan, MiningRight

SECTION_ZH = {"restored": "上年度已修复", "damage": "现状损毁", "planned": "本年度计划"}
SECTION_ORDER = {"planned": 0, "restored": 1, "damage": 2}
KEY_ZH = {
    "fvc": "植被覆盖度", "fvc_min": "植被覆盖度下限", "fvc_mean": "植被覆盖度", "ndvi": "NDVI",
    "ndvi_current": "当前NDVI", "ndvi_baseline": "基期NDVI", "bsi": "裸土指数", "n_clear": "晴空观测数",
    "clear_observations": "晴空观测数", "min_clear_obs": "最少晴空观测", "pixels": "像元数",
    "area_hm2": "面积(hm²)", "source": "依据", "rule": "规则", "land_class": "地类",
}
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


def _anomaly_geoms(data: MineReportData) -> list[tuple[dict, BaseGeometry]]:
    if data.epsg in (4326, 4490):
        to = None
    else:
        to = Transformer.from_crs(4490, data.epsg, always_xy=True).transform
    out = []
    for f in data.anomalies:
        g = shape(f["geometry"])
        out.append((f, shapely.transform(g, lambda x, y: to(x, y), interleaved=False) if to else g))
    return out


def _map_png(data: MineReportData, font: str) -> str:
    extent = _extent(data.transform, data.fvc.shape)
    rgb = np.clip(np.nan_to_num(np.asarray(data.rgb, dtype=float), nan=0.0), 0, 1)
    anomalies = _anomaly_geoms(data)
    with rc_context({"font.family": [font], "axes.unicode_minus": False}):
        fig = Figure(figsize=(12, 5.6))
        axes = fig.subplots(1, 2)
        axes[0].imshow(rgb, extent=extent, interpolation="nearest")
        cmap = matplotlib.colormaps["YlGn"].with_extremes(bad="#d9d9d9")
        im = axes[1].imshow(np.ma.masked_invalid(data.fvc), extent=extent, cmap=cmap, vmin=0, vmax=1,
                            interpolation="nearest")
        fig.colorbar(im, ax=axes[1], fraction=0.046, pad=0.02, label="植被覆盖度 FVC")
        for ax, title, edge in ((axes[0], "真彩色影像", "#ffd400"), (axes[1], "植被覆盖度 (FVC)", "#1f3b73")):
            for _, g in anomalies:
                ax.add_patch(_patch(g, facecolor=(1, 0, 0, 0.35), edgecolor="red", linewidth=2.0))
            for u in data.units:
                ax.add_patch(_patch(u.geometry, facecolor="none", edgecolor=edge, linewidth=1.4,
                                    linestyle="--" if u.section == "damage" else "-"))
                p = u.geometry.representative_point()
                ax.text(p.x, p.y, u.text, ha="center", va="center", fontsize=9, color="black",
                        bbox=dict(boxstyle="round,pad=0.15", facecolor="white", alpha=0.8, linewidth=0))
            ax.set_title(title + (f"  {data.image_date}" if data.image_date else ""))
            ax.set_xlim(extent[0], extent[1])
            ax.set_ylim(extent[2], extent[3])
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(f"EPSG:{data.epsg}  红色: 异常图斑  黄/蓝框: 修复单元(数字为序号, 虚线为损毁区)", fontsize=8)
        return _png(fig, dpi=90)


def _unit_chart_png(data: MineReportData, unit: ReportUnit, s: pd.DataFrame, ref: pd.DataFrame | None,
                    font: str) -> str:
    with rc_context({"font.family": [font], "axes.unicode_minus": False}):
        fig = Figure(figsize=(10, 3.0))
        ax = fig.subplots()
        t = pd.to_datetime(s["datetime"])
        y = s["fvc_mean"].astype(float)
        ok = s["clear_fraction"].astype(float) >= data.min_clear_fraction
        ax.plot(t, y, color="#2c7a3f", linewidth=1, alpha=0.6)
        ax.plot(t[ok], y[ok], "o", color="#2c7a3f", markersize=4, label="单元均值")
        if (~ok).any():
            ax.plot(t[~ok], y[~ok], "o", markerfacecolor="none", color="#2c7a3f", markersize=4,
                    label="云量过多(未采用)")
        if ref is not None and not ref.empty:
            ax.plot(pd.to_datetime(ref["datetime"]), ref["fvc_mean"].astype(float), "-", color="#888888",
                    linewidth=1.2, label="周边参照环")
        thr = data.thresholds.get(unit.key)
        if thr is not None:
            ax.axhline(thr, color="red", linestyle="--", linewidth=1.2, label=f"阈值 {thr:.2f}")
        ax.set_ylim(0, 1)
        ax.set_ylabel("植被覆盖度")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", ncol=4, frameon=False)
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


def _fmt_dict(d: object) -> str:
    if not d:
        return "—"
    if not isinstance(d, dict):
        return _e(d)
    return "<br>".join(f"{_e(KEY_ZH.get(k, k))}: {_e(_fmt_value(v))}" for k, v in d.items())


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
h2{font-size:17px;color:#1f3b73;margin-top:28px;border-left:5px solid #1f3b73;padding-left:8px}
h3{font-size:15px;margin:14px 0 4px}
table{border-collapse:collapse;width:100%;margin:8px 0}
th,td{border:1px solid #b7c0cc;padding:4px 6px;vertical-align:top;text-align:left}
th{background:#e8edf4}
td.num{text-align:right;font-variant-numeric:tabular-nums}
table.head th{width:16%}
.sum{background:#fff4e5;border:1px solid #f0b46a;padding:8px 12px;margin:10px 0}
.sev-high{color:#b00000;font-weight:bold}
.muted{color:#666;font-size:12px}
img{max-width:100%}
.chart{page-break-inside:avoid;margin-bottom:10px}
@media print{body{margin:0;max-width:none}}
"""


def render_html(data: MineReportData) -> str:
    font = cjk_font()
    units = {u.key: u for u in data.units}
    ordered = sorted(data.units, key=lambda u: (SECTION_ORDER.get(u.section, 9), u.seq))
    unj = data.unjudged.to_dict("records") if isinstance(data.unjudged, pd.DataFrame) else list(data.unjudged)
    anomalies = sorted(data.anomalies, key=lambda f: (f["properties"].get("unit_section") or "~",
                                                      f["properties"].get("unit_seq") or 0, f["properties"]["type"]))
    h = ["<!DOCTYPE html>", '<html lang="zh-CN"><head><meta charset="utf-8">',
         f"<title>{_e(data.mine_name)} {data.plan_year}年度矿区生态修复遥感核查报告</title>",
         f"<style>{CSS}</style></head><body>",
         f"<h1>{_e(data.mine_name)} {data.plan_year}年度矿区生态修复遥感核查报告</h1>",
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
    h.append(f'<img alt="真彩色与植被覆盖度影像图" src="data:image/png;base64,{_map_png(data, font)}">')

    h.append("<h2>二、异常清单</h2>")
    if anomalies:
        h.append("<table><tr><th>#</th><th>异常类型</th><th>严重程度</th><th>单元</th><th>目标地类</th>"
                 "<th>观测值</th><th>应达值</th><th>面积(hm²)</th><th>证据影像(日期)</th><th>说明</th></tr>")
        for i, f in enumerate(anomalies, 1):
            p = f["properties"]
            sec, seq = p.get("unit_section"), p.get("unit_seq")
            unit = _unit_name(f"{sec}:{seq}", units) if seq is not None else "—"
            ev = "<br>".join(f"{_e(s)} ({_e(scene_date(s, data.scene_dates))})" for s in p.get("evidence_scenes", []))
            sev = p.get("severity", "")
            h.append(f"<tr><td>{i}</td><td>{_e(p.get('type_zh') or p.get('type'))}</td>"
                     f'<td class="sev-{_e(sev)}">{_e(p.get("severity_zh") or sev)}</td><td>{_e(unit)}</td>'
                     f"<td>{_e(p.get('target_land_class') or '—')}</td>"
                     f"<td>{_fmt_dict(p.get('observed'))}</td><td>{_fmt_dict(p.get('expected'))}</td>"
                     f'<td class="num">{float(p.get("area_hm2") or 0):.4f}</td><td>{ev or "—"}</td>'
                     f"<td>{_e(p.get('notes_zh') or '')}</td></tr>")
        h.append("</table>")
    else:
        h.append("<p>本次核查未发现异常。</p>")

    h.append("<h2>三、各单元植被覆盖度变化</h2>")
    series = data.series if data.series is not None else pd.DataFrame(columns=["unit", "datetime", "fvc_mean",
                                                                               "clear_fraction"])
    for u in ordered:
        s = series[series["unit"] == u.key].sort_values("datetime")
        head = (f"{SECTION_ZH.get(u.section, u.section)} 序号{u.seq}"
                + (f"（地类 {u.land_class}）" if u.land_class else ""))
        h.append(f'<div class="chart"><h3>{_e(head)}</h3>')
        if s.dropna(subset=["fvc_mean"]).empty:
            h.append('<p class="muted">无有效观测。</p></div>')
            continue
        ref = None
        if data.reference is not None:
            ref = data.reference[data.reference["unit"] == u.key].sort_values("datetime")
        h.append(f'<img alt="{_e(head)} 植被覆盖度时间序列" '
                 f'src="data:image/png;base64,{_unit_chart_png(data, u, s, ref, font)}"></div>')

    h.append("<h2>四、无法判定的单元</h2>")
    if unj:
        h.append("<table><tr><th>单元</th><th>原因</th><th>晴空观测数</th></tr>")
        for r in unj:
            n = r.get("n_clear")
            h.append(f"<tr><td>{_e(_unit_name(str(r.get('unit', '')), units))}</td>"
                     f"<td>{_e(r.get('reason_zh') or r.get('reason'))}</td>"
                     f'<td class="num">{"" if n is None or pd.isna(n) else int(n)}</td></tr>')
        h.append("</table>")
    else:
        h.append("<p>所有单元均已判定。</p>")

    h.append("<h2>说明</h2><ul class=\"muted\">")
    for line in ["影像: Sentinel-2 L2A 地表反射率, 10 m; 已掩膜云、云影及卷云。",
                 "植被覆盖度 (FVC) 按像元二分模型由 NDVI 计算; 单元值为晴空日期单元均值的季节中位数。",
                 "面积单位 hm², 保留4位小数; 坐标系 CGCS2000。",
                 "本报告为遥感核查线索, 需经实地核实后认定。", *data.notes]:
        h.append(f"<li>{_e(line)}</li>")
    h.append("</ul></body></html>")
    return "\n".join(h) + "\n"


def render_report(data: MineReportData, path: str | Path, *, pdf: bool = False) -> Path:
    """Write the HTML report atomically (and `<path>.pdf` beside it when `pdf`)."""
    out = write_text(path, render_html(data))
    if pdf:
        html_to_pdf(out, Path(out).with_suffix(".pdf"))
    return out


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        p = shutil.which(name)
        if p:
            return p
    return None


def chromium_args(binary: str) -> list[str]:
    return [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--hide-scrollbars"]


def html_to_pdf(html_path: str | Path, pdf_path: str | Path, timeout: float = 120) -> Path:
    """Print the HTML with headless Chromium (Debian package chromium), atomically."""
    binary = chromium_binary()
    if binary is None:
        raise FileNotFoundError("headless Chromium not found: install Debian package chromium for PDF output")
    from minewatch.plumbing.atomic import atomic_path
    with atomic_path(pdf_path) as tmp:
        subprocess.run(chromium_args(binary) + ["--no-pdf-header-footer", f"--print-to-pdf={tmp}",
                                                Path(html_path).resolve().as_uri()],
                       check=True, capture_output=True, timeout=timeout)
        if tmp.stat().st_size == 0:
            raise RuntimeError("Chromium wrote an empty PDF")
    return Path(pdf_path)
