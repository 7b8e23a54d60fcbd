"""Synthetic county layers (not real borders) around the bundled sample's mines, written as real
OGR files in a chosen CRS, for the locator map's county outline (`report.county_boundaries`)."""
from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import shapely
from pyproj import Transformer
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from minewatch.promised.models import MiningRight
from minewatch.promised.registry import read_registry
from tests.support.paths import REPO


def sample_rights() -> dict[str, MiningRight]:
    """The bundled sample's mining rights by county code (boundaries in EPSG:4490)."""
    return {r.county_code: r for r in read_registry(REPO / "sample_scenes" / "registry.csv").rights}


def county_around(right: MiningRight, radius_km: float = 30.0, off_km: float = 8.0) -> Polygon:
    """An irregular octagon (EPSG:4490) of about `radius_km` holding the licence, its centre
    `off_km` east of the mine so the mine is not at the county's middle."""
    c = right.boundary.centroid
    kx = 111.32 * math.cos(math.radians(c.y))          # km per degree of longitude here
    cx, cy = c.x + off_km / kx, c.y
    pts = [(cx + radius_km * (1 + 0.15 * (k % 2)) * math.cos(a) / kx,
            cy + radius_km * (1 + 0.15 * (k % 2)) * math.sin(a) / 111.0)
           for k, a in enumerate(math.radians(22.5 + 45 * i) for i in range(8))]
    return Polygon(pts)


def write_county_layer(path: Path, counties: list[tuple[object, str, BaseGeometry | None]], epsg: int = 4490,
                       code_field: str = "XZQDM", name_field: str = "XZQMC") -> Path:
    """(code, name, EPSG:4490 geometry) rows as an OGR file (driver from the suffix) in `epsg`."""
    to = Transformer.from_crs(4490, epsg, always_xy=True).transform
    geoms = [None if g is None else shapely.transform(g, lambda x, y: to(x, y), interleaved=False)
             for _, _, g in counties]
    gdf = gpd.GeoDataFrame({code_field: [c for c, _, _ in counties], name_field: [n for _, n, _ in counties]},
                           geometry=geoms, crs=f"EPSG:{epsg}")
    gdf.to_file(path, engine="pyogrio")
    return path
