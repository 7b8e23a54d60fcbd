"""Clear-sky masks from the Sentinel-2 scene classification (SCL), optionally with a
cloud-probability layer."""
from __future__ import annotations

import numpy as np
import xarray as xr


def _dilate(bad: np.ndarray, px: int) -> np.ndarray:
    """Dilate each 2-D plane of (..., y, x) by `px` steps of the 4-neighbour cross; never
    across time, nothing beyond the edges.

    What `scipy.ndimage.binary_dilation(plane, generate_binary_structure(2, 1),
    iterations=px)` gives, plane by plane (tests/test_sky_units.py), as four shifted ORs
    per step over all planes at once: ~10x faster on mines' stacks of 256 x 256 planes.
    """
    out = bad.copy()
    for _ in range(px):
        prev = out.copy()
        out[..., 1:, :] |= prev[..., :-1, :]
        out[..., :-1, :] |= prev[..., 1:, :]
        out[..., :, 1:] |= prev[..., :, :-1]
        out[..., :, :-1] |= prev[..., :, 1:]
    return out


def _scl_bad(scl: np.ndarray, classes: tuple[int, ...]) -> np.ndarray:
    """Missing SCL (NaN) or a code in `classes`. SCL codes are the integers 0..255 of the
    uint8 layer: one table lookup instead of a comparison per class."""
    table = np.zeros(256, dtype=bool)
    table[list(classes)] = True
    bad = np.isnan(scl)
    bad |= table[np.where(bad, 0, scl).astype(np.uint8)]
    return bad


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
    bad = xr.apply_ufunc(_scl_bad, scl, kwargs={"classes": tuple(classes)},
                         dask="parallelized", output_dtypes=[bool])
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
