"""拐点坐标: CGCS2000 Gauss-Krüger corner points as written in mining licences.

Conventions (docs/domain.md §2):

* EPSG:4490 is CGCS2000 geographic; every geometry this module returns is in
  EPSG:4490 with x = longitude, y = latitude (``always_xy``).
* 3° zones: n = round(lon / 3), central meridian 3n, prefixed EPSG 4513 + (n - 25)
  (zones 25-45), un-prefixed "CM xxE" EPSG 4534 + (n - 25).
* 6° zones: n = floor(lon / 6) + 1, central meridian 6n - 3, prefixed EPSG
  4491 + (n - 13) (zones 13-23), un-prefixed EPSG 4502 + (n - 13).
* Licences write X = northing first (7 integer digits), then Y = easting with the
  zone number as prefix (8 integer digits), 2 decimals. Prefixes 13-23 are 6°
  zones, 25-45 are 3° zones.

Canonical text (what :func:`format_corner_points` writes and
:func:`parse_corner_points` reads)::

    1,4329624.67,39517300.87
    2,4329624.67,39517400.87
    3,4329524.67,39517400.87
    *,,,,1

one point per line ``点号,X,Y``; each ring is closed by a line starting with
``*`` (``*,<top elevation>,<bottom elevation>,,<ring no>`` in licences; the
elevations are left empty). Points are numbered consecutively over all rings and
the first point of a ring is not repeated.
"""
from __future__ import annotations

import math
import re
import unicodedata
from functools import lru_cache

import numpy as np
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

__all__ = [
    "CoordinateError",
    "GEOGRAPHIC_EPSG",
    "gk3_epsg",
    "gk6_epsg",
    "utm_epsg",
    "epsg_from_y",
    "epsg_for_central_meridian",
    "zone_central_meridian",
    "parse_corner_points",
    "format_corner_points",
    "to_utm",
    "transform",
    "area_hm2",
    "normalize_text",
]

GEOGRAPHIC_EPSG = 4490

# China's extent, generous (incl. the South China Sea islands), lon/lat degrees.
CHINA_LON = (73.0, 136.0)
CHINA_LAT = (3.0, 54.0)

_GEOD = Geod(ellps="GRS80")  # the CGCS2000 ellipsoid (a, 1/f identical to GRS80)


class CoordinateError(ValueError):
    """Corner points that cannot be turned into a valid CGCS2000 polygon."""


# --------------------------------------------------------------------------- zones

def gk3_epsg(lon: float) -> int:
    """Prefixed CGCS2000 3° Gauss-Krüger zone EPSG (4513-4533) for a longitude."""
    n = math.floor(lon / 3.0 + 0.5)
    if not 25 <= n <= 45:
        raise CoordinateError(
            f"经度 {lon} 不在CGCS2000 3度带25-45带范围内 / "
            f"longitude {lon} is outside CGCS2000 3-degree zones 25-45")
    return 4513 + (n - 25)


def gk6_epsg(lon: float) -> int:
    """Prefixed CGCS2000 6° Gauss-Krüger zone EPSG (4491-4501) for a longitude."""
    n = math.floor(lon / 6.0) + 1
    if not 13 <= n <= 23:
        raise CoordinateError(
            f"经度 {lon} 不在CGCS2000 6度带13-23带范围内 / "
            f"longitude {lon} is outside CGCS2000 6-degree zones 13-23")
    return 4491 + (n - 13)


def utm_epsg(lon: float, lat: float) -> int:
    """WGS 84 / UTM EPSG (326xx north, 327xx south) for a point."""
    zone = int(math.floor((lon + 180.0) / 6.0)) % 60 + 1
    return (32600 if lat >= 0 else 32700) + zone


def epsg_from_y(y: float) -> int:
    """EPSG of a prefixed easting: first two digits 13-23 -> 6° zone, 25-45 -> 3° zone."""
    if not (math.isfinite(y) and 10_000_000 <= abs(y) < 100_000_000):
        raise CoordinateError(
            f"Y坐标 {y} 不是带带号的8位数 / Y {y} is not an 8-digit easting with zone prefix")
    prefix = int(y // 1_000_000)
    if 13 <= prefix <= 23:
        return 4491 + (prefix - 13)
    if 25 <= prefix <= 45:
        return 4513 + (prefix - 25)
    raise CoordinateError(
        f"Y坐标 {y} 的带号 {prefix} 不是CGCS2000投影带(6度带13-23, 3度带25-45) / "
        f"zone prefix {prefix} of Y {y} is not a CGCS2000 zone (6-degree 13-23, 3-degree 25-45)")


def epsg_for_central_meridian(cm: float) -> int:
    """Un-prefixed CGCS2000 Gauss-Krüger EPSG ("CM xxE", easting 500000) for a CM.

    3° and 6° systems with the same central meridian are the same projection
    (scale factor 1, false easting 500 km), so the 3° "CM" code is used
    (4534-4554, CM 75-135E).
    """
    if cm != int(cm) or int(cm) % 3 != 0 or not 75 <= cm <= 135:
        raise CoordinateError(
            f"中央经线 {cm} 不是CGCS2000高斯-克吕格投影带的中央经线 / "
            f"central meridian {cm} is not a CGCS2000 Gauss-Krüger central meridian (75-135, multiple of 3)")
    return 4534 + (int(cm) // 3 - 25)


def zone_central_meridian(epsg: int) -> float:
    """Central meridian of a CGCS2000 Gauss-Krüger EPSG code (4491-4554)."""
    if 4491 <= epsg <= 4501:
        return 6.0 * (epsg - 4491 + 13) - 3.0
    if 4502 <= epsg <= 4512:
        return 6.0 * (epsg - 4502 + 13) - 3.0
    if 4513 <= epsg <= 4533:
        return 3.0 * (epsg - 4513 + 25)
    if 4534 <= epsg <= 4554:
        return 3.0 * (epsg - 4534 + 25)
    raise CoordinateError(
        f"EPSG:{epsg} 不是CGCS2000高斯-克吕格投影 / EPSG:{epsg} is not a CGCS2000 Gauss-Krüger CRS")


def _is_prefixed(epsg: int) -> bool:
    return 4491 <= epsg <= 4501 or 4513 <= epsg <= 4533


# --------------------------------------------------------------------- transforms

@lru_cache(maxsize=64)
def _transformer(src: int, dst: int) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def transform(geom: BaseGeometry, src_epsg: int, dst_epsg: int) -> BaseGeometry:
    """Transform a shapely geometry between EPSG codes, x/y in traditional GIS order."""
    if src_epsg == dst_epsg:
        return geom
    t = _transformer(int(src_epsg), int(dst_epsg))

    def _f(coords: np.ndarray) -> np.ndarray:
        x, y = t.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, _f)


def to_utm(geom_4490: BaseGeometry) -> tuple[BaseGeometry, int]:
    """Project an EPSG:4490 geometry into the UTM zone of its centroid."""
    c = geom_4490.centroid
    epsg = utm_epsg(c.x, c.y)
    return transform(geom_4490, GEOGRAPHIC_EPSG, epsg), epsg


def area_hm2(geom_4490: BaseGeometry) -> float:
    """Ellipsoidal area (CGCS2000 = GRS80 ellipsoid) in hm², rounded to 4 decimals.

    Holes are subtracted whatever the ring orientation.
    """
    total = 0.0
    for poly in _polygons(geom_4490):
        ext = abs(_GEOD.polygon_area_perimeter(*poly.exterior.xy)[0])
        holes = sum(abs(_GEOD.polygon_area_perimeter(*r.xy)[0]) for r in poly.interiors)
        total += ext - holes
    return round(total / 10_000.0, 4)


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [] if geom.is_empty else [geom]
    if isinstance(geom, MultiPolygon):
        return [g for g in geom.geoms if not g.is_empty]
    if hasattr(geom, "geoms"):
        out: list[Polygon] = []
        for g in geom.geoms:
            out.extend(_polygons(g))
        return out
    return []


# ------------------------------------------------------------------------ parsing

# characters NFKC leaves alone but licences use as separators / signs
_EXTRA_MAP = str.maketrans({
    "、": ",", "，": ",", "；": ";", "：": ":", "　": " ", "。": ".",
    "－": "-", "—": "-", "–": "-", "−": "-", "＊": "*", "×": "*",
})


def normalize_text(text: str) -> str:
    """NFKC (full-width digits/punctuation -> ASCII) plus a few CJK separators."""
    return unicodedata.normalize("NFKC", str(text)).translate(_EXTRA_MAP)


_SEP = re.compile(r"[,\s:|]+")
_NUM = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_CJK = re.compile(r"[\u3400-\u9fff]")


def _clean_token(tok: str) -> str:
    tok = tok.strip().strip("()[]")
    tok = re.sub(r"^(?:[XxYy]|横坐标|纵坐标)=", "", tok)
    tok = re.sub(r"(米|m)$", "", tok)
    return tok


def _looks_coordinate(tok: str) -> bool:
    """A token with at least 5 integer digits: a northing or easting, not a point id."""
    m = re.match(r"^[+-]?(\d+)", tok)
    return bool(m and len(m.group(1)) >= 5)


def _records(text: str) -> list[tuple[int, str]]:
    out = []
    for lineno, line in enumerate(normalize_text(text).splitlines(), start=1):
        for part in line.split(";"):
            part = part.strip()
            if part:
                out.append((lineno, part))
    return out


def parse_corner_points(text: str, central_meridian: float | None = None) -> BaseGeometry:
    """Parse licence-style 拐点坐标 into a Polygon/MultiPolygon in EPSG:4490 (x=lon, y=lat).

    Accepts numbered points ``点号,X,Y`` (X = northing, Y = easting with zone
    prefix) separated by commas, spaces, tabs or full-width punctuation, one per
    line or ``;``-separated; rings closed by a line starting with ``*`` (or by
    repeating the first point, or by point numbering restarting at 1). A ring
    lying inside another becomes a hole. Header lines (``点号 X Y``) and text-only
    annotation lines are skipped.

    ``central_meridian`` is needed only when Y carries no zone prefix (6 integer
    digits); when given together with prefixed Y values, both must agree.
    """
    if text is None or not str(text).strip():
        raise CoordinateError("拐点坐标为空 / corner points are empty")
    if _DMS.search(normalize_text(str(text))):
        return _parse_dms(normalize_text(str(text)))
    rings: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    epsgs: set[int] = set()

    def close_ring() -> None:
        nonlocal current
        if current:
            if len(current) > 1 and current[0] == current[-1]:
                current = current[:-1]
            rings.append(current)
        current = []

    for lineno, rec in _records(str(text)):
        if rec.startswith("*"):
            close_ring()
            continue
        tokens = [_clean_token(t) for t in _SEP.split(rec)]
        tokens = [t for t in tokens if t]
        if not tokens:
            continue
        if not any(_looks_coordinate(t) for t in tokens):
            # header ("点号 X Y") or annotation ("开采深度1200米至1000米") line
            if _CJK.search(rec) or all(not re.search(r"\d", t) for t in tokens):
                continue
            raise CoordinateError(
                f"第{lineno}行无法解析为拐点坐标: {rec!r} / line {lineno}: cannot parse a "
                f"corner point (expected 点号,X,Y)")
        if len(tokens) >= 3:
            pid, xs, ys = tokens[0], tokens[1], tokens[2]
            if len(tokens) > 3 and not _looks_coordinate(tokens[2]):
                raise CoordinateError(
                    f"第{lineno}行字段过多: {rec!r} / line {lineno}: too many fields")
        elif len(tokens) == 2:
            pid, xs, ys = "", tokens[0], tokens[1]
        else:
            raise CoordinateError(
                f"第{lineno}行只有一个数值: {rec!r} / line {lineno}: only one value, need X and Y")
        for name, s in (("X", xs), ("Y", ys)):
            if not _NUM.match(s):
                raise CoordinateError(
                    f"第{lineno}行{name}坐标无法解析: {s!r} / line {lineno}: unparsable {name} value {s!r}")
        x, y = float(xs), float(ys)
        if abs(x) >= 10_000_000 and abs(y) < 10_000_000:
            raise CoordinateError(
                f"第{lineno}行X、Y坐标颠倒: X={xs} 是带带号的8位数 (X应为7位北坐标, Y为8位东坐标) / "
                f"line {lineno}: X and Y swapped: the 8-digit easting {xs} appears in X "
                f"(X is the northing, written first)")
        if abs(y) >= 10_000_000:
            epsg = epsg_from_y(y)
            if central_meridian is not None and zone_central_meridian(epsg) != central_meridian:
                raise CoordinateError(
                    f"第{lineno}行Y坐标带号对应中央经线{_cm(epsg):g}°, 与给定的{central_meridian:g}°不符 / "
                    f"line {lineno}: zone prefix of Y means CM {_cm(epsg):g}E, "
                    f"but central meridian {central_meridian:g}E was given")
        elif 0 < y < 1_000_000:
            if central_meridian is None:
                raise CoordinateError(
                    f"第{lineno}行Y坐标 {ys} 无带号, 需给出中央经线 / line {lineno}: Y {ys} has no "
                    f"zone prefix; pass central_meridian")
            epsg = epsg_for_central_meridian(central_meridian)
        else:
            raise CoordinateError(
                f"第{lineno}行Y坐标 {ys} 不是高斯-克吕格东坐标 / line {lineno}: Y {ys} is not a "
                f"Gauss-Krüger easting")
        epsgs.add(epsg)
        if len(epsgs) > 1:
            raise CoordinateError(
                f"拐点坐标混用了不同投影带 {sorted(epsgs)} / corner points mix zones {sorted(epsgs)}")
        if pid and re.fullmatch(r"\d+", pid) and int(pid) == 1 and len(current) >= 3:
            close_ring()  # numbering restarts: a new ring
        pt = (y, x)  # GIS order: easting, northing
        if len(current) >= 3 and pt == current[0]:
            current.append(pt)
            close_ring()  # ring closed by repeating its first point
            continue
        current.append(pt)
    close_ring()

    if not rings:
        raise CoordinateError("没有找到拐点 / no corner points found")
    (epsg,) = epsgs
    for i, ring in enumerate(rings, start=1):
        distinct = len(set(ring))
        if distinct < 3:
            raise CoordinateError(
                f"第{i}个范围只有{distinct}个拐点, 至少需要3个 / ring {i} has {distinct} "
                f"distinct points, at least 3 are needed")
    _check_extent(rings, epsg)
    geom_plane = _assemble(rings)
    return transform(geom_plane, epsg, GEOGRAPHIC_EPSG)


# 39°48′12.34″N / 111度15分0.5秒 / 111°15'00.5"E: geographic degree-minute-second forms
_DMS = re.compile(r"(\d{1,3})\s*[°度]\s*(\d{1,2})\s*[′'分]\s*(\d{1,2}(?:\.\d+)?)\s*"
                  r"(?:[″\"]|''|秒)?\s*([NSEWnsew东西南北])?")


def _parse_dms(text: str) -> BaseGeometry:
    """Numbered points given as longitude and latitude in degrees, minutes, seconds.

    Which value is which comes from N/S/E/W (北南东西) where written, else from the
    magnitude: within China a longitude (73-136) always exceeds a latitude (3-54).
    """
    rings: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    for lineno, rec in _records(text):
        if rec.startswith("*"):
            if current:
                rings.append(current)
            current = []
            continue
        vals = _DMS.findall(rec)
        if not vals:
            continue                      # header or annotation line
        if len(vals) != 2:
            raise CoordinateError(f"第{lineno}行应有经度和纬度两个度分秒值: {rec!r} / line {lineno}: "
                                  f"expected a longitude and a latitude in degrees-minutes-seconds")
        lon = lat = None
        deg = []
        for d, m, s, h in vals:
            if int(m) >= 60 or float(s) >= 60:
                raise CoordinateError(f"第{lineno}行分或秒不小于60: {rec!r} / line {lineno}: minutes or "
                                      f"seconds of 60 or more")
            v = int(d) + int(m) / 60 + float(s) / 3600
            h = h.upper()
            if h in ("S", "W", "南", "西"):
                raise CoordinateError(f"第{lineno}行位于南半球或西半球, 不在中国范围 / line {lineno}: "
                                      f"a southern or western hemisphere value is outside China")
            if h in ("N", "北"):
                lat = v
            elif h in ("E", "东"):
                lon = v
            deg.append(v)
        if lon is None and lat is None:
            lon, lat = max(deg), min(deg)
        elif lon is None:
            lon = deg[0] if deg[1] == lat else deg[1]
        elif lat is None:
            lat = deg[0] if deg[1] == lon else deg[1]
        assert lon is not None and lat is not None   # every branch above set both
        pt = (lon, lat)
        if len(current) >= 3 and pt == current[0]:
            rings.append(current)
            current = []
            continue
        current.append(pt)
    if current:
        rings.append(current)
    if not rings:
        raise CoordinateError("没有找到拐点 / no corner points found")
    for i, ring in enumerate(rings, start=1):
        if len(set(ring)) < 3:
            raise CoordinateError(f"第{i}个范围少于3个拐点 / ring {i} has fewer than 3 distinct points, "
                                  f"at least 3 are needed")
    _check_extent(rings, GEOGRAPHIC_EPSG)
    return _assemble(rings)


def _cm(epsg: int) -> float:
    return zone_central_meridian(epsg)


def _check_extent(rings: list[list[tuple[float, float]]], epsg: int) -> None:
    pts = np.array([p for r in rings for p in r], dtype=float)
    lon, lat = _transformer(epsg, GEOGRAPHIC_EPSG).transform(pts[:, 0], pts[:, 1])
    lon, lat = np.asarray(lon), np.asarray(lat)
    bad = ~((lon >= CHINA_LON[0]) & (lon <= CHINA_LON[1]) & (lat >= CHINA_LAT[0]) & (lat <= CHINA_LAT[1]))
    bad |= ~np.isfinite(lon) | ~np.isfinite(lat)
    if bad.any():
        i = int(np.argmax(bad))
        raise CoordinateError(
            f"拐点 X={pts[i, 1]:.2f}, Y={pts[i, 0]:.2f} 换算为经纬度({lon[i]:.4f}, {lat[i]:.4f}) "
            f"超出中国范围 / point X={pts[i, 1]:.2f} Y={pts[i, 0]:.2f} falls outside China "
            f"(lon {lon[i]:.4f}, lat {lat[i]:.4f}) in EPSG:{epsg}")


def _assemble(rings: list[list[tuple[float, float]]]) -> BaseGeometry:
    """Rings (planar) -> Polygon/MultiPolygon; a ring inside another becomes a hole."""
    simple = []
    for i, r in enumerate(rings, start=1):
        lr = Polygon(r)
        if not lr.is_valid:
            raise CoordinateError(
                f"第{i}个范围无效(自相交或拐点顺序错误): {explain_validity(lr)} / ring {i} is invalid "
                f"(self-intersection or wrong point order): {explain_validity(lr)}")
        simple.append(lr)
    n = len(simple)
    # nesting depth: how many other rings contain this one
    parents: list[list[int]] = [[] for _ in range(n)]
    for i in range(n):
        for j in range(n):
            if i != j and simple[j].contains(simple[i]) and (
                    simple[j].area > simple[i].area or j < i):
                parents[i].append(j)
    depth = [len(p) for p in parents]
    shells = [i for i in range(n) if depth[i] % 2 == 0]
    holes_of: dict[int, list[int]] = {i: [] for i in shells}
    for i in range(n):
        if depth[i] % 2 == 1:
            # immediate parent: the containing ring with depth one less
            parent = [j for j in parents[i] if depth[j] == depth[i] - 1]
            holes_of[parent[0]].append(i)
    polys = []
    for s in shells:
        p = Polygon(rings[s], [rings[h] for h in holes_of[s]])
        if not p.is_valid:
            raise CoordinateError(
                f"第{s + 1}个范围与其内部范围构成的多边形无效: {explain_validity(p)} / polygon of ring "
                f"{s + 1} with its holes is invalid: {explain_validity(p)}")
        polys.append(p)
    if len(polys) == 1:
        return polys[0]
    mp = MultiPolygon(polys)
    if not mp.is_valid:
        raise CoordinateError(
            f"多个范围相互重叠或相交: {explain_validity(mp)} / rings overlap or cross: "
            f"{explain_validity(mp)}")
    return mp


# --------------------------------------------------------------------- formatting

def format_corner_points(geom_4490: BaseGeometry, epsg: int | None = None) -> str:
    """Canonical licence-style 拐点坐标 text that :func:`parse_corner_points` reads back.

    One point per line ``点号,X,Y`` (X northing, Y easting, 2 decimals), points
    numbered consecutively over all rings, each ring (exterior, then its holes,
    polygon by polygon) closed by ``*,,,,<ring no>``. Default CRS: the prefixed
    3° zone of the centroid. With an un-prefixed EPSG (4502-4512, 4534-4554) Y
    has no zone prefix and the reader needs ``central_meridian``.
    """
    polys = _polygons(geom_4490)
    if not polys:
        raise CoordinateError("几何为空或不是面 / geometry is empty or not a polygon")
    if epsg is None:
        epsg = gk3_epsg(geom_4490.centroid.x)
    zone_central_meridian(epsg)  # validates the code
    t = _transformer(GEOGRAPHIC_EPSG, epsg)
    lines: list[str] = []
    pno = 0
    ring_no = 0
    for poly in polys:
        for ring in [poly.exterior, *poly.interiors]:
            coords = np.asarray(ring.coords)[:-1]
            east, north = t.transform(coords[:, 0], coords[:, 1])
            ring_no += 1
            for e, nn in zip(np.atleast_1d(east), np.atleast_1d(north)):
                pno += 1
                lines.append(f"{pno},{nn:.2f},{e:.2f}")
            lines.append(f"*,,,,{ring_no}")
    return "\n".join(lines)
