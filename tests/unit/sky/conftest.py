"""Fixtures of the sky tests: two small overlapping "tiles" of real COGs, one overpass.

Tiles 50TMK and 50TNK of one overpass overlap by 20 px; the second tile reports its offset as
already removed, so equal DN mean different reflectance and a per-scene offset mistake would
show. A third scene on another day stays its own step.
"""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pystac
import pytest
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin

from minewatch.sky.cube import Grid
from minewatch.sky.sources import BANDS, normalise_item

EPSG = 32650
Y0 = 4_400_000                 # top edge of everything
GRID = Grid(EPSG, (500_000, Y0 - 400, 500_600, Y0), 10)     # 40 x 60 px window
TILE_A = (500_000, 500_400)    # x extent of tile A: px columns 0..39
TILE_B = (500_200, 500_600)    # tile B: columns 20..59 (overlap 20..39)
DN = {"blue": 1300, "green": 1500, "red": 1600, "nir": 4000, "swir16": 3000, "swir22": 2500}


def _write(path, arr, res, x0, nodata=0):
    with rasterio.open(path, "w", driver="COG", width=arr.shape[1], height=arr.shape[0], count=1,
                       dtype=arr.dtype, crs=f"EPSG:{EPSG}", transform=from_origin(x0, Y0, res, res),
                       nodata=nodata) as ds:
        ds.write(arr, 1)


def _scene(tmp, sid, xr_, when, *, dn_shift, scl_code, boa_applied, hole=None):
    """One scene: every reflectance band DN[band] + dn_shift; `hole` (c0, c1) 10 m columns
    with DN 0 (no data) in every band."""
    x0, x1 = xr_
    w10, h10 = (x1 - x0) // 10, 400 // 10
    d = tmp / sid
    d.mkdir()
    assets = {}
    for band in BANDS:
        res = 20 if band in ("swir16", "swir22", "scl") else 10
        w, h = w10 * 10 // res, h10 * 10 // res
        if band == "scl":
            arr = np.full((h, w), scl_code, "uint8")
        else:
            arr = np.full((h, w), DN[band] + dn_shift, "uint16")
        if hole is not None:
            c0, c1 = (c * 10 // res for c in hole)
            arr[:, c0:c1] = 0
        _write(d / f"{band}.tif", arr, res, x0)
        assets[band] = pystac.Asset(str(d / f"{band}.tif"), media_type=pystac.MediaType.COG, roles=["data"],
                                    extra_fields={"proj:shape": [h, w], "proj:transform": [res, 0, x0, 0, -res, Y0]})
    t = Transformer.from_crs(EPSG, 4326, always_xy=True)
    lon0, lat0, lon1, lat1 = t.transform_bounds(x0, Y0 - 400, x1, Y0)
    geom = {"type": "Polygon", "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]]}
    props = {"platform": "sentinel-2a", "proj:code": f"EPSG:{EPSG}", "s2:processing_baseline": "05.09",
             "earthsearch:boa_offset_applied": boa_applied, "eo:cloud_cover": 0.0}
    it = pystac.Item(sid, geom, [lon0, lat0, lon1, lat1], when, props, assets=assets)
    return normalise_item(it, "local")


@pytest.fixture()
def grid() -> Grid:
    """The 40 x 60 px window both tiles cover part of."""
    return GRID


@pytest.fixture()
def scenes(tmp_path):
    """(folder of the COGs, A, B, C): A and B the same overpass on two tiles (A with 4 px of no
    data inside the overlap; B with the same DN but its offset already removed), C ten days later."""
    d = tmp_path / "cogs"
    d.mkdir()
    day = datetime(2023, 7, 5, 3, 30, 0, tzinfo=timezone.utc)
    a = _scene(d, "S2A_50TMK_20230705_0_L2A", TILE_A, day, dn_shift=1000, scl_code=4, boa_applied=False,
               hole=(24, 28))
    b = _scene(d, "S2A_50TNK_20230705_0_L2A", TILE_B, day.replace(second=3), dn_shift=1000, scl_code=5,
               boa_applied=True)
    c = _scene(d, "S2A_50TMK_20230715_0_L2A", TILE_A, datetime(2023, 7, 15, 3, 30, tzinfo=timezone.utc),
               dn_shift=1000, scl_code=4, boa_applied=False)
    return d, a, b, c
