"""Seasonal composites (minewatch.outputs.composites): values, grid, COG layout, determinism, atomicity."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.windows import Window

import minewatch
from minewatch.outputs import composites

LICENSE = "C1506222021071110000001"
PERIOD = "2026-07-01/2026-09-15"
EPSG = 32649
TRANSFORM = Affine(10.0, 0.0, 600000.0, 0.0, -10.0, 4410000.0)
BANDS = ["blue", "green", "red", "nir", "swir16", "swir22"]


def _inputs(h: int = 64, w: int = 48, seed: int = 0):
    rng = np.random.default_rng(seed)
    ndvi_max = rng.uniform(-0.2, 0.9, (h, w)).astype(np.float32)
    median = rng.uniform(0.0, 0.5, (len(BANDS), h, w)).astype(np.float32)
    ndvi_max[:5, :7] = np.nan                 # never clear
    median[:, :5, :7] = np.nan
    median[2, 10, 10] = np.nan                # one band without a value at one pixel
    return ndvi_max, median


def _write(tmp_path, h=64, w=48):
    nd, md = _inputs(h, w)
    return composites.write_composites(tmp_path, LICENSE, PERIOD, TRANSFORM, EPSG, nd, md, BANDS), nd, md


def test_values_grid_and_tags_read_back(tmp_path):
    (p_ndvi, p_med), nd, md = _write(tmp_path)
    assert p_ndvi == tmp_path / f"{LICENSE}_ndvi_max.tif" and p_med == tmp_path / f"{LICENSE}_median.tif"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([p_ndvi.name, p_med.name])   # no temp, no .aux.xml
    with rasterio.open(p_ndvi) as src:
        assert src.count == 1 and src.dtypes == ("float32",)
        assert src.crs.to_epsg() == EPSG and src.transform == TRANSFORM
        assert np.isnan(src.nodata)
        np.testing.assert_array_equal(src.read(1), nd)        # NaN in the same places (array_equal treats NaN == NaN)
        tags = src.tags()
        assert tags["description_zh"] == "生长季最大NDVI" and tags["product"] == "ndvi_max"
    with rasterio.open(p_med) as src:
        assert src.count == len(BANDS) and src.descriptions == tuple(BANDS)
        assert src.crs.to_epsg() == EPSG and src.transform == TRANSFORM
        np.testing.assert_array_equal(src.read(), md)
        assert np.isnan(src.read(3)[10, 10]) and not np.isnan(src.read(2)[10, 10])
        tags = src.tags()
        assert tags["description_zh"] == "生长季反射率中值" and tags["product"] == "median"
    for p in (p_ndvi, p_med):
        with rasterio.open(p) as src:
            tags = src.tags()
        assert tags["license_no"] == LICENSE and tags["period"] == PERIOD
        assert tags["software"] == f"minewatch {minewatch.__version__}"
        assert tags["description"] and "TIFFTAG_DATETIME" not in tags


def test_gdalinfo_says_cog_with_overviews_for_512px(tmp_path):
    (p_ndvi, p_med), _, _ = _write(tmp_path, 512, 512)
    for p in (p_ndvi, p_med):
        info = subprocess.run(["gdalinfo", str(p)], capture_output=True, text=True, check=True).stdout
        assert "LAYOUT=COG" in info and "COMPRESSION=DEFLATE" in info and "PREDICTOR=3" in info
        assert "Overviews: 256x256" in info
        with rasterio.open(p) as src:
            assert src.overviews(1) == [2] and src.block_shapes[0] == (256, 256)
            assert "TIFFTAG_DATETIME" not in src.tags()


def test_same_inputs_give_the_same_bytes(tmp_path):
    (a1, a2), _, _ = _write(tmp_path / "a", 300, 260)
    first = [a1.read_bytes(), a2.read_bytes()]
    (b1, b2), _, _ = _write(tmp_path / "b", 300, 260)
    assert [b1.read_bytes(), b2.read_bytes()] == first
    # and over an existing file (rename replaces it)
    _write(tmp_path / "a", 300, 260)
    assert [a1.read_bytes(), a2.read_bytes()] == first
    for data in first:                       # no TIFF DateTime ("YYYY:MM:DD HH:MM:SS") anywhere
        assert not re.search(rb"\d{4}:\d\d:\d\d \d\d:\d\d:\d\d", data)


def _failing_open(real_open, how: str):
    class Proxy:
        def __init__(self, ds):
            self._ds = ds

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self._ds.__exit__(*exc)

        def __getattr__(self, name):
            return getattr(self._ds, name)

        def write(self, arr):           # half the rows, then the failure
            h, w = arr.shape[-2:]
            self._ds.write(arr[:, : h // 2], window=Window(0, 0, w, h // 2))
            if how == "raise":
                raise OSError("disk full")
            os._exit(3)                 # a crash: no cleanup runs

    return lambda *a, **k: Proxy(real_open(*a, **k))


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    (p_ndvi, p_med), _, _ = _write(tmp_path)
    before = p_ndvi.read_bytes()
    monkeypatch.setattr(composites.rasterio, "open", _failing_open(rasterio.open, "raise"))
    nd, md = _inputs(seed=1)
    with pytest.raises(OSError, match="disk full"):
        composites.write_composites(tmp_path, LICENSE, PERIOD, TRANSFORM, EPSG, nd, md, BANDS)
    assert p_ndvi.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([p_ndvi.name, p_med.name])


def test_a_crash_mid_write_leaves_no_file_at_the_final_path(tmp_path):
    code = f"""
import numpy as np, rasterio
from affine import Affine
from rasterio.windows import Window
from minewatch.outputs import composites
import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})
import test_composites as t   # this very file, in the child process
composites.rasterio.open = t._failing_open(rasterio.open, "exit")
nd, md = t._inputs()
composites.write_composites({str(tmp_path)!r}, t.LICENSE, t.PERIOD, t.TRANSFORM, t.EPSG, nd, md, t.BANDS)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 3, r.stderr
    assert not (tmp_path / f"{LICENSE}_ndvi_max.tif").exists()
    assert not (tmp_path / f"{LICENSE}_median.tif").exists()
    left = [p.name for p in tmp_path.iterdir()]
    assert all(n.startswith(f".{LICENSE}_ndvi_max.tif.") and n.endswith(".tmp") for n in left), left


def test_bad_inputs_raise(tmp_path):
    nd, md = _inputs()
    with pytest.raises(ValueError, match="median"):
        composites.write_composites(tmp_path, LICENSE, PERIOD, TRANSFORM, EPSG, nd, md, BANDS[:-1])
    with pytest.raises(ValueError, match="ndvi_max"):
        composites.write_composites(tmp_path, LICENSE, PERIOD, TRANSFORM, EPSG, nd[None], md, BANDS)
    with pytest.raises(ValueError, match="license_no"):
        composites.write_composites(tmp_path, "../x", PERIOD, TRANSFORM, EPSG, nd, md, BANDS)
    assert not any(tmp_path.iterdir())


# ---------------------------------------------------------------------------------------
# season_composites
# ---------------------------------------------------------------------------------------

def test_season_composites_by_hand_with_cloudy_dates_excluded():
    # 4 dates, 2 bands (red, nir), 1 x 3 pixels. Date 2 is a bright cloud at pixels 0 and 1:
    # high reflectance, and (to be sure the mask, not the value, excludes it) a high NDVI.
    red = np.array([[[0.10, 0.20, 0.05]], [[0.12, 0.22, 0.06]], [[0.50, 0.50, 0.07]], [[0.08, 0.18, 0.04]]], np.float32)
    nir = np.array([[[0.30, 0.25, 0.40]], [[0.32, 0.24, 0.41]], [[0.55, 0.55, 0.42]], [[0.36, 0.26, 0.43]]], np.float32)
    ndvi = np.array([[[0.50, 0.10, 0.70]], [[0.45, 0.05, 0.72]], [[0.95, 0.95, 0.71]], [[0.60, 0.15, 0.83]]],
                    np.float32)
    refl = np.stack([red, nir], axis=1)                        # (T, B, H, W)
    clear = np.ones((4, 1, 3), bool)
    clear[2, 0, :2] = False                                    # the cloud
    clear[:, 0, 2] = False                                     # pixel 2: never clear
    clear[3, 0, 1] = False                                     # pixel 1: also a shadow on date 3
    ndvi_max, median = composites.season_composites(ndvi, refl, clear)
    assert ndvi_max.dtype == np.float32 and median.dtype == np.float32
    assert median.shape == (2, 1, 3)
    # pixel 0: clear dates 0, 1, 3 -> max NDVI 0.60, median red of (0.10, 0.12, 0.08) = 0.10, nir 0.32
    # pixel 1: clear dates 0, 1 -> max NDVI 0.10, median = mean of the two: red 0.21, nir 0.245
    np.testing.assert_allclose(ndvi_max[0, :2], [0.60, 0.10], atol=1e-7)
    np.testing.assert_allclose(median[:, 0, :2], [[0.10, 0.21], [0.32, 0.245]], atol=1e-7)
    assert np.isnan(ndvi_max[0, 2]) and np.isnan(median[:, 0, 2]).all()


def test_season_composites_ignore_nan_among_clear_and_do_not_warn():
    ndvi = np.array([[[np.nan, 0.3]], [[0.2, np.nan]]], np.float32)
    refl = ndvi[:, None] * 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nmax, med = composites.season_composites(ndvi, refl, np.ones((2, 1, 2), bool))
        nmax2, _ = composites.season_composites(ndvi, refl, np.zeros((2, 1, 2), bool))
    np.testing.assert_allclose(nmax, [[0.2, 0.3]])
    np.testing.assert_allclose(med[0], [[0.2, 0.3]])
    assert np.isnan(nmax2).all()
    with pytest.raises(ValueError, match="bool"):
        composites.season_composites(ndvi, refl, np.ones((2, 1, 2), np.uint8))
    with pytest.raises(ValueError, match="refl"):
        composites.season_composites(ndvi, refl[:, :, :, :1], np.ones((2, 1, 2), bool))


def test_season_composites_leave_the_process_wide_warning_filters_alone(monkeypatch):
    # a filter set in one mine's thread drops another thread's (see clear_median)
    calls: list[str] = []
    for name in ("catch_warnings", "filterwarnings", "simplefilter"):
        real = getattr(warnings, name)
        monkeypatch.setattr(warnings, name, lambda *a, _n=name, _r=real, **k: calls.append(_n) or _r(*a, **k))
    nmax, med = composites.season_composites(np.full((2, 1, 2), np.nan, np.float32),
                                             np.full((2, 3, 1, 2), np.nan, np.float32), np.ones((2, 1, 2), bool))
    monkeypatch.undo()
    assert calls == []
    assert np.isnan(nmax).all() and np.isnan(med).all() and med.shape == (3, 1, 2)
