"""clear_median: the per-pixel median over clear dates, computed without any warning."""
from __future__ import annotations

import warnings

import numpy as np

from minewatch.assess.disturbance import clear_median


def test_clear_median_skips_pixels_without_a_value_and_never_warns():
    # 3 dates x 4 pixels: pixel 0 clear thrice, 1 clear once, 2 clear but NaN, 3 never clear
    values = np.array([[0.1, 0.5, np.nan, 0.9], [0.3, 0.7, np.nan, 0.8], [0.2, 0.6, np.nan, 0.7]])
    clear = np.array([[True, False, True, False], [True, True, True, False], [True, False, True, False]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # numpy's "All-NaN slice" would raise here
        med = clear_median(values, clear)
        none = clear_median(values, np.zeros_like(clear))
    np.testing.assert_array_equal(med[:2], [0.2, 0.7])
    assert np.isnan(med[2:]).all() and np.isnan(none).all() and med.dtype == np.float64
    # float32 stays float32, and a leading band axis broadcasts as the composites use it
    refl = np.stack([values, 2 * values], axis=1).astype(np.float32)      # (T, B, X)
    med32 = clear_median(refl, clear[:, None])
    assert med32.dtype == np.float32 and med32.shape == (2, 4)
    np.testing.assert_allclose(med32[:, :2], [[0.2, 0.7], [0.4, 1.4]], rtol=1e-6)


def test_clear_median_leaves_the_process_wide_warning_filters_alone(monkeypatch):
    """The filters are one list for every thread: a filter set around one mine's median
    dropped rasterio's own filter in another mine's thread (the night's stray
    NotGeoreferencedWarning). So no filter is set at all, even on all-cloud input."""
    calls: list[str] = []
    for name in ("catch_warnings", "filterwarnings", "simplefilter"):
        real = getattr(warnings, name)
        monkeypatch.setattr(warnings, name, lambda *a, _n=name, _r=real, **k: calls.append(_n) or _r(*a, **k))
    med = clear_median(np.full((3, 2, 2), np.nan), np.ones((3, 2, 2), bool))
    monkeypatch.undo()
    assert calls == []
    assert np.isnan(med).all()


def test_clear_median_is_numpys_nanmedian_bit_for_bit():
    """The one-sort median (disturbance._nanmedian0) against np.nanmedian: float32 and float64,
    odd and even clear counts, one clear date, infinities, axes of 1 to 130 dates."""
    rng = np.random.default_rng(7)
    for t in (1, 2, 3, 8, 39, 130):
        for dtype in (np.float32, np.float64):
            values = rng.normal(0.4, 0.3, (t, 30, 20)).astype(dtype)
            values[rng.random(values.shape) < 0.1] = np.nan
            values[0, 0, :3] = (np.inf, -np.inf, np.inf)
            clear = rng.random(values.shape) < 0.6
            clear[:, 1, :] = False
            clear[:, 2, 0] = False
            clear[0, 2, 0] = True                              # one clear date
            got = clear_median(values, clear)
            data = np.where(clear, values, np.nan)
            has = ~np.isnan(data).all(axis=0)
            want = np.full(data.shape[1:], np.nan, dtype=dtype)
            want[has] = np.nanmedian(data[:, has], axis=0)
            assert got.dtype == dtype
            np.testing.assert_array_equal(got, want)           # NaN where NaN, every other bit equal
