"""sky.reader: the night's WindowReader gives stackstac's pixels, and the GDAL HTTP options from
the settings reach every COG read (a stalled server fails the read after the timeout)."""
from __future__ import annotations

import pickle
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import numpy as np
import pytest
import stackstac
from pyproj import Transformer
from rasterio.enums import Resampling
from tests.support.loopback import loopback_server

from minewatch.config import CatalogSettings
from minewatch.sky import cube
from minewatch.sky.reader import DATASETS, WindowReader, gdal_env, gdal_http_options


def _both(items, g, assets=None):
    ours = cube.load_window(items, g, assets=assets, reader=WindowReader).values
    stock = cube.load_window(items, g, assets=assets).values
    return ours, stock


def test_window_reader_gives_stackstacs_pixels(scenes, grid):
    _, a, b, c = scenes
    minx, miny, maxx, maxy = grid.bounds
    grids = [
        grid,
        cube.Grid(grid.epsg, (minx + 10, miny - 10, maxx + 30, maxy - 10), 10.0),   # odd 10 m offsets
        cube.Grid(grid.epsg, (minx - 200, miny, minx + 300, maxy), 10.0),           # past the west edge
        cube.Grid(grid.epsg, (minx, miny, minx + 600, miny + 400), 20.0),           # a 20 m grid
    ]
    for g in grids:
        ours, stock = _both([a, b, c], g)
        np.testing.assert_array_equal(ours, stock, err_msg=str(g))
        assert np.isfinite(ours).any()
    # the window's red DN: tile A 1600 + 1000 less its offset 1000; B's offset was already removed
    ours, _ = _both([a, b, c], grid)
    red = cube.default_assets([a]).index("red")
    assert ours[0, red, 0, 0] == 1600.0 and ours[0, red, 0, 59] == 2600.0
    DATASETS.clear()


def test_another_utm_zone_goes_to_stackstacs_reader(scenes, grid):
    _, a, _, _ = scenes
    minx, miny, maxx, maxy = grid.bounds
    cx, cy = Transformer.from_crs(32650, 32651, always_xy=True).transform((minx + maxx) / 2, (miny + maxy) / 2)
    cx, cy = round(cx, -1), round(cy, -1)
    g51 = cube.Grid(32651, (cx - 200, cy - 200, cx + 200, cy + 200), 10.0)
    ours, stock = _both([a], g51, assets=["red"])
    np.testing.assert_array_equal(ours, stock)
    assert np.isfinite(ours).sum() > 100
    DATASETS.clear()


def test_aligned_plan_only_for_nearest_upsampling(scenes, grid):
    _, a, _, _ = scenes
    spec = stackstac.raster_spec.RasterSpec(grid.epsg, grid.bounds, (10.0, 10.0))
    r = WindowReader(url=a.assets["swir16"].href, spec=spec, resampling=Resampling.bilinear,
                     dtype=np.dtype("float32"), fill_value=np.float32(np.nan), scale_offset=(1, 0))
    o = DATASETS.get(r.url, r.gdal_env)
    assert r.aligned_plan(o) is None
    r.resampling = Resampling.nearest
    assert (r.aligned_plan(o).k, r.aligned_plan(o).oy, r.aligned_plan(o).ox) == (2, 0, 0)
    DATASETS.clear()


def test_gdal_env_takes_the_settings_and_travels_with_the_reader():
    c = CatalogSettings(gdal_http_timeout_s=12, gdal_http_max_retry=5, gdal_http_retry_delay_s=0.5)
    assert gdal_http_options(CatalogSettings()) == {
        "GDAL_HTTP_TIMEOUT": 30, "GDAL_HTTP_CONNECTTIMEOUT": 10, "GDAL_HTTP_MAX_RETRY": 3,
        "GDAL_HTTP_RETRY_DELAY": 2.0, "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}
    env = gdal_env(c)
    spec = stackstac.raster_spec.RasterSpec(32650, (0, 0, 100, 100), (10.0, 10.0))
    r = WindowReader(url="http://127.0.0.1:9/x.tif", spec=spec, resampling=Resampling.nearest,
                     dtype=np.dtype("float32"), fill_value=np.float32(np.nan), scale_offset=(1, 0), gdal_env=env)
    shipped = pickle.loads(pickle.dumps(r))               # what a dask worker receives
    for layer in (shipped.gdal_env._always, dict(shipped.gdal_env._always, **shipped.gdal_env._read)):
        assert layer["GDAL_HTTP_TIMEOUT"] == 12 and layer["GDAL_HTTP_CONNECTTIMEOUT"] == 5
        assert layer["GDAL_HTTP_MAX_RETRY"] == 5 and layer["GDAL_HTTP_RETRY_DELAY"] == 0.5
    # stackstac's own options are kept
    assert shipped.gdal_env._always["GDAL_HTTP_MULTIRANGE"] == "YES"
    assert shipped.gdal_env._open["VSI_CACHE"] is True


# ---- over HTTP: a server that answers range requests, or stalls

class _Files(BaseHTTPRequestHandler):
    root: Path
    release: threading.Event

    def log_message(self, *_):                # keep the test output clean
        pass

    def _body(self) -> bytes | None:
        path = self.path.split("?", 1)[0]
        if path.startswith("/stall/"):
            self.release.wait(30)             # longer than any timeout under test
            path = path[len("/stall"):]
        f = self.root / path.lstrip("/")
        return f.read_bytes() if f.is_file() else None

    def do_HEAD(self):
        data = self._body()
        if data is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()

    def do_GET(self):
        data = self._body()
        if data is None:
            self.send_error(404)
            return
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            a, _, b = rng[6:].split(",")[0].partition("-")
            a, b = int(a), min(int(b) if b else len(data) - 1, len(data) - 1)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {a}-{b}/{len(data)}")
            part = data[a:b + 1]
        else:
            self.send_response(200)
            part = data
        self.send_header("Content-Length", str(len(part)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        try:
            self.wfile.write(part)
        except (BrokenPipeError, ConnectionResetError):   # the client gave up: what the test wants
            pass


@pytest.fixture()
def http_cogs(scenes):
    folder = scenes[0]
    release = threading.Event()
    handler = type("Files", (_Files,), {"root": folder, "release": release})
    try:
        with loopback_server(handler) as (_, url):
            yield url, folder, scenes[1]
    finally:
        release.set()


def _over_http(item, base: str, folder: Path, prefix: str, tag: str):
    """`item` with its hrefs served by the test server under `prefix` (a fresh URL per test:
    GDAL caches what it learnt about a URL)."""
    it = item.clone()
    for a in it.assets.values():
        a.href = f"{base}{prefix}/{Path(a.href).relative_to(folder).as_posix()}?t={tag}"
    return it


def test_http_read_gives_the_local_pixels_under_the_settings_env(http_cogs, grid):
    base, folder, a = http_cogs
    env = gdal_env(CatalogSettings(gdal_http_timeout_s=5, gdal_http_max_retry=0))
    remote = _over_http(a, base, folder, "", f"ok{time.monotonic_ns()}")
    got = cube.load_window([remote], grid, assets=["red", "scl"], reader=WindowReader, gdal_env=env).values
    want = cube.load_window([a], grid, assets=["red", "scl"]).values
    np.testing.assert_array_equal(got, want)
    DATASETS.clear()


def test_a_stalled_cog_server_fails_the_read_after_the_settings_timeout(http_cogs, grid):
    base, folder, a = http_cogs
    env = gdal_env(CatalogSettings(gdal_http_timeout_s=1, gdal_http_max_retry=0))
    remote = _over_http(a, base, folder, "/stall", f"stall{time.monotonic_ns()}")
    t0 = time.monotonic()
    with pytest.raises(Exception) as err:
        cube.load_window([remote], grid, assets=["red"], reader=WindowReader, gdal_env=env).compute()
    took = time.monotonic() - t0
    # the window reader's open times out, then stackstac's reader's: about 2 x 1 s, never the 30 s stall
    assert 1.0 <= took < 15, took
    assert "/stall/S2A_50TMK_20230705_0_L2A/red.tif" in str(err.value)     # names the file
    DATASETS.clear()
