"""Field exports for the GPS units and field apps inspectors carry: KML and GPX per night.

- ``field/anomalies.kml`` (KML 2.2): one folder per mine, one placemark per anomaly with its
  outline and centroid, styled by type, the description in Chinese (type, severity, area,
  coordinates, nearest licence corner, the plain-language rule).
- ``field/anomalies.gpx`` (GPX 1.1): one waypoint per anomaly at its centroid, named by the
  mine and the report's label (A1, A2 … per mine, as in the report's tables).

Coordinates are CGCS2000 lon/lat, which GPS receivers take as WGS 84 (centimetres apart).
Both are written by hand with fixed formatting so a rerun gives the same bytes.
"""
from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

from shapely.geometry import shape

from minewatch.labels import RULES_ZH, TYPES_ZH
from minewatch.outputs.navigation import DATUM_NOTE_ZH, Location, locate, mine_zone_epsg, report_order
from minewatch.plumbing.atomic import write_text

__all__ = ["TYPE_COLOURS", "field_features", "kml_text", "gpx_text", "write_field_exports"]

# KML colours are aabbggrr; one per anomaly type, the rest grey
TYPE_COLOURS = {
    "RESTORATION_SHORTFALL": "ff0000ff", "AT_RISK": "ff00a5ff", "CLAIMED_RESTORATION_NOT_OBSERVED": "ffff00ff",
    "VEGETATION_DEGRADATION": "ff008cff", "UNDECLARED_DISTURBANCE": "ff0000b0", "DAMAGE_EXCEEDS_DECLARED": "ff4040c0",
    "OUT_OF_BOUNDARY_DISTURBANCE": "ff8000ff", "TEMPORARY_LAND_NOT_RESTORED": "ff00ffff",
    "PLAN_MISSING": "ff808080", "PLAN_DATA_INCONSISTENT": "ffa0a0a0",
}


def field_features(fc: dict, boundaries: dict | None = None) -> list[tuple[str, str, dict, Location]]:
    """(licence, label, feature, location) per active anomaly, mines in licence order and
    anomalies numbered per mine as in the report (`navigation.report_order`)."""
    boundaries = boundaries or {}
    by_lic: dict[str, list[dict]] = {}
    for f in fc.get("features", []):
        if f["properties"].get("status") == "resolved":
            continue
        by_lic.setdefault(f["properties"]["license_no"], []).append(f)
    out = []
    for lic in sorted(by_lic):
        feats = sorted(by_lic[lic], key=report_order)
        b = boundaries.get(lic)
        epsg = mine_zone_epsg(b, shape(feats[0]["geometry"]).centroid.x)
        for i, f in enumerate(feats, 1):
            out.append((lic, f"A{i}", f, locate(f["geometry"], b, epsg)))
    return out


def _description(f: dict, loc: Location) -> str:
    p = f["properties"]
    lines = [f"异常类型: {p.get('type_zh') or TYPES_ZH.get(p['type'], p['type'])}",
             f"严重程度: {p.get('severity_zh', '')}",
             f"面积: {float(p.get('area_hm2') or 0):.4f} hm²",
             f"中心点: {loc.lon:.6f}°E, {loc.lat:.6f}°N",
             f"3度带 (EPSG:{loc.gk_epsg}): X {loc.x:.2f}, Y {loc.y:.2f}",
             f"最近矿界拐点: {loc.corner_text}",
             f"判定规则: {RULES_ZH.get(p['type'], '')}"]
    if p.get("notes_zh"):
        lines.append(f"说明: {p['notes_zh']}")
    lines.append(f"编号: {f.get('id') or p.get('id')}")
    return "\n".join(lines)


def _ring_kml(coords: list) -> str:
    return " ".join(f"{x:.7f},{y:.7f}" for x, y, *_ in coords)


def _polygon_kml(geom: dict) -> str:
    polys = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
    parts = []
    for rings in polys:
        inner = "".join(f"<innerBoundaryIs><LinearRing><coordinates>{_ring_kml(r)}</coordinates></LinearRing>"
                        f"</innerBoundaryIs>" for r in rings[1:])
        parts.append(f"<Polygon><outerBoundaryIs><LinearRing><coordinates>{_ring_kml(rings[0])}</coordinates>"
                     f"</LinearRing></outerBoundaryIs>{inner}</Polygon>")
    return "".join(parts)


def kml_text(items: list[tuple[str, str, dict, Location]], night: str) -> str:
    h = ['<?xml version="1.0" encoding="UTF-8"?>', '<kml xmlns="http://www.opengis.net/kml/2.2">', "<Document>",
         f"<name>{escape(f'矿区生态修复遥感核查异常 {night}')}</name>",
         f"<description>{escape(DATUM_NOTE_ZH)}</description>"]
    for kind, colour in TYPE_COLOURS.items():
        h.append(f'<Style id="{kind}"><IconStyle><color>{colour}</color></IconStyle>'
                 f"<LineStyle><color>{colour}</color><width>2</width></LineStyle>"
                 f"<PolyStyle><color>40{colour[2:]}</color></PolyStyle></Style>")
    lic = None
    for license_no, label, f, loc in items:
        p = f["properties"]
        if license_no != lic:
            if lic is not None:
                h.append("</Folder>")
            h.append(f"<Folder><name>{escape(p.get('mine_name') or license_no)} {escape(license_no)}</name>")
            lic = license_no
        geom = f["geometry"]
        shapes = _polygon_kml(geom) if geom and geom["type"] in ("Polygon", "MultiPolygon") else ""
        h.append(f"<Placemark><name>{escape(label)} {escape(p.get('type_zh') or p['type'])}</name>"
                 f"<description>{escape(_description(f, loc))}</description>"
                 f"<styleUrl>#{escape(p['type'] if p['type'] in TYPE_COLOURS else 'PLAN_DATA_INCONSISTENT')}</styleUrl>"
                 f"<MultiGeometry><Point><coordinates>{loc.lon:.6f},{loc.lat:.6f}</coordinates></Point>"
                 f"{shapes}</MultiGeometry></Placemark>")
    if lic is not None:
        h.append("</Folder>")
    h += ["</Document>", "</kml>"]
    return "\n".join(h) + "\n"


def gpx_text(items: list[tuple[str, str, dict, Location]], night: str) -> str:
    h = ['<?xml version="1.0" encoding="UTF-8"?>',
         '<gpx version="1.1" creator="minewatch" xmlns="http://www.topografix.com/GPX/1/1">',
         f"<metadata><name>{escape(f'矿区生态修复遥感核查异常 {night}')}</name></metadata>"]
    for license_no, label, f, loc in items:
        p = f["properties"]
        name = f"{p.get('mine_name') or license_no} {label}"
        h.append(f'<wpt lat="{loc.lat:.6f}" lon="{loc.lon:.6f}">'
                 f"<name>{escape(name)}</name>"
                 f"<desc>{escape(_description(f, loc))}</desc>"
                 f"<type>{escape(p.get('type_zh') or p['type'])}</type></wpt>")
    h.append("</gpx>")
    return "\n".join(h) + "\n"


def write_field_exports(fc: dict, out_dir: str | Path, night: str, boundaries: dict | None = None) -> list[Path]:
    """`out_dir`/anomalies.kml and anomalies.gpx (atomic); resolved anomalies are left out."""
    items = field_features(fc, boundaries)
    out = Path(out_dir)
    return [write_text(out / "anomalies.kml", kml_text(items, night)),
            write_text(out / "anomalies.gpx", gpx_text(items, night))]
