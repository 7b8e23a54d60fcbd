"""The cube stage reads the same pixels plain rasterio windowed reads give."""
from datetime import date

import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from rasterio.enums import Resampling
from rasterio.windows import from_bounds
from shapely.ops import transform as shp_transform

from minewatch.promised import coords
from minewatch.sky import catalog, cube
from minewatch.synth import sample

pytestmark = pytest.mark.slow


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

    ug = shp_transform(Transformer.from_crs(4490, epsg, always_xy=True).transform, unit.geometry)
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
