"""sky.cube: grids, offsets, same-day merging of tiles (small real COGs), and the sample's
pixels against plain rasterio windowed reads."""
from datetime import date, datetime, timezone

import numpy as np
import pystac
import pytest
import rasterio
import shapely
from pyproj import Transformer
from rasterio.enums import Resampling
from rasterio.windows import from_bounds
from shapely.geometry import box

from minewatch.promised import coords
from minewatch.sky import catalog, cube
from minewatch.sky.cube import grid_around, reflectance_offset
from minewatch.sky.sources import BANDS
from minewatch.synth import sample


@pytest.mark.slow
def test_unit_pixels_agree_with_rasterio_windowed_reads(sample_loaded):
    m = sample.MINES[0]
    right = sample.mining_right(m)
    unit = sample.annual_plan(m).section("planned")[1]
    boundary_utm, epsg = coords.to_utm(right.boundary)
    grid = cube.grid_around(boundary_utm, epsg, 300, 10)
    t = Transformer.from_crs(grid.epsg, 4326, always_xy=True)
    items = catalog.search_scenes(sample_loaded.url, "sentinel-2-l2a", t.transform_bounds(*grid.bounds),
                                  date(2026, 7, 1), date(2026, 7, 31))
    assert len(items) >= 5
    refl = cube.to_reflectance(cube.load_window(items, grid)).compute()

    ug = shapely.transform(unit.geometry, Transformer.from_crs(4490, epsg, always_xy=True).transform,
                           interleaved=False)
    minx, miny, maxx, maxy = (round(v / 10) * 10 for v in ug.bounds)   # the unit's rect is on the 10 m grid
    r0, c0 = round((grid.bounds[3] - maxy) / 10), round((minx - grid.bounds[0]) / 10)
    h, w = int(round((maxy - miny) / 10)), int(round((maxx - minx) / 10))
    for k, it in enumerate(sorted(items, key=lambda i: i.datetime)):
        for band in ("red", "nir", "swir16", "scl"):
            with rasterio.open(it.assets[band].href) as ds:
                win = from_bounds(minx, miny, maxx, maxy, ds.transform)
                direct = ds.read(1, window=win, out_shape=(h, w), resampling=Resampling.nearest).astype("float64")
            ours = refl[band].isel(time=k).values[r0:r0 + h, c0:c0 + w]
            if band != "scl":
                direct = (direct - 1000) / 10000
            np.testing.assert_allclose(ours, direct, rtol=0, atol=1e-6, err_msg=f"{it.id} {band}")
        assert str(refl.id.values[k]) == it.id


def test_grid_is_snapped_and_covers_buffer():
    g = grid_around(box(500003, 4400007, 500991, 4401002), 32650, 100, 10)
    assert g.bounds == (499900, 4399900, 501100, 4401110)
    assert g.shape == (121, 120)


@pytest.mark.parametrize("props,offset", [
    ({"s2:processing_baseline": "05.09"}, 1000.0),
    ({"s2:processing_baseline": "04.00"}, 1000.0),
    ({"s2:processing_baseline": "03.01"}, 0.0),
    ({"s2:processing_baseline": "05.09", "earthsearch:boa_offset_applied": True}, 0.0),
])


def test_offset_follows_processing_baseline(props, offset):
    it = pystac.Item("x", None, None, datetime(2022, 1, 1), props)
    assert reflectance_offset(it) == offset


# ---- same-day tiles become one time step: nothing double counted, nothing lost

def test_same_day_tiles_merge_into_one_step(scenes, grid):
    _, a, b, c = scenes
    assert a.properties["minewatch:dn_offset"] == 1000.0 and b.properties["minewatch:dn_offset"] == 0.0
    raw = cube.load_window([c, b, a], grid, chunk_time=2)      # any input order
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


def test_clear_observations_are_counted_once(scenes, grid):
    from minewatch.sky import masks
    _, a, b, c = scenes
    refl = cube.to_reflectance(cube.load_window([a, b, c], grid))
    clear = masks.clear_mask(refl.scl, (0, 1, 3, 8, 9, 10), 0).compute().values
    counts = clear.sum(axis=0)
    assert counts[:, :40].tolist() == [[2] * 40] * 40     # A's footprint: 5 July (merged) + 15 July
    assert counts[:, 40:].tolist() == [[1] * 20] * 40     # B only: 5 July, once


def test_merged_equals_per_scene_reflectance(scenes, grid):
    # each scene loaded alone gives exactly the pixels the merge took from it
    _, a, b, _ = scenes
    merged = cube.to_reflectance(cube.load_window([a, b], grid)).compute()
    only_a = cube.to_reflectance(cube.load_window([a], grid)).compute()
    only_b = cube.to_reflectance(cube.load_window([b], grid)).compute()
    for band in BANDS:
        m, pa, pb = (x[band].isel(time=0).values for x in (merged, only_a, only_b))
        want = np.where(np.isfinite(pa), pa, pb)
        np.testing.assert_array_equal(m, want, err_msg=band)
    assert str(only_a.id.values[0]) == a.id and only_a.n_scenes.values.tolist() == [1]


def test_different_platforms_same_day_stay_apart(scenes, tmp_path, grid):
    _, a, b, _ = scenes
    b2 = b.clone()
    b2.id = "S2B_50TNK_20230705_0_L2A"
    b2.properties["platform"] = "sentinel-2b"
    raw = cube.load_window([a, b2], grid)
    assert raw.sizes["time"] == 2 and raw.n_scenes.values.tolist() == [1, 1]


def test_solar_day_uses_longitude():
    # 23:30 UTC at 120 E is 07:30 the next local solar day; at 0 E it is the same day
    late = datetime(2023, 7, 4, 23, 30, tzinfo=timezone.utc)
    east = pystac.Item("e", None, [119.9, 40, 120.1, 40.1], late, {})
    west = pystac.Item("w", None, [-0.1, 40, 0.1, 40.1], late, {})
    assert str(cube.solar_day(east)) == "2023-07-05" and str(cube.solar_day(west)) == "2023-07-04"
