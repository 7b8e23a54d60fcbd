"""Load only a mine's window of Sentinel-2 L2A as a lazy (time, band, y, x) cube.

The grid is always explicit (the mine's UTM zone, fixed resolution, snapped bounds):
stackstac reads only `proj:epsg` while pystac 1.15 writes `proj:code`, and without an
explicit grid it either refuses or builds a misaligned one (DOMAIN.md §5).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pystac
import stackstac
import xarray as xr
from rasterio.enums import Resampling

# Internal band names (Earth Search v1 asset keys); other catalogues map onto these.
BANDS = ("blue", "green", "red", "nir", "swir16", "swir22", "scl")


@dataclass(frozen=True)
class Grid:
    """A north-up grid in a projected CRS: pixel edges on multiples of `resolution`."""
    epsg: int
    bounds: tuple[float, float, float, float]   # minx, miny, maxx, maxy (pixel edges)
    resolution: float

    @property
    def shape(self) -> tuple[int, int]:
        minx, miny, maxx, maxy = self.bounds
        return round((maxy - miny) / self.resolution), round((maxx - minx) / self.resolution)

    @property
    def transform(self):
        from affine import Affine
        return Affine(self.resolution, 0, self.bounds[0], 0, -self.resolution, self.bounds[3])


def grid_around(geom_utm, epsg: int, buffer_m: float, resolution: float) -> Grid:
    """The smallest grid on `resolution` multiples that covers geom plus buffer."""
    minx, miny, maxx, maxy = geom_utm.buffer(buffer_m).bounds
    r = resolution
    return Grid(epsg, (math.floor(minx / r) * r, math.floor(miny / r) * r,
                       math.ceil(maxx / r) * r, math.ceil(maxy / r) * r), r)


def reflectance_offset(item: pystac.Item) -> float:
    """DN offset to subtract before scaling: 1000 from processing baseline 04.00 on.

    Decided from `s2:processing_baseline`, not from the date; if the catalogue says it
    already removed the offset (Earth Search `earthsearch:boa_offset_applied`), it is not
    applied again.
    """
    props = item.properties
    if props.get("earthsearch:boa_offset_applied") is True:
        return 0.0
    baseline = str(props.get("s2:processing_baseline", "0"))
    try:
        major, _, minor = baseline.partition(".")
        newer = (int(major), int(minor or 0)) >= (4, 0)
    except ValueError:
        raise ValueError(f"item {item.id}: unreadable s2:processing_baseline {baseline!r}")
    return 1000.0 if newer else 0.0


def load_window(items: list[pystac.Item], grid: Grid, assets=BANDS, chunk_time: int = 16) -> xr.DataArray:
    """Lazy float32 cube of raw DN on `grid`; no rescaling (offsets are applied by us once).

    `rescale=False` because `raster:bands` scale/offset would otherwise be applied by the
    loader and then again by anyone who follows the processing baseline.
    """
    if not items:
        raise ValueError("no items to load")
    h, w = grid.shape
    da = stackstac.stack(
        items,
        assets=list(assets),
        epsg=grid.epsg,
        resolution=grid.resolution,
        bounds=grid.bounds,
        snap_bounds=False,
        resampling=Resampling.nearest,   # 20 m -> 10 m by replication; SCL must stay categorical
        chunksize=(chunk_time, -1, h, w),
        dtype=np.dtype("float32"),
        fill_value=np.float32(np.nan),
        rescale=False,
        xy_coords="center",
        properties=False,
        band_coords=False,
    )
    offsets = np.array([reflectance_offset(it) for it in _sorted(items)], dtype="float32")
    return da.assign_coords(dn_offset=("time", offsets))


def _sorted(items: list[pystac.Item]) -> list[pystac.Item]:
    # stackstac sorts by datetime (stable), so the offsets must follow the same order
    return sorted(items, key=lambda it: it.datetime)


def to_reflectance(cube: xr.DataArray) -> xr.Dataset:
    """Surface reflectance per band (DN 0 = no data) and the SCL as float codes."""
    bands = {}
    for b in cube.band.values:
        dn = cube.sel(band=b).drop_vars("band")
        if b == "scl":
            bands[b] = dn
            continue
        dn = dn.where(dn > 0)
        bands[b] = (dn - cube.dn_offset) / 10000.0
    return xr.Dataset(bands)
