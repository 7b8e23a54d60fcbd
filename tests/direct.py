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
        g = shapely.transform(unit_geom_4490, lambda c: np.column_stack(t.transform(c[:, 0], c[:, 1])))
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
