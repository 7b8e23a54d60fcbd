"""Clear-sky masks from the Sentinel-2 scene classification (SCL)."""
from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import ndimage


def _dilate(bad: np.ndarray, px: int) -> np.ndarray:
    """Dilate each 2-D plane of (..., y, x); never across time."""
    if px <= 0:
        return bad
    st = ndimage.generate_binary_structure(2, 1)
    planes = bad.reshape((-1,) + bad.shape[-2:])
    out = np.stack([ndimage.binary_dilation(p, structure=st, iterations=px) for p in planes])
    return out.reshape(bad.shape)


def clear_mask(scl: xr.DataArray, classes: tuple[int, ...], dilation_px: int) -> xr.DataArray:
    """True where a pixel is clear: SCL not in `classes`, nor within `dilation_px` of one.

    Sen2Cor under-labels cloud edges and the fringe of shadows, hence the dilation
    (as DEA and openEO do). Missing SCL (NaN) is never clear. Class 5 (bare) is never
    masked: bare ground is what we look for.
    """
    bad = scl.isnull() | scl.isin(list(classes))
    if bad.chunks:   # y/x must be whole for the dilation to see neighbours
        bad = bad.chunk({"y": -1, "x": -1})
    dilated = xr.apply_ufunc(
        _dilate, bad, kwargs={"px": dilation_px},
        input_core_dims=[["y", "x"]], output_core_dims=[["y", "x"]],
        dask="parallelized", output_dtypes=[bool],
    )
    return (~dilated).rename("clear")
