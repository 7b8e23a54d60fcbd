"""`ops.dask_client`: the local threaded scheduler by default, a distributed cluster by address.

The array work calls plain `dask.compute(...)` from Prefect task threads; inside the
context that must run on the cluster's workers and give the same numbers as threads.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr

from minewatch import ops


def _where() -> str:
    """Where a task runs: a distributed worker's address, or 'local'."""
    try:
        from distributed import get_worker
        return get_worker().address
    except ValueError:
        return "local"


def _cube() -> xr.Dataset:
    """A small masked reflectance cube like a mine window: (time, y, x), NaN where cloudy."""
    rng = np.random.default_rng(7)
    t, h, w = 12, 64, 64
    red = rng.uniform(0.02, 0.3, (t, h, w)).astype("float32")
    nir = rng.uniform(0.1, 0.5, (t, h, w)).astype("float32")
    clear = rng.random((t, h, w)) > 0.3
    ds = xr.Dataset({"red": (("time", "y", "x"), da.from_array(red, chunks=(4, 32, 32))),
                     "nir": (("time", "y", "x"), da.from_array(nir, chunks=(4, 32, 32))),
                     "clear": (("time", "y", "x"), da.from_array(clear, chunks=(4, 32, 32)))},
                    coords={"time": np.arange(t), "y": np.arange(h) * -10.0, "x": np.arange(w) * 10.0})
    return ds


def _reduce(ds: xr.Dataset):
    ndvi = ((ds.nir - ds.red) / (ds.nir + ds.red)).where(ds.clear)
    per_date = ndvi.mean(("y", "x"))              # per-unit series style
    per_px = ndvi.median("time")                  # baseline style
    n_clear = ds.clear.sum("time")
    return per_date, per_px, n_clear


def _compute():
    per_date, per_px, n_clear = _reduce(_cube())
    where = dask.delayed(_where)(dask_key_name=f"where-{time.monotonic_ns()}")
    return dask.compute(per_date, per_px, n_clear, where)


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    c = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                     host="127.0.0.1", silence_logs=40)
    try:
        yield c
    finally:
        c.close()


def test_default_is_local_threads():
    with ops.dask_client(None) as client:
        assert client is None
        assert dask.config.get("scheduler") == "threads"
        *_, where = _compute()
    assert where == "local"


def test_cluster_matches_threads(cluster):
    t0 = time.monotonic()
    with ops.dask_client(None):
        d_t, p_t, n_t, w_t = _compute()
    with ops.dask_client(cluster.scheduler_address) as client:
        assert client is not None
        d_c, p_c, n_c, w_c = _compute()
        # Prefect runs tasks in a thread pool: compute from other threads too
        with ThreadPoolExecutor(2) as ex:
            from_threads = list(ex.map(lambda _: _compute(), range(2)))
        workers = set(client.scheduler_info()["workers"])
    assert w_t == "local"
    assert w_c in workers
    assert all(r[3] in workers for r in from_threads)
    for a, b in [(d_t, d_c), (p_t, p_c), (n_t, n_c)] + [(d_t, r[0]) for r in from_threads]:
        xr.testing.assert_allclose(a, b)
    assert int(n_c.sum()) > 0 and np.isfinite(d_c.values).all()
    print(f"\nthreads vs 2-worker LocalCluster identical ({time.monotonic() - t0:.1f}s)")

    # after the block the local threaded scheduler is back and the client is closed
    *_, where = _compute()
    assert where == "local"
    assert client.status in ("closed", "closing")
    assert threading.active_count() < 50


def test_unreachable_scheduler_fails_fast():
    t0 = time.monotonic()
    with pytest.raises((OSError, TimeoutError)):
        with ops.dask_client("tcp://127.0.0.1:9", timeout="3s"):
            pass
    assert time.monotonic() - t0 < 30
    assert dask.config.get("scheduler", None) is None
    *_, where = _compute()
    assert where == "local"
