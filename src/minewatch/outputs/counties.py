"""County outlines for the report's locator map, from the bureau's own 行政区划 layer.

No county boundary is bundled: boundaries published in China must follow the official
(审图号) line, and the open packages found carry commercial-map geometry under a code licence
only (docs/operations.md). The operator points `report.county_boundaries` at any OGR-readable
file (GeoPackage, Shapefile, GeoJSON) of the provincial 一张图's county layer. Each night reads
it once: the features whose code field holds a registry county code (6 digits; a 12-digit
统计用区划代码 ending in 000000 counts as its first 6), their polygons made valid and joined per
code, reprojected from the file's CRS (CGCS2000, WGS 84, a Gauss-Krüger zone …) to EPSG:4490.
Whatever goes wrong (no file, no such field, no CRS, a code not in the layer, a geometry that is
not a polygon) becomes one warning for the night and the maps are drawn without that outline:
a missing outline never fails a report.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyogrio
import shapely
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

from minewatch.config import ReportSettings
from minewatch.promised.models import MiningRight

__all__ = ["CHINA_LONLAT", "OUTSIDE_TOLERANCE_DEG", "CountyOutline", "CountyOutlines", "county_code",
           "county_outlines"]

CHINA_LONLAT = (73.0, 3.0, 136.0, 54.0)   # lon/lat box of China: outlines outside it mean a wrong CRS
# a licence whose centre lies farther than this outside its county's outline (about 1 km) means a wrong
# code field, zone or datum: that mine's map is drawn without the outline rather than with a wrong one
OUTSIDE_TOLERANCE_DEG = 0.01


@dataclass(frozen=True)
class CountyOutline:
    code: str                  # 6-digit 县级行政区划代码
    name: str                  # from the layer's name field; "" when it has none
    geometry: BaseGeometry     # (Multi)Polygon, EPSG:4490 lon/lat


@dataclass(frozen=True)
class CountyOutlines:
    outlines: dict[str, CountyOutline] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()       # one line per problem, for the night's log
    outside: frozenset[str] = frozenset()   # licences whose centre is not in their county's outline

    def for_mine(self, right: MiningRight) -> CountyOutline | None:
        """The outline to draw on this mine's locator map (None: none, or one that does not hold it)."""
        return None if right.license_no in self.outside else self.outlines.get(right.county_code)


def county_code(value: Any) -> str:
    """A code field's value as the registry writes it: 6 digits as text ('' for none)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():       # an integer field read as float
        value = int(value)
    text = str(value).strip()
    if re.fullmatch(r"\d{6}000000", text):      # 12-digit 统计用区划代码 of the county itself
        return text[:6]
    return text


def _field(fields: Iterable[str], wanted: str) -> str | None:
    """The layer's own spelling of a field (DBF names are often upper or lower case)."""
    return next((f for f in fields if f.casefold() == wanted.casefold()), None)


def _polygonal(g: BaseGeometry | None) -> BaseGeometry | None:
    """The polygon parts of a geometry made valid; None when nothing polygonal is left."""
    if g is None or g.is_empty:
        return None
    g = shapely.make_valid(g)
    parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon") and not p.is_empty]
    if not parts:
        return None
    out = shapely.union_all(parts)
    return out if out.area > 0 else None


def county_outlines(report: ReportSettings, rights: Iterable[MiningRight]) -> CountyOutlines:
    """The outlines of the rights' county codes from `report.county_boundaries`, with the night's
    warnings. Not configured: nothing, silently (the locator map says it has no outline)."""
    path = report.county_boundaries
    rights = list(rights)
    want = sorted({r.county_code for r in rights if r.county_code})
    if path is None or not want:
        return CountyOutlines()
    tail = "位置示意图不画县界 the locator maps are drawn without county outlines"
    if not Path(path).exists():
        return CountyOutlines(warnings=(f"县界图层不存在 county boundary file not found: {path}; {tail}",))
    try:
        info = pyogrio.read_info(path, layer=report.county_layer)
        fields = [str(f) for f in info["fields"]]
        code_col = _field(fields, report.county_code_field)
        if code_col is None:
            return CountyOutlines(warnings=(
                f"县界图层 {path} 没有代码字段 has no field {report.county_code_field!r} "
                f"(fields: {', '.join(fields)}; set report.county_code_field); {tail}",))
        crs = info["crs"] or (f"EPSG:{report.county_epsg}" if report.county_epsg else None)
        if crs is None:
            return CountyOutlines(warnings=(
                f"县界图层 {path} 未声明坐标系 declares no CRS (set report.county_epsg, e.g. 4490); {tail}",))
        warnings: list[str] = []
        name_col = _field(fields, report.county_name_field) if report.county_name_field else None
        if report.county_name_field and name_col is None:
            warnings.append(f"县界图层 {path} 没有名称字段 has no field {report.county_name_field!r}: "
                            "county names only from report.county_names")
        cols = [code_col] + ([name_col] if name_col else [])
        attrs = pyogrio.read_dataframe(path, layer=report.county_layer, columns=cols, read_geometry=False,
                                       fid_as_index=True)
        keys = attrs[code_col].map(county_code)
        fids = sorted(int(i) for i in attrs.index[keys.isin(want)])
        rows = (pyogrio.read_dataframe(path, layer=report.county_layer, columns=cols, fids=fids)
                if fids else None)
        to_ll = Transformer.from_crs(CRS.from_user_input(crs), 4490, always_xy=True).transform
    except Exception as e:     # GDAL's errors for a damaged or foreign file: tell, draw without
        return CountyOutlines(warnings=(f"县界图层无法读取 cannot read county boundaries {path}: {e}; {tail}",))
    found: dict[str, list[BaseGeometry]] = {}
    names: dict[str, str] = {}
    bad: set[str] = set()
    for _, row in (rows.iterrows() if rows is not None else iter(())):
        code = county_code(row[code_col])
        g = _polygonal(row.geometry)
        if g is None:
            bad.add(code)
            continue
        found.setdefault(code, []).append(g)
        if name_col and not names.get(code) and isinstance(row[name_col], str):
            names[code] = row[name_col].strip()
    outlines: dict[str, CountyOutline] = {}
    for code, geoms in sorted(found.items()):
        g = shapely.transform(shapely.union_all(geoms), lambda x, y: to_ll(x, y), interleaved=False)
        lo0, la0, lo1, la1 = CHINA_LONLAT
        b = g.bounds
        if not all(math.isfinite(v) for v in b) or b[0] < lo0 or b[2] > lo1 or b[1] < la0 or b[3] > la1:
            bad.add(code)
            warnings.append(f"县界图层 {path}: 县 {code} 的坐标不在中国范围内 lies outside China in lon/lat "
                            f"({', '.join(f'{v:.3f}' for v in b)}): wrong CRS? set report.county_epsg")
            continue
        outlines[code] = CountyOutline(code, names.get(code, ""), g)
    bad -= set(outlines)
    no_geom = sorted(c for c in bad if c not in found)
    if no_geom:
        warnings.append(f"县界图层 {path}: 这些县的几何无效或为空 bad or empty geometry for "
                        f"{', '.join(no_geom)}; {tail}")
    missing = [c for c in want if c not in found and c not in bad]
    if missing:
        warnings.append(f"县界图层 {path} 中没有这些县级代码 has no feature with code {', '.join(missing)} "
                        f"(field {code_col}); {tail}")
    stray = sorted((r for r in rights if r.county_code in outlines and outlines[r.county_code].geometry.distance(
        r.boundary.centroid) > OUTSIDE_TOLERANCE_DEG), key=lambda r: r.license_no)
    if stray:
        warnings.append(f"县界图层 {path}: 这些矿区不在其县界内 licences outside their county's outline: "
                        f"{', '.join(f'{r.license_no} ({r.county_code})' for r in stray)} "
                        "(wrong code field, CRS or datum?); their maps have no outline")
    return CountyOutlines(outlines, tuple(warnings), frozenset(r.license_no for r in stray))
