"""Clear-sky masks from the Sentinel-2 scene classification (SCL), optionally with a
cloud-probability layer."""
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


def clear_mask(scl: xr.DataArray, classes: tuple[int, ...], dilation_px: int,
               cloud_prob: xr.DataArray | None = None, cloud_prob_max: float | None = None) -> xr.DataArray:
    """True where a pixel is clear: SCL not in `classes`, nor within `dilation_px` of one.

    Sen2Cor under-labels cloud edges and the fringe of shadows, hence the dilation
    (as DEA and openEO do). Missing SCL (NaN) is never clear. Class 5 (bare) is never
    masked: bare ground is what we look for.

    With both `cloud_prob` (percent, same dims and shape as `scl`, e.g. `to_reflectance(cube)
    .cloud_prob`) and `cloud_prob_max`, a pixel whose probability exceeds `cloud_prob_max` is
    bad too, before the dilation: it catches thin cloud SCL labels clear. A NaN probability
    (the layer has no data there) leaves the SCL decision alone, so a missing probability
    layer never masks a scene. With either one None, the SCL alone decides.
    """
    bad = scl.isnull() | scl.isin(list(classes))
    if cloud_prob is not None and cloud_prob_max is not None:
        if not 0 <= cloud_prob_max <= 100:
            raise ValueError(f"cloud_prob_max is a percentage (0..100), got {cloud_prob_max!r}")
        if cloud_prob.dims != scl.dims or cloud_prob.shape != scl.shape:
            raise ValueError(f"cloud_prob {dict(cloud_prob.sizes)} does not match scl {dict(scl.sizes)}")
        bad = bad | (cloud_prob > cloud_prob_max)      # NaN > x is False
    if bad.chunks:   # y/x must be whole for the dilation to see neighbours
        bad = bad.chunk({"y": -1, "x": -1})
    dilated = xr.apply_ufunc(
        _dilate, bad, kwargs={"px": dilation_px},
        input_core_dims=[["y", "x"]], output_core_dims=[["y", "x"]],
        dask="parallelized", output_dtypes=[bool],
    )
    return (~dilated).rename("clear")
