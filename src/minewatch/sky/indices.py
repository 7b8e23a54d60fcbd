"""Spectral indices (formulas in DOMAIN.md §4)."""
from __future__ import annotations

import xarray as xr


def ndvi(ds: xr.Dataset) -> xr.DataArray:
    return ((ds.nir - ds.red) / (ds.nir + ds.red)).rename("ndvi")


def bsi(ds: xr.Dataset) -> xr.DataArray:
    """Bare-soil index: ((B11+B04)-(B08+B02)) / ((B11+B04)+(B08+B02))."""
    a = ds.swir16 + ds.red
    b = ds.nir + ds.blue
    return ((a - b) / (a + b)).rename("bsi")


def mndwi(ds: xr.Dataset) -> xr.DataArray:
    return ((ds.green - ds.swir16) / (ds.green + ds.swir16)).rename("mndwi")


def fvc(ndvi_: xr.DataArray, ndvi_soil: float, ndvi_veg: float) -> xr.DataArray:
    """Fractional vegetation cover (植被覆盖度), dimidiate pixel model, clipped to [0, 1]."""
    if ndvi_veg <= ndvi_soil:
        raise ValueError("ndvi_veg must be greater than ndvi_soil")
    return ((ndvi_ - ndvi_soil) / (ndvi_veg - ndvi_soil)).clip(0, 1).rename("fvc")
