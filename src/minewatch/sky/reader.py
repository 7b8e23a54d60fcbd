"""How the night's COG pixels come off disk or HTTP: a stackstac Reader and its GDAL options.

`cube.load_window(..., reader=WindowReader, gdal_env=gdal_env(settings.catalog))` is the
night's read (`pipeline.load_pixels`, `pixels.PixelStore.ingest`):

- `WindowReader`, a stackstac `Reader`: when an asset is on the output grid's CRS and its
  pixels are an integer multiple of the output resolution on aligned edges (every
  Sentinel-2 asset for a mine in its own UTM zone: 10 m, and 20 m replicated by nearest),
  it reads a plain window instead of building a `WarpedVRT` per (mine, asset), from
  datasets each thread keeps open across mines in a bounded LRU (`DATASETS`). Any other
  asset (another UTM zone, no nodata value, a non-nearest upsampling, an error) goes to
  stackstac's own `AutoParallelRioReader`, unchanged. The same pixels as stackstac's own
  reader. Picklable, so it works on a distributed cluster too (each worker keeps its own
  datasets).
- `gdal_env`: stackstac's default GDAL options plus the HTTP timeout and per-request
  retries from `CatalogSettings`. stackstac hands it to every reader it builds, and it is
  pickled with the graph, so dask workers read under the same options.

The rule for an asset that cannot be read (missing, 404, not a TIFF, truncated, a damaged
block), the same for local files and HTTP: nothing becomes no data silently. stackstac's
default `errors_as_nodata` turns an HTTP 404 into NaN (and a missing local file into an
error); `cube.stack_dn` passes `ERRORS_AS_NODATA = ()` and `WindowReader` raises
`AssetReadError` naming the href, so `pixels` can skip that scene and count it.
"""
from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import rasterio
import stackstac
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window
from stackstac.raster_spec import RasterSpec
from stackstac.rio_env import LayeredEnv

from minewatch.config import CatalogSettings

ERRORS_AS_NODATA: tuple[Exception, ...] = ()   # no read error is ever taken for no data


# rasterio's in-memory datasets (geometry_mask, rasterize) silence their own
# NotGeoreferencedWarning with warnings.catch_warnings, which is not thread-safe: with mines in
# threads one mine's restore drops another's filter and the warning reaches the night's log (an
# error under -W error). A filter set once, at import, is never toggled; a catalogue COG without a
# geotransform does not align with the grid and is read through stackstac's reader instead.
warnings.filterwarnings("ignore", category=NotGeoreferencedWarning)


class AssetReadError(Exception):
    """One asset of one scene could not be read (open or block read); names the href."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(url, reason)
        self.url, self.reason = url, reason

    def __str__(self) -> str:
        return f"cannot read {self.url}: {self.reason}"


def _why(e: BaseException) -> str:
    # the innermost GDAL text says what is wrong with the file; stackstac's wrapper only adds the window
    while e.__cause__ is not None:
        e = e.__cause__
    msg = " ".join(str(e).split())
    return f"{type(e).__name__}: {msg}"[:300] if msg else type(e).__name__


def gdal_http_options(c: CatalogSettings) -> dict[str, Any]:
    """GDAL settings for COG reads over HTTP: per-request retries of 429/5xx, bounded time.

    GDAL retries a failed request itself, so one bad tile does not restart a mine; the
    timeout bounds a read that hangs (a blocking GDAL read cannot be interrupted from Python).
    """
    return {"GDAL_HTTP_TIMEOUT": int(c.gdal_http_timeout_s),
            "GDAL_HTTP_CONNECTTIMEOUT": max(5, int(c.gdal_http_timeout_s) // 3),
            "GDAL_HTTP_MAX_RETRY": int(c.gdal_http_max_retry),
            "GDAL_HTTP_RETRY_DELAY": float(c.gdal_http_retry_delay_s),
            "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}


def gdal_env(c: CatalogSettings) -> LayeredEnv:
    """stackstac's default GDAL env with `gdal_http_options(c)` in force for every open and read."""
    return stackstac.DEFAULT_GDAL_ENV.updated(always=gdal_http_options(c))


class OpenDataset:
    """An open dataset and the facts the aligned reader checks, read once per open."""
    __slots__ = ("ds", "epsg", "transform", "nodata", "height", "width", "count", "local")

    def __init__(self, ds: rasterio.DatasetReader, url: str) -> None:
        self.ds = ds
        self.epsg = ds.crs.to_epsg() if ds.crs is not None else None
        self.transform = ds.transform
        self.nodata = ds.nodata
        self.height, self.width, self.count = ds.height, ds.width, ds.count
        # local files: the read env (HTTP and VSI cache options) changes nothing
        self.local = _is_local(url)


def _is_local(url: str) -> bool:
    return "://" not in url and not url.startswith("/vsi")


def _persistent_open_options(url: str) -> dict:
    """GDAL options for a dataset that stays open across mines.

    stackstac opens with VSI_CACHE=TRUE (its datasets live for one chunk, and re-opens
    of a URL hit the cache). A handle kept open keeps its VSI cache too, up to
    VSI_CACHE_SIZE (25 MB) each: measured ~3.5 MB per open COG here, so RSS grew with the
    number of open datasets. Local files need no VSI cache (the OS caches pages); remote
    ones keep a small one for headers.
    """
    return {"VSI_CACHE": False} if _is_local(url) else {"VSI_CACHE": True, "VSI_CACHE_SIZE": 1 << 20}


class DatasetCache:
    """Open rasterio datasets per (thread, url), least recently used closed beyond `size`.

    GDAL datasets must not be shared between threads, so each thread has its own. A
    dataset keeps its decoded blocks in GDAL's block cache until closed; bound the cache
    with GDAL_CACHEMAX (process-wide, read at the first block read).
    """

    def __init__(self, size: int = 128) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._per_thread: dict[int, OrderedDict[str, OpenDataset]] = {}
        self.opens = 0

    def get(self, url: str, env: LayeredEnv) -> OpenDataset:
        tid = threading.get_ident()
        with self._lock:
            lru = self._per_thread.setdefault(tid, OrderedDict())
            o = lru.get(url)
            if o is not None:
                lru.move_to_end(url)
                return o
        with env.open, rasterio.Env(**_persistent_open_options(url)):
            o = OpenDataset(rasterio.open(url, sharing=False), url)
        with self._lock:
            self.opens += 1
            lru[url] = o
            while len(lru) > self.size:
                _, old = lru.popitem(last=False)
                old.ds.close()
        return o

    def clear(self) -> None:
        """Close every thread's datasets. Call only when no read is in flight."""
        with self._lock:
            lrus, self._per_thread = list(self._per_thread.values()), {}
        for lru in lrus:
            for o in lru.values():
                o.ds.close()

    def __len__(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._per_thread.values())


DATASETS = DatasetCache()


@dataclass(frozen=True)
class AlignedPlan:
    k: int          # source pixel = k output pixels (1: 10 m, 2: 20 m on a 10 m grid)
    oy: int         # output rows between the source's top edge and the grid's top edge
    ox: int         # output columns between the source's left edge and the grid's left edge


class WindowReader:
    """stackstac Reader: aligned windows read directly from reused datasets (see module doc)."""

    def __init__(self, *, url: str, spec: RasterSpec, resampling: Resampling, dtype: np.dtype,
                 fill_value: int | float, scale_offset: tuple[float, float],
                 gdal_env: LayeredEnv | None = None, errors_as_nodata: tuple[Exception, ...] = ()) -> None:
        self.url = url
        self.spec = spec
        self.resampling = resampling
        self.dtype = np.dtype(dtype)
        self.fill_value = fill_value
        self.scale_offset = scale_offset
        self.gdal_env = gdal_env or stackstac.DEFAULT_GDAL_ENV
        self.errors_as_nodata = errors_as_nodata
        self._fallback: stackstac.rio_reader.AutoParallelRioReader | None = None
        self._lock = threading.Lock()

    # -- stackstac Reader protocol
    def read(self, window: Window) -> np.ndarray:
        try:
            return self._read(window)
        except AssetReadError:
            raise
        except Exception as e:   # any failure of this asset: its scene is skipped (module doc)
            raise AssetReadError(self.url, _why(e)) from e

    def _read(self, window: Window) -> np.ndarray:
        if self._fallback is None:
            try:
                o = DATASETS.get(self.url, self.gdal_env)
                plan = self.aligned_plan(o)
                if plan is not None:
                    return self._read_aligned(o, plan, window)
            except Exception:
                pass      # the stock reader decides: raise, or nodata per errors_as_nodata
            with self._lock:
                if self._fallback is None:
                    self._fallback = stackstac.rio_reader.AutoParallelRioReader(
                        url=self.url, spec=self.spec, resampling=self.resampling, dtype=self.dtype,
                        fill_value=self.fill_value, scale_offset=self.scale_offset,
                        gdal_env=self.gdal_env, errors_as_nodata=self.errors_as_nodata)
        return self._fallback.read(window)

    def close(self) -> None:
        if self._fallback is not None:
            self._fallback.close()

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url, "spec": self.spec, "resampling": self.resampling, "dtype": self.dtype,
                "fill_value": self.fill_value, "scale_offset": self.scale_offset,
                "gdal_env": self.gdal_env, "errors_as_nodata": self.errors_as_nodata}

    def __setstate__(self, state: dict[str, Any]) -> None:
        type(self).__init__(self, **state)

    # -- the aligned path
    def aligned_plan(self, o: OpenDataset) -> AlignedPlan | None:
        """How the output grid sits on the dataset's pixels, or None: read through stackstac's reader."""
        spec = self.spec
        if o.count != 1 or o.nodata is None or o.epsg is None or o.epsg != spec.epsg:
            return None
        t, g = o.transform, spec.transform
        if t.b != 0 or t.d != 0 or g.b != 0 or g.d != 0 or t.a <= 0 or t.e >= 0:
            return None
        rx, ry = g.a, -g.e
        kx, ky = t.a / rx, -t.e / ry
        k = round(kx)
        if k < 1 or abs(kx - k) > 1e-9 or abs(ky - k) > 1e-9:
            return None
        if k > 1 and self.resampling != Resampling.nearest:
            return None
        ox, oy = (g.c - t.c) / rx, (t.f - g.f) / ry
        if abs(ox - round(ox)) > 1e-6 or abs(oy - round(oy)) > 1e-6:
            return None
        return AlignedPlan(k, int(round(oy)), int(round(ox)))

    def _read_aligned(self, o: OpenDataset, p: AlignedPlan, window: Window) -> np.ndarray:
        h, w = int(window.height), int(window.width)
        r0, c0 = p.oy + int(window.row_off), p.ox + int(window.col_off)   # in output pixels
        k = p.k
        # source rows/cols covering output rows r0..r0+h-1, clipped to the dataset
        sr0, sr1 = max(r0 // k, 0), min((r0 + h - 1) // k + 1, o.height)
        sc0, sc1 = max(c0 // k, 0), min((c0 + w - 1) // k + 1, o.width)
        if sr1 <= sr0 or sc1 <= sc0:
            return np.full((h, w), self.fill_value, dtype=self.dtype)
        src = Window(sc0, sr0, sc1 - sc0, sr1 - sr0)
        if o.local:
            a = o.ds.read(1, window=src, out_dtype=self.dtype)
        else:
            with self.gdal_env.read:
                a = o.ds.read(1, window=src, out_dtype=self.dtype)
        nodata = a == o.nodata          # compared in the output dtype: exact for integer DN
        scale, offset = self.scale_offset
        if scale != 1:
            a *= scale
        if offset != 0:
            a += offset
        a[nodata] = self.fill_value
        if k > 1:     # columns then whole rows: ~5x faster than reshaping a broadcast view
            a = np.repeat(np.repeat(a, k, axis=1), k, axis=0)
        # the (replicated) block starts at output pixel (sr0 * k, sc0 * k)
        y0, x0 = max(r0, sr0 * k), max(c0, sc0 * k)
        y1, x1 = min(r0 + h, sr1 * k), min(c0 + w, sc1 * k)
        part = a[y0 - sr0 * k:y1 - sr0 * k, x0 - sc0 * k:x1 - sc0 * k]
        if (y0, x0, y1, x1) == (r0, c0, r0 + h, c0 + w):
            return part
        out = np.full((h, w), self.fill_value, dtype=self.dtype)
        out[y0 - r0:y1 - r0, x0 - c0:x1 - c0] = part
        return out
