"""Independent recomputation from the COGs with rasterio + numpy only (no minewatch code),
to check the numbers a flag reports."""
import json
from pathlib import Path

import numpy as np
import rasterio
import shapely
from pyproj import Transformer
from scipy import ndimage


def unit_fvc_per_scene(unit_geom_4490, scene_ids, catalog_dir: Path, s) -> dict:
    """scene id -> (date, unit mean FVC over clear pixels, clear share of the unit's pixels).

    The DN offset follows the item's processing baseline (>= 04.00: 1000); SCL is 20 m,
    replicated to 10 m; the mask is the configured SCL classes dilated as configured.
    """
    out = {}
    for sid in scene_ids:
        item = json.loads((Path(catalog_dir) / "items" / f"{sid}.json").read_text())
        epsg = int(item["properties"]["proj:code"].split(":")[1])
        off = 1000 if int(item["properties"]["s2:processing_baseline"].split(".")[0]) >= 4 else 0
        t = Transformer.from_crs(4490, epsg, always_xy=True)
        g = shapely.transform(unit_geom_4490, lambda c, t=t: np.column_stack(t.transform(c[:, 0], c[:, 1])))
        with rasterio.open(item["assets"]["red"]["href"]) as ds:
            red, tr = ds.read(1).astype("float64"), ds.transform
        with rasterio.open(item["assets"]["nir"]["href"]) as ds:
            nir = ds.read(1).astype("float64")
        with rasterio.open(item["assets"]["scl"]["href"]) as ds:
            scl = ds.read(1).repeat(2, axis=0).repeat(2, axis=1)      # 20 m -> 10 m, nearest
        red, nir = (red - off) / 1e4, (nir - off) / 1e4
        bad = ndimage.binary_dilation(np.isin(scl, s.imagery.mask_classes),
                                      ndimage.generate_binary_structure(2, 1),
                                      iterations=s.imagery.mask_dilation_px)
        rows, cols = np.indices(red.shape)
        inside = shapely.contains_xy(g, tr.c + (cols + 0.5) * tr.a, tr.f + (rows + 0.5) * tr.e)
        lo, hi = s.indices.ndvi_soil, s.indices.ndvi_veg
        fvc = np.clip(((nir - red) / (nir + red) - lo) / (hi - lo), 0, 1)
        ok = inside & ~bad
        out[sid] = (item["properties"]["datetime"][:10], fvc[ok].mean(), ok.sum() / inside.sum())
    return out


def season_ndvi_max(scene_ids, catalog_dir: Path, transform, shape, s) -> np.ndarray:
    """Per-pixel maximum NDVI over the clear dates of `scene_ids` on the grid (`transform`,
    `shape`): SCL replicated to 10 m; off-scene and no-data pixels are not clear; the
    configured mask and dilation on the grid's window. NaN where no date is clear."""
    best = np.full(shape, -np.inf)
    seen = np.zeros(shape, bool)
    for sid in scene_ids:
        item = json.loads((Path(catalog_dir) / "items" / f"{sid}.json").read_text())
        off = 1000 if int(item["properties"]["s2:processing_baseline"].split(".")[0]) >= 4 else 0
        with rasterio.open(item["assets"]["red"]["href"]) as ds:
            red, tr = ds.read(1).astype("float64"), ds.transform
        with rasterio.open(item["assets"]["nir"]["href"]) as ds:
            nir = ds.read(1).astype("float64")
        with rasterio.open(item["assets"]["scl"]["href"]) as ds:
            scl = ds.read(1).repeat(2, axis=0).repeat(2, axis=1)
        # the grid's pixels in the scene (a window may reach past the scene's edge)
        r0, c0 = round((tr.f - transform.f) / transform.a), round((transform.c - tr.c) / transform.a)
        gr, gc = np.indices(shape)
        sr, sc = gr + r0, gc + c0
        inside = (sr >= 0) & (sr < red.shape[0]) & (sc >= 0) & (sc < red.shape[1])
        sr, sc = np.clip(sr, 0, red.shape[0] - 1), np.clip(sc, 0, red.shape[1] - 1)
        red, nir, scl = red[sr, sc], nir[sr, sc], scl[sr, sc]
        bad = ~inside | (scl == 0) | np.isin(scl, s.imagery.mask_classes)
        bad = ndimage.binary_dilation(bad, ndimage.generate_binary_structure(2, 1),
                                      iterations=s.imagery.mask_dilation_px)
        ok = ~bad & (red != 0) & (nir != 0)
        ndvi = ((nir - off) - (red - off)) / ((nir - off) + (red - off))
        best = np.where(ok & (ndvi > best), ndvi, best)
        seen |= ok
    return np.where(seen, best, np.nan)
