"""Same-day scenes from overlapping MGRS tiles become one time step: nothing double counted, nothing lost.

Two small real COGs per band ("tiles" 50TMK and 50TNK of one overpass) overlap by 20 px; the
second tile reports its offset as already removed, so equal DN mean different reflectance and
a per-scene offset mistake would show. A third scene on another day stays its own step.
"""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pystac
import pytest
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin

from minewatch.sky import cube
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
def scenes(tmp_path):
    day = datetime(2023, 7, 5, 3, 30, 0, tzinfo=timezone.utc)
    a = _scene(tmp_path, "S2A_50TMK_20230705_0_L2A", TILE_A, day, dn_shift=1000, scl_code=4,
               boa_applied=False, hole=(24, 28))         # 4 px of no data inside the overlap
    b = _scene(tmp_path, "S2A_50TNK_20230705_0_L2A", TILE_B, day.replace(second=3), dn_shift=1000,
               scl_code=5, boa_applied=True)               # same DN, but offset already removed
    c = _scene(tmp_path, "S2A_50TMK_20230715_0_L2A", TILE_A, datetime(2023, 7, 15, 3, 30, tzinfo=timezone.utc),
               dn_shift=1000, scl_code=4, boa_applied=False)
    return a, b, c


def test_same_day_tiles_merge_into_one_step(scenes):
    a, b, c = scenes
    assert a.properties["minewatch:dn_offset"] == 1000.0 and b.properties["minewatch:dn_offset"] == 0.0
    raw = cube.load_window([c, b, a], GRID, chunk_time=2)      # any input order
    assert raw.sizes["time"] == 2                              # 3 scenes, 2 days: not double counted
    assert [str(i) for i in raw.id.values] == [f"{a.id}+{b.id}", c.id]
    assert cube.split_ids(raw.id.values[0]) == [a.id, b.id]    # every part a real item id
    assert raw.n_scenes.values.tolist() == [2, 1]
    assert str(raw.time.values[0])[:19] == "2023-07-05T03:30:00"

    refl = cube.to_reflectance(raw).compute()
    red, scl = refl.red.isel(time=0).values, refl.scl.isel(time=0).values
    from_a = np.r_[0:24, 28:40]      # A alone (0..19) and the overlap (20..39) where A has data:
    from_b = np.r_[24:28, 40:60]     # A wins (first in order); B where A has no data, and B alone
    # A's offset 1000 removed; B's DN are the same but its offset was already removed
    np.testing.assert_allclose(red[:, from_a], 0.16, atol=1e-6)
    np.testing.assert_allclose(red[:, from_b], 0.26, atol=1e-6)
    assert (scl[:, from_a] == 4).all() and (scl[:, from_b] == 5).all()
    # nothing lost: every pixel either tile covers is valid, in every band, 20 m ones included
    for band in refl.data_vars:
        assert np.isfinite(refl[band].isel(time=0).values).all(), band
    np.testing.assert_allclose(refl.swir16.isel(time=0).values[:, from_a], 0.30, atol=1e-6)
    np.testing.assert_allclose(refl.swir16.isel(time=0).values[:, from_b], 0.40, atol=1e-6)
    # the other day covers tile A only
    red1 = refl.red.isel(time=1).values
    np.testing.assert_allclose(red1[:, :40], 0.16, atol=1e-6)
    assert np.isnan(red1[:, 40:]).all()


def test_clear_observations_are_counted_once(scenes):
    from minewatch.sky import masks
    a, b, c = scenes
    refl = cube.to_reflectance(cube.load_window([a, b, c], GRID))
    clear = masks.clear_mask(refl.scl, (0, 1, 3, 8, 9, 10), 0).compute().values
    counts = clear.sum(axis=0)
    assert counts[:, :40].tolist() == [[2] * 40] * 40     # A's footprint: 5 July (merged) + 15 July
    assert counts[:, 40:].tolist() == [[1] * 20] * 40     # B only: 5 July, once


def test_merged_equals_per_scene_reflectance(scenes):
    # each scene loaded alone gives exactly the pixels the merge took from it
    a, b, _ = scenes
    merged = cube.to_reflectance(cube.load_window([a, b], GRID)).compute()
    only_a = cube.to_reflectance(cube.load_window([a], GRID)).compute()
    only_b = cube.to_reflectance(cube.load_window([b], GRID)).compute()
    for band in BANDS:
        m, pa, pb = (x[band].isel(time=0).values for x in (merged, only_a, only_b))
        want = np.where(np.isfinite(pa), pa, pb)
        np.testing.assert_array_equal(m, want, err_msg=band)
    assert str(only_a.id.values[0]) == a.id and only_a.n_scenes.values.tolist() == [1]


def test_different_platforms_same_day_stay_apart(scenes, tmp_path):
    a, b, _ = scenes
    b2 = b.clone()
    b2.id = "S2B_50TNK_20230705_0_L2A"
    b2.properties["platform"] = "sentinel-2b"
    raw = cube.load_window([a, b2], GRID)
    assert raw.sizes["time"] == 2 and raw.n_scenes.values.tolist() == [1, 1]


def test_solar_day_uses_longitude():
    # 23:30 UTC at 120 E is 07:30 the next local solar day; at 0 E it is the same day
    late = datetime(2023, 7, 4, 23, 30, tzinfo=timezone.utc)
    east = pystac.Item("e", None, [119.9, 40, 120.1, 40.1], late, {})
    west = pystac.Item("w", None, [-0.1, 40, 0.1, 40.1], late, {})
    assert str(cube.solar_day(east)) == "2023-07-05" and str(cube.solar_day(west)) == "2023-07-04"
