"""The one-map layers again in the province's CGCS2000 3° Gauss-Krüger zone.

The platform's 国土空间规划 and 三调 databases are kept in CGCS2000, Gauss-Krüger, 3° zones
(数学基础 of 《市级国土空间总体规划数据库规范（试行）》 and TD/T 1055). Of the two EPSG
families for those zones the default is the prefixed one, EPSG:4513-4533 ("3-degree
Gauss-Kruger zone 25-45": easting = zone number × 10⁶ + 500 000 m), because that is the
form licences write their 拐点坐标 in and the one-map's `corner_points` and the reports'
coordinates use; a platform that wants the "CM" form (4534-4554, easting 500 000 m without
prefix) sets ``onemap.gk_epsg``. The zone is the mine's, as `navigation.mine_zone_epsg`
takes it, counted over the night's mines: the most common one (the lowest code on a tie).

Layers are named ``<layer>_gk`` beside the EPSG:4490 ones, in the same package, with the
same fields and values: the areas stay the geodesic hm² of the 4490 layers.
"""
from __future__ import annotations

from collections import Counter

import geopandas as gpd

from minewatch.outputs.navigation import mine_zone_epsg
from minewatch.promised import coords
from minewatch.promised.models import MiningRight

__all__ = ["GK_SUFFIX", "gk_layer_name", "night_zone_epsg", "project_layers", "zone_text_zh"]

GK_SUFFIX = "_gk"


def gk_layer_name(layer: str) -> str:
    return f"{layer}{GK_SUFFIX}"


def night_zone_epsg(rights: list[MiningRight], configured: int | None = None) -> int | None:
    """`configured` when set (validated as a CGCS2000 GK code), else the prefixed 3° zone of
    most mines' boundary centroids; None when there is no mine to choose from."""
    if configured is not None:
        coords.zone_central_meridian(configured)
        return configured
    zones = Counter(mine_zone_epsg(r.boundary, r.boundary.centroid.x) for r in rights
                    if r.boundary is not None and not r.boundary.is_empty)
    if not zones:
        return None
    return min(zones, key=lambda z: (-zones[z], z))


def zone_text_zh(epsg: int) -> str:
    """The zone as a GIS user names it: 'CGCS2000 3度带高斯-克吕格投影 第37带 (中央经线111°E, Y含带号) EPSG:4525'."""
    cm = coords.zone_central_meridian(epsg)
    prefixed = 4513 <= epsg <= 4533
    form = "Y含带号" if prefixed else "Y不含带号"
    return f"CGCS2000 3度带高斯-克吕格投影 第{int(cm) // 3}带 (中央经线{int(cm)}°E, {form}) EPSG:{epsg}"


def project_layers(frames: dict[str, gpd.GeoDataFrame], epsg: int) -> dict[str, gpd.GeoDataFrame]:
    """`<layer>_gk` frames: the same rows, geometry transformed (pyproj, x = easting)."""
    return {gk_layer_name(name): df.to_crs(epsg) for name, df in frames.items()}
