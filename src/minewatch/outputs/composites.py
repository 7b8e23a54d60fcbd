"""Seasonal composites of a mine's window, written as Cloud-Optimized GeoTIFFs.

Two files per mine and period, in the mine's UTM CRS on the cube's grid:

- ``<license_no>_ndvi_max.tif``: growing-season maximum NDVI (生长季最大NDVI) over clear
  observations, one band;
- ``<license_no>_median.tif``: per-band median surface reflectance (生长季反射率中值) over
  clear observations, one band per reflectance band, band descriptions set to the band names.

Float32, nodata NaN (no clear observation at that pixel), GDAL ``COG`` driver with DEFLATE
and the floating-point predictor, internal overviews. Each file is written to a temp file in
the same folder and renamed (a reader never sees half a file), and the same inputs give the
same bytes: GDAL stamps no date unless TIFFTAG_DATETIME is set, and nothing here sets it.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

import minewatch
from minewatch.assess.disturbance import clear_max, clear_median
from minewatch.plumbing.atomic import atomic_path

NDVI_MAX, MEDIAN = "ndvi_max", "median"
BLOCKSIZE = 256          # small windows (mines are ~100-500 px across) still get overviews
# product -> (English description, Chinese description)
PRODUCTS = {
    NDVI_MAX: ("growing-season maximum NDVI over clear observations", "生长季最大NDVI"),
    MEDIAN: ("growing-season per-band median surface reflectance over clear observations",
             "生长季反射率中值"),
}
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def season_composites(ndvi: np.ndarray, refl: np.ndarray, clear: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ndvi_max (H, W), median (B, H, W)), float32, from one season's observations.

    `ndvi` (T, H, W), `refl` (T, B, H, W) surface reflectance, `clear` (T, H, W) bool. Only
    clear observations count (NaN values among them are ignored too); NaN where a pixel has
    no clear observation (for the median: none with a value in that band).
    """
    ndvi = np.asarray(ndvi, dtype=np.float32)
    refl = np.asarray(refl, dtype=np.float32)
    clear = np.asarray(clear)
    if ndvi.ndim != 3 or refl.ndim != 4 or clear.shape != ndvi.shape \
            or refl.shape[:1] + refl.shape[2:] != ndvi.shape:
        raise ValueError(f"need ndvi (T,H,W), refl (T,B,H,W), clear (T,H,W); got {ndvi.shape}, "
                         f"{refl.shape}, {clear.shape}")
    if clear.dtype != bool:
        raise ValueError(f"clear must be a bool array, got {clear.dtype}")
    ndvi_max = clear_max(ndvi, clear)
    median = clear_median(refl, clear[:, None])
    return ndvi_max.astype(np.float32, copy=False), median.astype(np.float32, copy=False)


def write_composites(out_dir: Path, license_no: str, period: str, transform: Affine, epsg: int,
                     ndvi_max: np.ndarray, median: np.ndarray, bands: list[str]) -> list[Path]:
    """Write out_dir/<license_no>_ndvi_max.tif and out_dir/<license_no>_median.tif; return both paths.

    `transform`: the north-up affine of the (H, W) grid in EPSG `epsg` (the mine's UTM zone);
    `ndvi_max` (H, W), `median` (B, H, W) with B == len(bands); `period` is recorded as a tag
    (e.g. "2026-07-01/2026-09-15"). Raises ValueError on inconsistent inputs.
    """
    ndvi_max = np.asarray(ndvi_max, dtype=np.float32)
    median = np.asarray(median, dtype=np.float32)
    bands = [str(b) for b in bands]
    if not _PLAIN_NAME.fullmatch(license_no or ""):
        raise ValueError(f"license_no must be a plain file name (letters, digits, _ . -), got {license_no!r}")
    if ndvi_max.ndim != 2:
        raise ValueError(f"ndvi_max must be (H, W), got shape {ndvi_max.shape}")
    if median.ndim != 3 or median.shape[1:] != ndvi_max.shape or median.shape[0] != len(bands):
        raise ValueError(f"median must be (B, H, W) = ({len(bands)}, {ndvi_max.shape[0]}, "
                         f"{ndvi_max.shape[1]}) for bands {bands}, got {median.shape}")
    out_dir = Path(out_dir)
    common = {"license_no": license_no, "period": period,
              "software": f"minewatch {minewatch.__version__}"}
    paths = []
    for product, data, names in ((NDVI_MAX, ndvi_max[None], ["ndvi"]), (MEDIAN, median, bands)):
        en, zh = PRODUCTS[product]
        path = out_dir / f"{license_no}_{product}.tif"
        _write_cog(path, data, transform, epsg, names,
                   {**common, "product": product, "description": en, "description_zh": zh})
        paths.append(path)
    return paths


def _write_cog(path: Path, data: np.ndarray, transform: Affine, epsg: int, names: list[str],
               tags: dict[str, str]) -> None:
    count, h, w = data.shape
    profile = dict(driver="COG", width=w, height=h, count=count, dtype="float32", crs=f"EPSG:{epsg}",
                   transform=transform, nodata=np.nan, compress="DEFLATE", predictor="YES",
                   blocksize=BLOCKSIZE, overviews="AUTO", overview_resampling="average")
    # One thread: compressed blocks then land in a fixed order. No .aux.xml sidecar: it would
    # be named after the temp file and left behind by the rename.
    with atomic_path(path) as tmp, rasterio.Env(GDAL_NUM_THREADS="1", GDAL_PAM_ENABLED="NO"):
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(data)
            for i, name in enumerate(names, start=1):
                dst.set_band_description(i, name)
            dst.update_tags(**tags)
