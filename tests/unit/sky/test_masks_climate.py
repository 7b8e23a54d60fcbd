"""sky.masks.snow_mask and terrain_shadow_mask on real reflectance arrays: the synthetic scenes'
end members (snow, ice, vegetation, soil, rock, water), lit and in terrain shadow, and on
written COGs through the cube."""
from __future__ import annotations

import numpy as np
import xarray as xr

from minewatch.config import ImagerySettings
from minewatch.sky import masks
from minewatch.synth import scenes as s2

IM = ImagerySettings()
BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")


def _refl(pixels: dict[str, tuple[float, ...]], scl: int = 4) -> tuple[xr.Dataset, list[str]]:
    """One (time=1, y=1, x=n) dataset of the given reflectances, SCL `scl` everywhere."""
    names = list(pixels)
    arr = np.array([pixels[n] for n in names], dtype="float32").T        # (band, n)
    ds = xr.Dataset({b: (("time", "y", "x"), arr[i][None, None]) for i, b in enumerate(BANDS)})
    ds["scl"] = (("time", "y", "x"), np.full((1, 1, len(names)), scl, "float32"))
    return ds, names


def _snow(ds: xr.Dataset) -> np.ndarray:
    return masks.snow_mask(ds, IM.snow_classes, IM.ndsi_min, IM.snow_nir_min, IM.snow_green_min,
                           IM.ice_green_min).values[0, 0]


def _shade(ds: xr.Dataset) -> np.ndarray:
    return masks.terrain_shadow_mask(ds, IM.terrain_shadow_classes, IM.dark_nir_max, IM.dark_visible_max,
                                    IM.dark_ndwi_max).values[0, 0]


GROUND = {"veg": s2.END_MEMBERS["veg"], "soil": s2.END_MEMBERS[s2.SOIL], "rock": s2.END_MEMBERS[s2.ROCK],
          "water": s2.END_MEMBERS[s2.WATER]}


def test_snow_and_ice_are_found_by_ndsi_and_nothing_else_is():
    ds, names = _refl({**GROUND, "snow": s2.SNOW, "ice": s2.ICE,
                       "cloud": tuple(0.5 * f for f in s2.CLOUD_BAND_FACTOR)})
    got = dict(zip(names, _snow(ds)))
    assert got == {"veg": False, "soil": False, "rock": False, "water": False, "snow": True, "ice": True,
                   "cloud": False}
    # open water has the NDSI of snow (0.79) but neither its NIR nor its green: never snow
    g, sw = s2.END_MEMBERS[s2.WATER][1], s2.END_MEMBERS[s2.WATER][4]
    assert (g - sw) / (g + sw) > IM.ndsi_min


def test_scl_11_is_snow_whatever_the_pixels_say():
    ds, _ = _refl(GROUND, scl=11)
    assert _snow(ds).all()
    ds, _ = _refl(GROUND, scl=5)
    assert not _snow(ds).any()


def test_terrain_shadow_finds_shaded_ground_but_not_water_or_cloud_shadow():
    shaded = {f"shaded_{k}": tuple(np.array(v) * s2.TERRAIN_SHADOW_FACTOR + np.array(s2.TERRAIN_SHADOW_DIFFUSE))
              for k, v in GROUND.items() if k != "water"}
    cloud_shadow = {f"cs_{k}": tuple(np.array(v) * s2.SHADOW_FACTOR) for k, v in GROUND.items()}
    ds, names = _refl({**GROUND, **shaded, **cloud_shadow})
    got = dict(zip(names, _shade(ds)))
    assert [n for n, v in got.items() if v] == ["shaded_veg", "shaded_soil", "shaded_rock"]
    # shaded vegetation reads as thin cover: why it must not be judged
    v = shaded["shaded_veg"]
    assert (v[3] - v[2]) / (v[3] + v[2]) < 0.6 < 0.83
    ds, _ = _refl(GROUND, scl=2)
    assert _shade(ds).all()


def test_clear_mask_drops_snow_and_shadow_before_the_dilation():
    scl = np.full((1, 7, 7), 4.0, "float32")
    also = np.zeros((1, 7, 7), bool)
    also[0, 3, 3] = True
    clear = masks.clear_mask(xr.DataArray(scl, dims=("time", "y", "x")), (0, 1, 3, 8, 9, 10), 1,
                             also=xr.DataArray(also, dims=("time", "y", "x"))).values
    assert not clear[0, 3, 3] and not clear[0, 2, 3] and clear[0, 2, 2]
    assert clear.sum() == 49 - 5
