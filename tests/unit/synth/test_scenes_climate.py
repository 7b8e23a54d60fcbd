"""synth.scenes' snow, lake ice and terrain shadow: the pixels and SCL they write, what the
sky's masks make of them, and that scenes without them keep their bytes."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pystac
import rasterio
import xarray as xr

from minewatch.config import ImagerySettings
from minewatch.sky import masks
from minewatch.synth import scenes as s2

H = W = 60
BOUNDS = (400000.0, 4400000.0, 400600.0, 4400600.0)
IM = ImagerySettings()


def _spec(item_id: str = "S2B_50TMK_20260112_0_L2A") -> s2.SceneSpec:
    return s2.SceneSpec(item_id=item_id, datetime=datetime(2026, 1, 12, 3, 10, tzinfo=timezone.utc), epsg=32650,
                        bounds=BOUNDS, mgrs_tile="50TMK")


def _ground() -> tuple[np.ndarray, np.ndarray]:
    """Left half vegetation, right half a pit lake."""
    fvc = np.zeros((H, W), np.float32)
    fvc[:, :30] = 1.0
    bg = np.full((H, W), s2.SOIL, np.uint8)
    bg[:, 30:] = s2.WATER
    return fvc, bg


def _read(item: pystac.Item) -> xr.Dataset:
    """Reflectance at 20 m (10 m bands 2x2 means) and the SCL, as the masks take them."""
    out = {}
    for b in s2.REFLECTANCE_BANDS + ("scl",):
        with rasterio.open(item.assets[b].href) as src:
            a = src.read(1).astype("float32")
        if b != "scl":
            a = (a - s2.DN_OFFSET) / s2.DN_SCALE
            if a.shape[0] == H:
                a = a.reshape(H // 2, 2, W // 2, 2).mean(axis=(1, 3))
        out[b] = (("time", "y", "x"), a[None])
    return xr.Dataset(out)


def _digest(d: Path) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(d.rglob("*.tif")))).hexdigest()


def test_snow_on_land_and_ice_on_the_lake_are_scl_11_and_the_mask_finds_them(tmp_path):
    fvc, bg = _ground()
    snow = np.zeros((H, W), bool)
    snow[:20] = True                                  # the northern third under snow (land and lake)
    ds = _read(s2.write_scene(tmp_path, _spec(), fvc, bg, snow=snow))
    assert (ds.scl.values[0, :10] == s2.SCL_SNOW).all() and (ds.scl.values[0, 10:] != s2.SCL_SNOW).all()
    got = masks.snow_mask(ds.drop_vars("scl").assign(scl=ds.scl * 0 + 4), IM.snow_classes, IM.ndsi_min,
                          IM.snow_nir_min, IM.snow_green_min, IM.ice_green_min).values[0]
    assert got[:10].all() and not got[10:].any()    # the NDSI test alone: snow and ice, not vegetation or water
    green = ds.green.values[0]
    assert abs(float(green[:10, 20:].mean()) - s2.ICE[1]) < 0.01            # lake ice
    assert abs(float(green[:10, :10].mean()) - s2.SNOW[1]) < 0.01           # snow on land


def test_terrain_shadow_is_scl_2_darkens_every_band_and_lowers_ndvi(tmp_path):
    fvc, bg = _ground()
    shade = np.zeros((H, W), bool)
    shade[40:, :30] = True                            # the south-west: vegetation in shadow
    ds = _read(s2.write_scene(tmp_path, _spec(), fvc, bg, terrain_shadow=shade))
    scl = ds.scl.values[0]
    assert (scl[20:, :15] == s2.SCL_DARK).all() and (scl[:20] != s2.SCL_DARK).all()
    lit, dark = ds.isel(time=0, y=slice(0, 15), x=slice(0, 15)), ds.isel(time=0, y=slice(20, 30), x=slice(0, 15))
    ndvi = lambda d: float(((d.nir - d.red) / (d.nir + d.red)).mean())
    assert ndvi(lit) > 0.8 and 0.4 < ndvi(dark) < 0.6
    got = masks.terrain_shadow_mask(ds.drop_vars("scl").assign(scl=ds.scl * 0 + 4), IM.terrain_shadow_classes,
                                    IM.dark_nir_max, IM.dark_visible_max, IM.dark_ndwi_max).values[0]
    assert got[20:, :15].all() and not got[:20].any() and not got[:, 15:].any()   # not the lit lake either


def test_no_layers_or_empty_layers_keep_the_scene_bytes(tmp_path):
    fvc, bg = _ground()
    s2.write_scene(tmp_path / "a", _spec(), fvc, bg)
    s2.write_scene(tmp_path / "b", _spec(), fvc, bg, snow=np.zeros((H, W), bool),
                   terrain_shadow=np.zeros((H, W), bool))
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
