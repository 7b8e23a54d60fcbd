"""Spectral indices (formulas in docs/domain.md §4).

Each index is one `xr.apply_ufunc` of a numpy function run plane by plane (`_by_plane`):
on whole (mine, time, y, x) arrays every numpy operation is a pass over memory, and every
xarray operation aligns coordinates; per (y, x) plane the temporaries stay in cache. The
arithmetic is the formulas' own, in the inputs' dtype; dask-backed inputs stay lazy.
"""
from __future__ import annotations

from functools import partial
from typing import Callable

import numpy as np
import xarray as xr


def _by_plane(f: Callable[..., np.ndarray], *arrays: np.ndarray) -> np.ndarray:
    """f(*planes) on each (y, x) plane (the last two axes) of the broadcast arrays, into one
    output array."""
    arrays = np.broadcast_arrays(*arrays)
    shape = arrays[0].shape
    if len(shape) <= 2 or 0 in shape:
        return f(*arrays)
    out = None
    for i in np.ndindex(*shape[:-2]):
        r = f(*(a[i] for a in arrays))
        if out is None:
            out = np.empty(shape, dtype=r.dtype)
        out[i] = r
    assert out is not None   # ndindex gave at least one plane: no 0 in shape
    return out


def _apply(f: Callable[..., np.ndarray], name: str, *args: xr.DataArray) -> xr.DataArray:
    dtype = f(*(np.zeros(0, dtype=a.dtype) for a in args)).dtype
    return xr.apply_ufunc(partial(_by_plane, f), *args, join="inner", dask="parallelized",
                          output_dtypes=[dtype]).rename(name)


def _nd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Normalised difference (a - b) / (a + b); NaN where a + b is 0 (deep shadow: surface
    reflectance with the BOA offset removed can be 0 or below in both bands)."""
    total = a + b
    with np.errstate(divide="ignore", invalid="ignore"):   # numpy's error state is per thread
        out = (a - b) / total
    if out.ndim:
        out[total == 0] = np.nan
    return out


def _bsi(swir16: np.ndarray, red: np.ndarray, nir: np.ndarray, blue: np.ndarray) -> np.ndarray:
    return _nd(swir16 + red, nir + blue)


def ndvi(ds: xr.Dataset) -> xr.DataArray:
    return _apply(_nd, "ndvi", ds.nir, ds.red)


def bsi(ds: xr.Dataset) -> xr.DataArray:
    """Bare-soil index: ((B11+B04)-(B08+B02)) / ((B11+B04)+(B08+B02))."""
    return _apply(_bsi, "bsi", ds.swir16, ds.red, ds.nir, ds.blue)


def mndwi(ds: xr.Dataset) -> xr.DataArray:
    return _apply(_nd, "mndwi", ds.green, ds.swir16)


def ndsi(ds: xr.Dataset) -> xr.DataArray:
    """Normalised difference snow index (B03 - B11) / (B03 + B11): MNDWI's formula, read for snow
    (with the NIR and green tests of `sky.masks.snow_mask`)."""
    return _apply(_nd, "ndsi", ds.green, ds.swir16)


def fvc(ndvi_: xr.DataArray, ndvi_soil: float, ndvi_veg: float) -> xr.DataArray:
    """Fractional vegetation cover (植被覆盖度), dimidiate pixel model, clipped to [0, 1]."""
    if ndvi_veg <= ndvi_soil:
        raise ValueError("ndvi_veg must be greater than ndvi_soil")

    def f(nd: np.ndarray) -> np.ndarray:
        return np.clip((nd - ndvi_soil) / (ndvi_veg - ndvi_soil), 0, 1)
    return _apply(f, "fvc", ndvi_)
