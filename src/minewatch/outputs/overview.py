"""The bureau's morning page: ``index.html`` in the run folder, one file, offline.

Leaflet 1.9.4 (vendored from npm under ``minewatch/data/vendor/leaflet`` with its BSD-2
licence) is inlined, as are the mines' boundaries and the night's anomalies as GeoJSON; there
is no tile layer (no network). Under the vectors, each mine's season true colour is an image
overlay (``overview/<licence>.png`` beside the page: the composite warped to CGCS2000 lon/lat,
no data transparent, same inputs -> same bytes), toggled with the layer control. Below the map:
counts by type and county, a table filterable by county, type, severity, confidence and
status (new / ongoing / resolved), and links to each mine's report (reports/<licence>.html).
"""
from __future__ import annotations

import html
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from affine import Affine
from matplotlib.image import imsave
from pyproj import Transformer
from rasterio.warp import calculate_default_transform
from shapely.geometry import mapping

from minewatch.labels import CONFIDENCE_ZH, SEVERITY_ZH, TYPES_ZH
from minewatch.outputs.lifecycle import STATUS_ZH
from minewatch.outputs.navigation import report_order
from minewatch.plumbing.atomic import atomic_path, write_text
from minewatch.promised.models import MiningRight

__all__ = ["IMAGERY_DIR", "MineImage", "RenderedImage", "imagery_png", "overview_html", "write_overview"]

IMAGERY_DIR = "overview"        # the overlay images, beside index.html
LONLAT_EPSG = 4490              # CGCS2000, as the vectors on the page


@dataclass(frozen=True, eq=False)
class MineImage:
    """A mine's season true colour for the map: (H, W, 3) display values 0..1 (NaN: no data)
    on a north-up grid `transform` in EPSG `epsg`."""
    rgb: np.ndarray
    transform: Affine
    epsg: int


def imagery_png(img: MineImage, max_px: int) -> tuple[bytes, tuple[float, float, float, float]]:
    """The image warped to CGCS2000 lon/lat (nearest neighbour, at most `max_px` on its longest
    side) as RGBA PNG bytes, no data transparent, and its (west, south, east, north) bounds."""
    rgb = np.asarray(img.rgb, dtype=np.float32)
    h, w = rgb.shape[:2]
    t = img.transform
    left, top = t.c, t.f
    right, bottom = left + t.a * w, top + t.e * h
    dst_t, dw, dh = calculate_default_transform(f"EPSG:{img.epsg}", f"EPSG:{LONLAT_EPSG}", w, h,
                                                left=left, bottom=bottom, right=right, top=top)
    scale = max(dw, dh) / max_px
    if scale > 1:       # fewer, larger pixels over the same bounds
        sw, sh = max(1, round(dw / scale)), max(1, round(dh / scale))
        dst_t = Affine(dst_t.a * dw / sw, 0, dst_t.c, 0, dst_t.e * dh / sh, dst_t.f)
        dw, dh = sw, sh
    # nearest neighbour by hand: each output pixel centre back to the source grid. rasterio's
    # array-to-array reproject makes MEM datasets whose NotGeoreferencedWarning leaks into the
    # night's log when other threads touch the warning filters (odc-geo#131)
    cols, rows = np.meshgrid(np.arange(dw) + 0.5, np.arange(dh) + 0.5)
    lon = dst_t.c + dst_t.a * cols.ravel() + dst_t.b * rows.ravel()
    lat = dst_t.f + dst_t.d * cols.ravel() + dst_t.e * rows.ravel()
    x, y = Transformer.from_crs(LONLAT_EPSG, img.epsg, always_xy=True).transform(lon, lat)
    inv = ~t
    sc = np.floor(inv.c + inv.a * np.asarray(x) + inv.b * np.asarray(y)).astype(np.int64)
    sr = np.floor(inv.f + inv.d * np.asarray(x) + inv.e * np.asarray(y)).astype(np.int64)
    inside = (sc >= 0) & (sc < w) & (sr >= 0) & (sr < h)
    flat = np.full((dh * dw, 3), np.nan, np.float32)
    flat[inside] = rgb[sr[inside], sc[inside]]
    out = np.moveaxis(flat.reshape(dh, dw, 3), -1, 0)
    ok = np.isfinite(out).all(axis=0)
    rgba = np.zeros((dh, dw, 4), np.uint8)
    rgba[..., :3] = np.round(np.clip(np.nan_to_num(np.moveaxis(out, 0, -1)), 0, 1) * 255).astype(np.uint8)
    rgba[..., 3] = np.where(ok, 255, 0)
    buf = io.BytesIO()
    # None drops the version stamp matplotlib writes (its stub types the values as str)
    imsave(buf, rgba, format="png", metadata={"Software": None})  # type: ignore[dict-item]
    west, north = dst_t.c, dst_t.f
    return buf.getvalue(), (west, north + dst_t.e * dh, west + dst_t.a * dw, north)


@dataclass(frozen=True)
class RenderedImage:
    """A mine's `imagery_png` made where the mine ran (a cluster worker): PNG bytes and bounds."""
    png: bytes
    bounds: tuple[float, float, float, float]     # west, south, east, north


def _write_imagery(run_dir: Path, images: Mapping[str, MineImage | RenderedImage], max_px: int) -> list[dict]:
    """overview/<licence>.png per mine; what the page needs to place them (sorted by licence)."""
    placed = []
    for lic in sorted(images):
        img = images[lic]
        png, (w, s, e, n) = (img.png, img.bounds) if isinstance(img, RenderedImage) else imagery_png(img, max_px)
        path = run_dir / IMAGERY_DIR / f"{lic}.png"
        with atomic_path(path) as tmp:
            tmp.write_bytes(png)
        placed.append({"license_no": lic, "src": f"{IMAGERY_DIR}/{lic}.png",
                       "bounds": [[round(s, 7), round(w, 7)], [round(n, 7), round(e, 7)]]})
    return placed


def _vendor(name: str) -> str:
    return resources.files("minewatch").joinpath("data", "vendor", "leaflet", name).read_text(encoding="utf-8")


def _rows(fc: dict, rights: list[MiningRight], reports: set[str]) -> list[dict]:
    county = {r.license_no: r.county_code for r in rights}
    by_lic: dict[str, list[dict]] = {}
    for f in fc.get("features", []):
        by_lic.setdefault(f["properties"]["license_no"], []).append(f)
    rows = []
    for lic in sorted(by_lic):
        for i, f in enumerate(sorted(by_lic[lic], key=report_order), 1):
            p = f["properties"]
            rows.append({"id": str(f.get("id") or p.get("id")), "label": f"A{i}", "license_no": lic,
                         "mine_name": p.get("mine_name", ""), "county": county.get(lic, ""),
                         "type": p["type"], "type_zh": p.get("type_zh") or TYPES_ZH.get(p["type"], p["type"]),
                         "severity": p.get("severity", ""), "confidence": p.get("confidence", ""),
                         "status": p.get("status", ""), "area_hm2": round(float(p.get("area_hm2") or 0), 4),
                         "report": f"reports/{lic}.html" if lic in reports else ""})
    return rows


def _options(name: str, values: list[str], zh: dict[str, str]) -> str:
    opts = "".join(f'<option value="{html.escape(v)}">{html.escape(zh.get(v, v))}</option>' for v in values)
    return f'<select id="f-{name}" data-filter="{name}"><option value="">全部</option>{opts}</select>'


def _counts(rows: list[dict], key: str, zh: dict[str, str]) -> str:
    c: dict[str, int] = {}
    for r in rows:
        c[r[key]] = c.get(r[key], 0) + 1
    cells = "".join(f'<tr><td>{html.escape(zh.get(k, k) or "—")}</td><td class="num" data-count="{html.escape(k)}">'
                    f"{n}</td></tr>" for k, n in sorted(c.items()))
    return f'<table class="counts" id="counts-{key}">{cells}</table>'


PAGE_CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:16px;color:#1a1a1a;font-size:14px}
#map{height:460px;border:1px solid #b7c0cc;background:#eef2f5}
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #b7c0cc;padding:3px 6px;text-align:left}
th{background:#e8edf4}td.num{text-align:right}.filters select{margin-right:10px}
.row-hidden{display:none}.side{display:inline-block;vertical-align:top;margin-right:24px}
"""

PAGE_JS = """
const map = L.map('map', {attributionControl: false});
// each mine's season true colour, in a pane under the vectors (overlayPane is at 400)
map.createPane('imagery');
map.getPane('imagery').style.zIndex = 350;
const imagery = L.layerGroup(IMAGERY.map(m => L.imageOverlay(m.src, m.bounds,
  {pane: 'imagery', className: 'mine-image', alt: m.license_no}))).addTo(map);
const mines = L.geoJSON(MINES, {style: {color: '#1f3b73', weight: 2, fill: false}}).addTo(map);
const anomalies = L.geoJSON(ANOMALIES, {style: {color: '#d00000', weight: 2, fillOpacity: 0.4},
  onEachFeature: (f, layer) => layer.bindTooltip(f.properties.label + ' ' + f.properties.type_zh)}).addTo(map);
map.fitBounds(mines.getBounds().extend(anomalies.getBounds()).pad(0.1));
L.control.scale({imperial: false}).addTo(map);
L.control.layers(null, {'本季真彩色影像': imagery, '矿区范围': mines, '异常图斑': anomalies},
  {collapsed: false}).addTo(map);
function applyFilters() {
  const sel = {};
  document.querySelectorAll('select[data-filter]').forEach(s => { sel[s.dataset.filter] = s.value; });
  let shown = 0;
  document.querySelectorAll('#anomalies tbody tr').forEach(tr => {
    const ok = Object.entries(sel).every(([k, v]) => !v || tr.dataset[k] === v);
    tr.classList.toggle('row-hidden', !ok);
    if (ok) shown += 1;
  });
  document.getElementById('shown').textContent = shown;
  anomalies.eachLayer(l => {
    const p = l.feature.properties;
    const ok = Object.entries(sel).every(([k, v]) => !v || p[k] === v);
    l.setStyle({opacity: ok ? 1 : 0, fillOpacity: ok ? 0.4 : 0});
  });
}
document.querySelectorAll('select[data-filter]').forEach(s => s.addEventListener('change', applyFilters));
applyFilters();
"""


def overview_html(fc: dict, rights: list[MiningRight], night: str, reports: set[str],
                  imagery: list[dict] | None = None) -> str:
    """The page; `imagery`: the overlays `_write_imagery` placed (license_no, src, bounds)."""
    rows = _rows(fc, rights, reports)
    by_id = {r["id"]: r for r in rows}
    feats = []
    for f in fc.get("features", []):
        r = by_id[str(f.get("id") or f["properties"].get("id"))]
        feats.append({"type": "Feature", "geometry": f["geometry"],
                      "properties": {k: r[k] for k in ("id", "label", "license_no", "county", "type", "type_zh",
                                                       "severity", "confidence", "status")}})
    mines = [{"type": "Feature", "geometry": mapping(r.boundary),
              "properties": {"license_no": r.license_no, "mine_name": r.mine_name}} for r in rights]
    county_zh = {r.county_code: r.county_code for r in rights}
    types = sorted({r["type"] for r in rows})
    body = []
    for r in rows:
        link = f'<a href="{html.escape(r["report"])}">报告</a>' if r["report"] else "—"
        body.append(f'<tr data-id="{html.escape(r["id"])}" data-county="{html.escape(r["county"])}" '
                    f'data-type="{html.escape(r["type"])}" data-severity="{html.escape(r["severity"])}" '
                    f'data-confidence="{html.escape(r["confidence"])}" data-status="{html.escape(r["status"])}">'
                    f"<td>{html.escape(r['mine_name'])}<br><small>{html.escape(r['license_no'])}</small></td>"
                    f"<td>{html.escape(r['county'])}</td><td>{r['label']}</td><td>{html.escape(r['type_zh'])}</td>"
                    f"<td>{html.escape(SEVERITY_ZH.get(r['severity'], r['severity']))}</td>"
                    f"<td>{html.escape(CONFIDENCE_ZH.get(r['confidence'], r['confidence']))}</td>"
                    f"<td>{html.escape(STATUS_ZH.get(r['status'], r['status']))}</td>"
                    f'<td class="num">{r["area_hm2"]:.4f}</td><td>{link}</td></tr>')
    js = {"MINES": {"type": "FeatureCollection", "features": mines},
          "ANOMALIES": {"type": "FeatureCollection", "features": feats}, "IMAGERY": imagery or []}
    data_js = "\n".join(f"const {k} = {json.dumps(v, ensure_ascii=False)};" for k, v in js.items())
    filters = " ".join([
        "县: " + _options("county", sorted(county_zh), county_zh),
        "类型: " + _options("type", types, TYPES_ZH),
        "严重程度: " + _options("severity", ["high", "medium", "low"], SEVERITY_ZH),
        "可信度: " + _options("confidence", ["highest", "high", "low"], CONFIDENCE_ZH),
        "状态: " + _options("status", ["new", "ongoing", "resolved"], STATUS_ZH)])
    title = f"矿区生态修复遥感核查 {night}"
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="zh-CN"><head><meta charset="utf-8">', f"<title>{html.escape(title)}</title>",
        f"<style>{_vendor('leaflet.css')}</style>", f"<style>{PAGE_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p>矿山 <b id="n-mines">{len(rights)}</b> 个, 异常 <b id="n-anomalies">{len(rows)}</b> 处。'
        "坐标 CGCS2000 (≈WGS 84); 地图无在线底图, 各矿区下为本季真彩色合成影像 (可在图层控件中关闭), "
        "可离线打开。</p>",
        '<div id="map"></div>',
        '<div class="side"><h2>按类型</h2>' + _counts(rows, "type_zh", {}) + "</div>",
        '<div class="side"><h2>按县</h2>' + _counts(rows, "county", {}) + "</div>",
        f'<h2>异常清单</h2><div class="filters">{filters}</div><p>显示 <b id="shown">{len(rows)}</b> 处</p>',
        '<table id="anomalies"><thead><tr><th>矿山</th><th>县级代码</th><th>编号</th><th>异常类型</th><th>严重程度</th>'
        "<th>可信度</th><th>状态</th><th>面积(hm²)</th><th>报告</th></tr></thead><tbody>", *body, "</tbody></table>",
        f"<script>{_vendor('leaflet.js')}</script>", f"<script>{data_js}\n{PAGE_JS}</script>",
        "</body></html>"]) + "\n"


def write_overview(fc: dict, rights: list[MiningRight], run_dir: str | Path, night: str,
                   images: Mapping[str, MineImage | RenderedImage] | None = None, max_px: int = 1024) -> Path:
    """`run_dir`/index.html, linking the reports that exist in `run_dir`/reports, over each mine's
    image in `images` (licence -> MineImage; written to `run_dir`/overview). `night` is the
    run date: the folder written into may be a staging folder whose name must not show."""
    run_dir = Path(run_dir)
    reports = {p.stem for p in (run_dir / "reports").glob("*.html")}
    placed = _write_imagery(run_dir, images or {}, max_px)
    return write_text(run_dir / "index.html", overview_html(fc, rights, night, reports, placed))
