"""sky.series: unit masks and per-unit statistics on small hand-made arrays, against naive numpy."""
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from shapely.geometry import box

from minewatch.sky import series
from minewatch.sky.cube import Grid


def _da(arr, dims=("time", "y", "x")):
    return xr.DataArray(np.asarray(arr, dtype="float32"), dims=dims)


def test_unit_stats_means_over_clear_pixels_only():
    g = Grid(32650, (0, 0, 40, 40), 10)               # 4 x 4 px
    m = series.unit_masks({"a": box(0, 20, 20, 40), "b": box(20, 0, 40, 40)}, g)
    assert m.sel(unit="a").values.sum() == 4 and m.sel(unit="b").values.sum() == 8
    ndvi = np.zeros((2, 4, 4), "float32")
    ndvi[:, :2, :2] = 0.6      # unit a (top-left)
    ndvi[:, 0, 0] = 0.2
    clear = np.ones((2, 4, 4), bool)
    clear[0, 0, 0] = False     # the odd pixel is under cloud on date 0
    idx = xr.Dataset({v: _da(ndvi) for v in ("ndvi", "fvc", "bsi")})
    idx = idx.assign_coords(time=pd.to_datetime(["2026-07-01", "2026-07-06"]), id=("time", ["s1", "s2"]))
    st = series.unit_stats(idx, xr.DataArray(clear, dims=("time", "y", "x")), m)
    df = series.stats_frame(st.compute())
    a0 = df[(df.unit == "a") & (df.item_id == "s1")].iloc[0]
    assert a0.clear_px == 3 and a0.n_px == 4 and a0.clear_fraction == 0.75
    assert a0.ndvi_mean == pytest.approx(0.6)
    a1 = df[(df.unit == "a") & (df.item_id == "s2")].iloc[0]
    assert a1.ndvi_mean == pytest.approx((0.2 + 0.6 * 3) / 4)


def _naive_unit_stats(ndvi, fvc, bsi, clear, masks):
    """Per (time, unit), one pixel at a time: clear and NDVI defined; float64 means."""
    nt, nu = ndvi.shape[0], masks.shape[0]
    n_px = masks.reshape(nu, -1).sum(1)
    clear_px = np.zeros((nt, nu))
    means = {v: np.full((nt, nu), np.nan) for v in ("ndvi", "fvc", "bsi")}
    for t in range(nt):
        for u in range(nu):
            sel = masks[u] & clear[t] & ~np.isnan(ndvi[t])
            clear_px[t, u] = sel.sum()
            if sel.any():
                for v, a in (("ndvi", ndvi), ("fvc", fvc), ("bsi", bsi)):
                    means[v][t, u] = a[t][sel].astype(np.float64).mean()
    return n_px, clear_px, means


@pytest.mark.parametrize("lazy", [False, True])
def test_unit_stats_equals_naive_numpy_with_clouds_nan_and_empty_units(lazy):
    rng = np.random.default_rng(3)
    nt, h, w = 5, 24, 30
    ndvi = rng.uniform(-0.2, 0.9, (nt, h, w)).astype("float32")
    ndvi[:, :3, :] = np.nan                       # no data along one edge
    ndvi[2] = np.nan                              # a scene with no data at all
    fvc = np.clip((ndvi - 0.05) / 0.75, 0, 1).astype("float32")
    bsi = rng.uniform(-0.5, 0.5, (nt, h, w)).astype("float32")
    bsi[1, 10, 10] = np.nan                       # undefined at a clear pixel: that mean is NaN
    clear = rng.random((nt, h, w)) > 0.3
    clear[3, 5:15, 5:20] = False                  # a cloud
    clear[4] = False                              # a fully cloudy scene
    masks = np.zeros((4, h, w), bool)
    masks[0, 2:12, 3:18] = True
    masks[1, 8:20, 10:28] = True                  # overlaps unit 0
    masks[3, 0:2, 0:2] = True                     # only no-data pixels
    # unit 2 is empty
    n_px, clear_px, means = _naive_unit_stats(ndvi, fvc, bsi, clear, masks)

    def da(a):
        x = xr.DataArray(a, dims=("time", "y", "x"))
        return x.chunk({"time": 2, "y": 12}) if lazy else x   # y split: rechunked whole
    idx = xr.Dataset({"ndvi": da(ndvi), "fvc": da(fvc), "bsi": da(bsi)})
    m = xr.DataArray(masks, dims=("unit", "y", "x"), coords={"unit": ["a", "b", "c", "d"]})
    st = series.unit_stats(idx, da(clear), m)
    assert (st.clear_px.chunks is not None) == lazy
    st = st.compute()
    assert st.clear_px.dims == ("time", "unit") and st.n_px.dims == ("unit",)
    assert list(st.unit.values) == ["a", "b", "c", "d"]
    assert all(st[v].dtype == np.float32 for v in st.data_vars)
    np.testing.assert_array_equal(st.n_px.values, n_px)
    np.testing.assert_array_equal(st.clear_px.values, clear_px)
    assert (st.clear_px.values[:, 2] == 0).all() and np.isnan(st.ndvi_mean.values[:, 2]).all()
    assert np.isnan(st.bsi_mean.values[1, :2]).all() and not np.isnan(st.ndvi_mean.values[1, :2]).any()
    for v in ("ndvi", "fvc", "bsi"):
        np.testing.assert_allclose(st[f"{v}_mean"].values, means[v], rtol=0, atol=1e-6, err_msg=v)


@pytest.mark.parametrize("lazy", [False, True])
def test_unit_stats_per_mine_masks(lazy):
    """A `mine` dim on both the indices and the masks: each mine's own masks, no mixing."""
    rng = np.random.default_rng(4)
    nm, nt, h, w = 3, 4, 16, 16
    ndvi = rng.uniform(0, 1, (nm, nt, h, w)).astype("float32")
    ndvi[rng.random(ndvi.shape) < 0.1] = np.nan
    clear = rng.random((nm, nt, h, w)) > 0.2
    masks = rng.random((nm, 2, h, w)) > 0.6
    masks[1, 1] = False                           # padding: an empty unit
    dims = ("mine", "time", "y", "x")
    idx = xr.Dataset({v: xr.DataArray(ndvi, dims=dims) for v in ("ndvi", "fvc", "bsi")})
    cl = xr.DataArray(clear, dims=dims)
    if lazy:
        idx, cl = idx.chunk({"time": 3}), cl.chunk({"time": 3})
    st = series.unit_stats(idx, cl, xr.DataArray(masks, dims=("mine", "unit", "y", "x"))).compute()
    assert st.clear_px.dims == ("mine", "time", "unit") and st.n_px.dims == ("mine", "unit")
    for i in range(nm):
        n_px, clear_px, means = _naive_unit_stats(ndvi[i], ndvi[i], ndvi[i], clear[i], masks[i])
        np.testing.assert_array_equal(st.n_px.values[i], n_px)
        np.testing.assert_array_equal(st.clear_px.values[i], clear_px)
        np.testing.assert_allclose(st.ndvi_mean.values[i], means["ndvi"], rtol=0, atol=1e-6)
