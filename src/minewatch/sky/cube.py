"""Load only a mine's window of Sentinel-2 L2A as a lazy (time, band, y, x) cube.

The grid is always explicit (the mine's UTM zone, fixed resolution, snapped bounds):
stackstac reads only `proj:epsg` while pystac 1.15 writes `proj:code`, and without an
explicit grid it either refuses or builds a misaligned one (docs/domain.md §5).

What `load_window` returns, per time step:

- values are offset-free DN, i.e. reflectance x 10000 (the processing-baseline offset of each
  scene already subtracted, once, from `minewatch:dn_offset`), NaN where there is no data
  (DN 0 in the file, or outside the scene's footprint); SCL codes as floats, NaN for no data;
- one time step per platform and solar day: scenes of the same overpass cut into several MGRS
  tiles (or published twice) are merged pixel by pixel, the first scene that has every band
  valid at a pixel wins (scenes in (datetime, id) order), so nothing is double counted and no
  pixel that any tile covers is lost;
- coordinate `id`: the STAC ids of the scenes in that step, joined with "+" in merge order
  (`"S2A_49SFA_20230705_0_L2A+S2A_49SGA_20230705_0_L2A"`; `split_ids` undoes it). Every part
  is a real item id and a single-scene step is exactly its item id; one step stays one entry
  in evidence lists, so counts of clear observations and of evidence scenes still agree;
  coordinate `n_scenes`: how many scenes were merged;
- 20 m bands (swir16, swir22, scl) resampled to 10 m by nearest neighbour: on Sentinel-2's
  aligned grids that is exact 2x2 replication, which keeps SCL categorical and keeps the
  reflectance of a 20 m pixel unchanged (no smoothing across field edges).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pystac
import stackstac
import xarray as xr
from affine import Affine
from rasterio.enums import Resampling
from shapely.geometry.base import BaseGeometry
from stackstac.rio_env import LayeredEnv

from minewatch.sky.reader import ERRORS_AS_NODATA
from minewatch.sky.sources import BANDS, CLOUD_PROB, DN_OFFSET_PROP
from minewatch.sky.sources import dn_offset as _dn_offset_from_metadata

ID_SEP = "+"     # joins the ids of scenes merged into one time step (never in an S2 item id)
_NO_ZERO = ("scl",)    # besides reflectance bands, assets where 0 means no data


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
    def transform(self) -> Affine:
        return Affine(self.resolution, 0, self.bounds[0], 0, -self.resolution, self.bounds[3])


def grid_around(geom_utm: BaseGeometry, epsg: int, buffer_m: float, resolution: float) -> Grid:
    """The smallest grid on `resolution` multiples that covers geom plus buffer."""
    minx, miny, maxx, maxy = geom_utm.buffer(buffer_m).bounds
    r = resolution
    return Grid(epsg, (math.floor(minx / r) * r, math.floor(miny / r) * r,
                       math.ceil(maxx / r) * r, math.ceil(maxy / r) * r), r)


def reflectance_offset(item: pystac.Item) -> float:
    """DN offset to subtract before scaling: `minewatch:dn_offset` as `sources.normalise_item`
    decided it; for an item that was not normalised, the same rule from its metadata
    (`s2:processing_baseline` >= 04.00: 1000, unless `earthsearch:boa_offset_applied`)."""
    v = item.properties.get(DN_OFFSET_PROP)
    return float(v) if v is not None else _dn_offset_from_metadata(item)


def split_ids(step_id: str) -> list[str]:
    """The STAC item ids behind one time step's `id` (see the module docstring)."""
    return str(step_id).split(ID_SEP)


def _when(item: pystac.Item) -> datetime:
    d = item.datetime or pystac.utils.str_to_datetime(item.properties["start_datetime"])
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


def load_order(items: list[pystac.Item]) -> list[pystac.Item]:
    """`items` in the order `load_window` stacks them: (datetime, id)."""
    return sorted(items, key=lambda it: (_when(it), it.id))


def platform(item: pystac.Item) -> str:
    """The item's platform as a lowercase slug ("sentinel-2a"); from its id if unset."""
    p = item.properties.get("platform")
    return str(p).lower().replace(" ", "-") if p else item.id[:3].lower()


def solar_day(item: pystac.Item) -> date:
    """Local solar date of the acquisition (UTC shifted by the scene centre's longitude / 15 h)."""
    lon = 0.0
    if item.bbox:
        lon = (item.bbox[0] + item.bbox[2]) / 2
    elif item.geometry:
        from shapely.geometry import shape
        lon = shape(item.geometry).centroid.x
    return (_when(item) + timedelta(hours=lon / 15.0)).date()


def same_day_groups(items: list[pystac.Item]) -> list[list[int]]:
    """Indices into `items` (already in load order) grouped by (platform, solar day), each group
    in load order, groups ordered by their first member."""
    groups: dict[tuple[str, date], list[int]] = {}
    for i, it in enumerate(items):
        groups.setdefault((platform(it), solar_day(it)), []).append(i)
    return sorted(groups.values(), key=lambda g: g[0])


def default_assets(items: list[pystac.Item]) -> list[str]:
    """`BANDS`, plus `cloud_prob` when any item has that asset (`normalise_item(..., cloud_prob=True)`)."""
    return list(BANDS) + ([CLOUD_PROB] if any(CLOUD_PROB in it.assets for it in items) else [])


def stack_dn(ordered: list[pystac.Item], grid: Grid, assets: list[str], chunk_time: int = 16,
             reader: type | None = None, gdal_env: LayeredEnv | None = None) -> xr.DataArray:
    """stackstac's lazy float32 (time, band, y, x) array of the files' DN on `grid`, one step
    per item in the given order (NaN outside a scene; DN 0 and offsets untouched)."""
    h, w = grid.shape
    return stackstac.stack(
        # plain dicts: pystac's to_dict() would otherwise resolve `root` links over the network
        [it.to_dict(transform_hrefs=False) for it in ordered],
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
        sortby_date=False,               # keep our (datetime, id) order: offsets and ids follow it
        xy_coords="center",
        properties=False,
        band_coords=False,
        errors_as_nodata=ERRORS_AS_NODATA,   # a bad asset raises, over HTTP as on disk (sky.reader)
        **({"reader": reader} if reader is not None else {}),
        **({"gdal_env": gdal_env} if gdal_env is not None else {}),
    )


def load_window(items: list[pystac.Item], grid: Grid, assets: Sequence[str] | None = None, chunk_time: int = 16,
                reader: type | None = None, gdal_env: LayeredEnv | None = None) -> xr.DataArray:
    """Lazy float32 (time, band, y, x) cube of offset-free DN on `grid`, one step per platform
    and solar day (module docstring). `assets`: internal band names; None: `default_assets`.
    `reader`: a stackstac Reader class (None: stackstac's own; the pipeline passes
    `reader.WindowReader`, which gives the same pixels with fewer opens). `gdal_env`: the
    GDAL options of every open and read (None: stackstac's; the pipeline passes
    `reader.gdal_env(settings.catalog)`, which adds the HTTP timeout and retries).

    `rescale=False`: `raster:bands` scale/offset would otherwise be applied by the loader and
    then again by anyone who follows the processing baseline (and Earth Search declares -0.1
    even for scenes whose pixels were already shifted).
    """
    if not items:
        raise ValueError("no items to load")
    ordered = load_order(items)
    if assets is None:
        assets = default_assets(ordered)
    assets = list(assets)
    da = stack_dn(ordered, grid, assets, chunk_time, reader=reader, gdal_env=gdal_env)
    # Per scene, before any merging: DN 0 -> no data, then subtract that scene's own offset.
    refl_band = np.array([a not in (CLOUD_PROB, *_NO_ZERO) for a in assets])
    zero_nodata = xr.DataArray(refl_band | np.isin(assets, _NO_ZERO), dims="band")
    offsets = np.array([reflectance_offset(it) for it in ordered], dtype="float32")
    off = xr.DataArray(offsets[:, None] * refl_band[None, :], dims=("time", "band")).astype("float32")
    da = da.where(~(zero_nodata & (da == 0))) - off
    return _merge_same_day(da, ordered, assets, chunk_time)


def _merge_same_day(da: xr.DataArray, ordered: list[pystac.Item], assets: list[str],
                    chunk_time: int) -> xr.DataArray:
    groups = same_day_groups(ordered)
    ids = [ID_SEP.join(ordered[i].id for i in g) for g in groups]
    keep = {k: v for k, v in da.coords.items() if "time" not in v.dims}
    coords = {**keep, "time": da.time.values[[g[0] for g in groups]],
              "id": ("time", np.array(ids, dtype=object)),
              "n_scenes": ("time", np.array([len(g) for g in groups], dtype="int16"))}
    if all(len(g) == 1 for g in groups):
        return xr.DataArray(da.data, dims=da.dims, coords=coords, name=da.name)

    import dask.array as dsa
    arr = da.data
    n = arr.shape[0]
    pad = dsa.full((1, *arr.shape[1:]), np.nan, dtype=arr.dtype, chunks=(1, *arr.chunksize[1:]))
    ext = dsa.concatenate([arr, pad], axis=0)          # index n: an all-NaN scene
    depth = max(len(g) for g in groups)
    layers = [ext[[g[r] if r < len(g) else n for g in groups]] for r in range(depth)]
    judged = [i for i, a in enumerate(assets) if a != CLOUD_PROB]   # bands that must all be valid
    valid = [~dsa.isnan(lay[:, judged]).any(axis=1, keepdims=True) for lay in layers]
    full, ok = dsa.where(valid[0], layers[0], np.nan), valid[0]
    partial = layers[0]
    for lay, v in zip(layers[1:], valid[1:]):
        full = dsa.where(ok, full, dsa.where(v, lay, np.nan))   # whole pixel from the first complete scene
        ok = ok | v
        partial = dsa.where(dsa.isnan(partial), lay, partial)   # else band by band, first valid
    merged = dsa.where(ok, full, partial).astype(arr.dtype)
    merged = merged.rechunk((chunk_time, *arr.chunksize[1:]))
    return xr.DataArray(merged, dims=da.dims, coords=coords, name=da.name)


def to_reflectance(cube: xr.DataArray) -> xr.Dataset:
    """Surface reflectance per band from `load_window`'s offset-free DN (NaN = no data; values
    may be slightly negative over dark water since baseline 04.00), SCL as float codes and,
    if loaded, `cloud_prob` in percent.

    Works on the underlying (numpy or dask) array, one slice and at most one division per
    band, and builds the Dataset once: per-band `sel` and xarray arithmetic cost more than
    the pixels of a mine-sized window.
    """
    axis = cube.get_axis_num("band")
    dims = tuple(d for d in cube.dims if d != "band")
    coords = {k: v for k, v in cube.coords.items() if "band" not in v.dims}
    bands = {}
    for j, b in enumerate(cube.band.values):
        v = cube.data[(slice(None),) * axis + (j,)]
        if b not in ("scl", CLOUD_PROB):
            v = v / np.float32(10000.0)
        bands[str(b)] = xr.Variable(dims, v, attrs=dict(cube.attrs))
    return xr.Dataset(bands, coords=coords)
