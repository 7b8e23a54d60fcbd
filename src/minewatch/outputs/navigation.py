"""Where an anomaly is, in the coordinates an inspector carries to the site.

Per anomaly: its centroid in CGCS2000 lon/lat (6 decimals, ~0.1 m) and in the licence's 3°
Gauss-Krüger zone (X northing, Y easting with zone prefix, as 拐点坐标 are written), and the
nearest corner of the licence boundary with distance and bearing. The centroid is taken in
the Gauss-Krüger plane (a lon/lat centroid is skewed by the meridian convergence) and the
zone is the mine's, so all of one mine's anomalies share it with the licence.

Reports, KML, GPX and the overview page all take their coordinates from here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from minewatch.promised import coords

__all__ = ["DATUM_NOTE_ZH", "Location", "locate", "mine_zone_epsg", "report_order"]

# printed under every coordinate table: which datum the numbers are in and what phones show
DATUM_NOTE_ZH = ("坐标系: 经纬度为 CGCS2000 (与 WGS 84 相差厘米级, GPS 手持机按 WGS 84 设置即可); "
                 "X/Y 为 CGCS2000 3度带高斯-克吕格投影 (X 北向, Y 东向含带号), 与采矿许可证拐点坐标一致。"
                 "国内手机地图 (高德、百度、腾讯) 使用 GCJ-02 等加密坐标, 直接输入本表经纬度会偏移数百米, "
                 "请使用支持 WGS 84 的软件或导入 KML/GPX 文件。")

_DIRECTIONS_ZH = ("北", "东北", "东", "东南", "南", "西南", "西", "西北")


@dataclass(frozen=True)
class Location:
    lon: float                  # CGCS2000 degrees, 6 decimals
    lat: float
    gk_epsg: int                # prefixed 3° zone
    x: float                    # northing, m, 2 decimals
    y: float                    # easting with zone prefix, m, 2 decimals
    corner_no: int | None       # nearest licence boundary corner (numbered as in 拐点坐标)
    corner_x: float | None
    corner_y: float | None
    corner_distance_m: float | None
    corner_bearing_zh: str      # direction from the corner to the anomaly

    @property
    def corner_text(self) -> str:
        if self.corner_no is None:
            return "—"
        return f"拐点{self.corner_no} 向{self.corner_bearing_zh} {self.corner_distance_m:.0f} m"


def report_order(f: dict) -> tuple:
    """Sort key of a mine's anomalies: the order that numbers them A1, A2 … in the report,
    KML and GPX alike (resolved ones last, so the active ones keep the same labels)."""
    p = f["properties"]
    return (p.get("status") == "resolved", p.get("unit_section") or "~", p.get("unit_seq") or 0, p["type"],
            str(f.get("id") or p.get("id")))


def mine_zone_epsg(boundary_4490: BaseGeometry | None, fallback_lon: float) -> int:
    """The licence's 3° zone: from the boundary's centroid (the zone its 拐点坐标 are in)."""
    lon = boundary_4490.centroid.x if boundary_4490 is not None and not boundary_4490.is_empty else fallback_lon
    return coords.gk3_epsg(lon)


def _corners(boundary_4490: BaseGeometry) -> np.ndarray:
    """Boundary corners in 拐点坐标 order (rings polygon by polygon, first point not repeated)."""
    polys = boundary_4490.geoms if hasattr(boundary_4490, "geoms") else [boundary_4490]
    pts = [np.asarray(r.coords)[:-1, :2] for p in polys for r in [p.exterior, *p.interiors]]
    return np.concatenate(pts) if pts else np.empty((0, 2))


def _bearing_zh(dx: float, dy: float) -> str:
    deg = math.degrees(math.atan2(dx, dy)) % 360.0
    return _DIRECTIONS_ZH[int((deg + 22.5) // 45) % 8]


def locate(geometry: dict | BaseGeometry, boundary_4490: BaseGeometry | None = None,
           gk_epsg: int | None = None) -> Location:
    """Location of one anomaly geometry (GeoJSON dict or shapely, lon/lat)."""
    g = shape(geometry) if isinstance(geometry, dict) else geometry
    epsg = gk_epsg or mine_zone_epsg(boundary_4490, g.centroid.x)
    g_gk = coords.transform(g, coords.GEOGRAPHIC_EPSG, epsg)
    c = g_gk.centroid
    ll = coords.transform(shapely.Point(c.x, c.y), epsg, coords.GEOGRAPHIC_EPSG)
    corner = (None, None, None, None, "")
    if boundary_4490 is not None and not boundary_4490.is_empty:
        ll_corners = _corners(boundary_4490)
        mp = coords.transform(shapely.MultiPoint(ll_corners), coords.GEOGRAPHIC_EPSG, epsg)
        gk = np.array([(p.x, p.y) for p in mp.geoms])
        d = np.hypot(gk[:, 0] - c.x, gk[:, 1] - c.y)
        i = int(np.argmin(d))
        corner = (i + 1, round(float(gk[i, 1]), 2), round(float(gk[i, 0]), 2), float(d[i]),
                  _bearing_zh(c.x - gk[i, 0], c.y - gk[i, 1]))
    return Location(lon=round(ll.x, 6), lat=round(ll.y, 6), gk_epsg=epsg, x=round(c.y, 2), y=round(c.x, 2),
                    corner_no=corner[0], corner_x=corner[1], corner_y=corner[2], corner_distance_m=corner[3],
                    corner_bearing_zh=corner[4])
