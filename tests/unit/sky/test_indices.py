"""sky.indices on one hand-made pixel: each index against its formula."""
import numpy as np
import pytest
import xarray as xr

from minewatch.sky import indices


def _da(arr, dims=("time", "y", "x")):
    return xr.DataArray(np.asarray(arr, dtype="float32"), dims=dims)


def test_indices_match_formulas():
    ds = xr.Dataset({k: _da([[[v]]]) for k, v in
                     dict(blue=0.05, green=0.08, red=0.04, nir=0.40, swir16=0.2).items()})
    assert indices.ndvi(ds).item() == pytest.approx((0.40 - 0.04) / 0.44, abs=1e-6)
    assert indices.bsi(ds).item() == pytest.approx((0.24 - 0.45) / (0.24 + 0.45), abs=1e-6)
    assert indices.mndwi(ds).item() == pytest.approx((0.08 - 0.2) / 0.28, abs=1e-6)
    f = indices.fvc(_da([[[0.05, 0.45, 0.95]]]), 0.1, 0.8).values.ravel()
    assert f.tolist() == pytest.approx([0.0, 0.5, 1.0])
    with pytest.raises(ValueError):
        indices.fvc(_da([[[0.5]]]), 0.8, 0.1)
