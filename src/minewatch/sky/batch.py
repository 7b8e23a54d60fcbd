"""Many mines' windows in one dask graph: the batched path of `cube.load_window` + stats.

Measured on mine-sized windows (benchmarks/pipeline.py, benchmarks/README.md), the cost
of the stackstac path is per stack, per dataset open and per graph, not per pixel. This
module keeps stackstac + dask as the loading path and removes those costs:

1. `WindowReader`, a stackstac `Reader`: when an asset is on the output grid's CRS and its
   pixels are an integer multiple of the output resolution on aligned edges (every
   Sentinel-2 asset for a mine in its own UTM zone: 10 m, and 20 m replicated by nearest),
   it reads a plain window instead of building a `WarpedVRT` per (mine, asset), from
   datasets each thread keeps open across mines in a bounded LRU (`DATASETS`). Any other
   asset (another UTM zone, no nodata value, a non-nearest upsampling, an error) goes to
   stackstac's own `AutoParallelRioReader`, unchanged. Picklable, so it works on a
   distributed cluster too (each worker keeps its own datasets).
2. `stack_window`: `cube.load_window` with that reader; the same array, pixel for pixel.
3. `unit_stats_many`: the same `cube.to_reflectance` -> `masks.clear_mask` -> `indices` ->
   `series.unit_stats` functions, run on in-memory chunks of several mines at once (a
   `mine` dimension), one task per group of mines that share their scenes, doing all of
   those mines' work (stackstac array, unit masks, reads, statistics), many groups per
   `dask.compute`. A graph of ~100 small dask tasks per mine cost more to build than its
   pixels; the functions' fixed cost per call is paid once per group; the per-mine
   Python runs on the workers, in parallel; peak memory is set by the tasks running at
   once, not by the number of mines. The tasks are coarse and return small statistics,
   so a local process pool (`ops.dask_client(local_scheduler="processes")`) runs them
   without the GIL between workers: on 2 cores, as fast as plain rasterio + numpy on 2
   processes (benchmarks/README.md).
"""
from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterable, Iterator

import dask
import numpy as np
import pystac
import rasterio
import stackstac
import xarray as xr
from rasterio.enums import Resampling
from rasterio.windows import Window

from minewatch.sky import cube, indices, masks, series

#: assets the statistics need (ndvi, fvc: red nir; bsi: blue red nir swir16; mask: scl)
STAT_ASSETS = ("blue", "red", "nir", "swir16", "scl")

#: stackstac's defaults for open/read; plus nothing else (GDAL_CACHEMAX is process-wide:
#: set it before the first read, see benchmarks/README.md)
GDAL_ENV = stackstac.DEFAULT_GDAL_ENV


# ----------------------------------------------------------------------------- datasets

class _Open:
    """An open dataset and the facts the aligned reader checks, read once per open."""
    __slots__ = ("ds", "epsg", "transform", "nodata", "height", "width", "count", "local")

    def __init__(self, ds, url: str):
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

    def __init__(self, size: int = 128):
        self.size = size
        self._lock = threading.Lock()
        self._per_thread: dict[int, OrderedDict] = {}
        self.opens = 0

    def get(self, url: str, env) -> _Open:
        tid = threading.get_ident()
        with self._lock:
            lru = self._per_thread.setdefault(tid, OrderedDict())
            o = lru.get(url)
            if o is not None:
                lru.move_to_end(url)
                return o
        with env.open, rasterio.Env(**_persistent_open_options(url)):
            o = _Open(rasterio.open(url, sharing=False), url)
        with self._lock:
            self.opens += 1
            lru[url] = o
            while len(lru) > self.size:
                _, old = lru.popitem(last=False)
                old.ds.close()
        return o

    def retain(self, urls: set) -> None:
        """Close this thread's datasets whose URL is not in `urls` (another thread's may be
        in use): a task keeps what its mines read, and what the next mines of the same
        tile will read again."""
        with self._lock:
            lru = self._per_thread.get(threading.get_ident(), {})
            closed = [lru.pop(u) for u in [u for u in lru if u not in urls]]
        for o in closed:
            o.ds.close()

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


def _close_here(_) -> int:
    DATASETS.clear()
    time.sleep(0.2)          # hold this worker, so that the next call goes to another
    return os.getpid()


def close_pool_datasets(pool) -> None:
    """Close the datasets each worker of a local process pool (`ops.dask_client(
    local_scheduler="processes")`) keeps open after its last group: `unit_stats_many`
    closes only this process's. One call per worker, until every live worker answered."""
    pids, seen = set(getattr(pool, "_processes", None) or {}), set()   # the executor's live workers
    for _ in range(10):
        seen |= set(pool.map(_close_here, range(len(pids))))
        if seen >= pids:
            return
    raise RuntimeError(f"could not reach every pool worker: {sorted(pids - seen)}")


@dataclass(frozen=True)
class _Plan:
    k: int          # source pixel = k output pixels (1: 10 m, 2: 20 m on a 10 m grid)
    oy: int         # output rows between the source's top edge and the grid's top edge
    ox: int         # output columns between the source's left edge and the grid's left edge


class WindowReader:
    """stackstac Reader: aligned windows read directly from reused datasets (see module doc)."""

    def __init__(self, *, url, spec, resampling, dtype, fill_value, scale_offset,
                 gdal_env=None, errors_as_nodata=()):
        self.url = url
        self.spec = spec
        self.resampling = resampling
        self.dtype = np.dtype(dtype)
        self.fill_value = fill_value
        self.scale_offset = scale_offset
        self.gdal_env = gdal_env or stackstac.DEFAULT_GDAL_ENV
        self.errors_as_nodata = errors_as_nodata
        self._fallback = None
        self._lock = threading.Lock()

    # -- stackstac Reader protocol
    def read(self, window: Window) -> np.ndarray:
        if self._fallback is None:
            try:
                o = DATASETS.get(self.url, self.gdal_env)
                plan = self._plan(o)
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

    def __getstate__(self):
        return {"url": self.url, "spec": self.spec, "resampling": self.resampling, "dtype": self.dtype,
                "fill_value": self.fill_value, "scale_offset": self.scale_offset,
                "gdal_env": self.gdal_env, "errors_as_nodata": self.errors_as_nodata}

    def __setstate__(self, state):
        self.__init__(**state)

    # -- the aligned path
    def _plan(self, o: _Open) -> _Plan | None:
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
        return _Plan(k, int(round(oy)), int(round(ox)))

    def _read_aligned(self, o: _Open, p: _Plan, window: Window) -> np.ndarray:
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


# ----------------------------------------------------------------------------- stacks

def _stack_dn(items: list[pystac.Item], grid: cube.Grid, assets, chunk_time: int, gdal_env):
    """stackstac's lazy array of file DN through `WindowReader` (no data: NaN), and the
    float32 DN offset of each time step."""
    if not items:
        raise ValueError("no items to load")
    ordered = cube._sorted(items)      # (datetime, id): the order the offsets follow
    da = cube.stack_dn(ordered, grid, assets, chunk_time, reader=WindowReader, gdal_env=gdal_env or GDAL_ENV)
    offsets = np.array([cube.reflectance_offset(it) for it in ordered], dtype="float32")
    return da, offsets


def stack_window(items: list[pystac.Item], grid: cube.Grid, assets=cube.BANDS, chunk_time: int = 16,
                 gdal_env=None) -> xr.DataArray:
    """`cube.load_window` read through `WindowReader`: the same lazy array, pixel for pixel."""
    da, offsets = _stack_dn(items, grid, assets, chunk_time, gdal_env)
    # as cube.load_window: DN 0 -> no data, each scene's own offset off the reflectance bands
    refl_band = xr.DataArray([a != "scl" for a in assets], dims="band")
    off = (xr.DataArray(offsets, dims="time") * refl_band).astype("float32")
    return (da.where(da != 0) - off).assign_coords(dn_offset=("time", offsets))


def _offset_free(raw: np.ndarray, bands, offsets: np.ndarray) -> None:
    """`stack_window`'s DN 0 -> NaN and offset subtraction, in place on a (mine, time, band,
    y, x) array of stackstac DN (the same float32 operations, without a dask graph of
    xarray operations per mine)."""
    raw[raw == 0] = np.nan
    off = offsets.astype(np.float32)[None, :, None, None]
    for j, b in enumerate(bands):
        if b != "scl":
            raw[:, :, j] -= off


# ----------------------------------------------------------------------------- statistics

@dataclass(frozen=True)
class StatsParams:
    mask_classes: tuple[int, ...] = (0, 1, 3, 8, 9, 10)
    mask_dilation_px: int = 2
    ndvi_soil: float = 0.05
    ndvi_veg: float = 0.80

    @classmethod
    def from_settings(cls, s) -> "StatsParams":
        return cls(tuple(s.imagery.mask_classes), s.imagery.mask_dilation_px,
                   s.indices.ndvi_soil, s.indices.ndvi_veg)


@dataclass(frozen=True)
class MineWindow:
    key: str                      # e.g. the licence number
    items: list                   # pystac items to load (any order)
    grid: cube.Grid
    units_utm: dict               # unit key -> geometry in grid CRS


def chunk_stats(raw: xr.DataArray, unit_masks: xr.DataArray, p: StatsParams) -> xr.Dataset:
    """What `pipeline.observe` computes, on one in-memory (time, band, y, x) chunk."""
    refl = cube.to_reflectance(raw)
    clear = masks.clear_mask(refl.scl, p.mask_classes, p.mask_dilation_px)
    nd = indices.ndvi(refl)
    idx = xr.Dataset({"ndvi": nd, "fvc": indices.fvc(nd, p.ndvi_soil, p.ndvi_veg), "bsi": indices.bsi(refl)})
    return series.unit_stats(idx, clear, unit_masks)


def _pad_code(p: StatsParams) -> float:
    """An SCL code that the mask treats as clear: padding must not dilate into a window."""
    return float(next(c for c in range(1, 12) if c not in p.mask_classes))


def _empty_group(n: int, t: int, bands, shapes, dtype, p: StatsParams) -> np.ndarray:
    """(mine, time, band, y, x) for windows padded to the largest: reflectance NaN, SCL a
    clear code (padding is never valid and never dilates into a window)."""
    hh, ww = max(h for h, _ in shapes), max(w for _, w in shapes)
    if all(sh == (hh, ww) for sh in shapes):
        return np.empty((n, t, len(bands), hh, ww), dtype=dtype)
    raw = np.full((n, t, len(bands), hh, ww), np.nan, dtype=dtype)
    raw[:, :, list(bands).index("scl")] = _pad_code(p)
    return raw


def _group_stats(raw: np.ndarray, bands, offsets, unit_masks, p: StatsParams) -> dict[str, np.ndarray]:
    """`chunk_stats` of several mines at once (raw from `_empty_group`): each statistic as
    a (mine, unit, time) array (n_px: (mine, unit)), units padded with empty ones.

    Runs the minewatch functions once on a (mine, time, band, y, x) array, so their
    per-call overhead is paid once per group, not once per mine.
    """
    n, _, _, hh, ww = raw.shape
    uu = max(m.shape[0] for m in unit_masks)
    um = np.zeros((n, uu, hh, ww), dtype=bool)
    for i, m in enumerate(unit_masks):
        um[i, :m.shape[0], :m.shape[1], :m.shape[2]] = m
    da = xr.DataArray(raw, dims=("mine", "time", "band", "y", "x"),
                      coords={"band": list(bands), "dn_offset": ("time", offsets)})
    st = chunk_stats(da, xr.DataArray(um, dims=("mine", "unit", "y", "x")), p)
    return {k: v.transpose("mine", "unit", *(("time",) if "time" in v.dims else ())).values
            for k, v in st.data_vars.items()}


def _mine_stats(parts: list[dict], i: int, unit_keys: list[str], times, ids, offsets) -> xr.Dataset:
    """Mine `i`'s Dataset from its group's per-chunk arrays (`_group_stats`): dims (unit,
    time), coords unit, time, id, dn_offset."""
    nu = len(unit_keys)
    data = {k: (("unit", "time"), np.concatenate([c[k][i, :nu] for c in parts], axis=-1))
            for k in parts[0] if k != "n_px"}
    data["n_px"] = ("unit", parts[0]["n_px"][i, :nu])
    return xr.Dataset(data, coords={"unit": list(unit_keys), "time": times, "id": ("time", ids),
                                    "dn_offset": ("time", offsets)})


class _Opaque:
    """Hides a task's arguments from dask.delayed: no traversal of items and geometries
    looking for dask collections, no tokenizing."""
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __getstate__(self):
        return self.value

    def __setstate__(self, state):
        self.value = state


class MineError(RuntimeError):
    """What `unit_stats_many` gives for a mine it could not read or compute (a missing or
    corrupt COG, ...), in place of its statistics; the other mines are computed."""

    def __init__(self, key: str, reason: str):
        super().__init__(f"mine {key}: {reason}")
        self.key, self.reason = key, reason

    def __reduce__(self):        # picklable from a pool or cluster worker
        return (MineError, (self.key, self.reason))


def _group_task(group: _Opaque, p: StatsParams, chunk_time: int, gdal_env, retain: bool
                ) -> list[xr.Dataset | MineError]:
    """One task per group of mines that share their scenes (`_group_compute`); when the
    group fails, each of its mines alone, so one broken mine costs only itself."""
    windows: list[MineWindow] = group.value
    if retain:       # close the datasets of scenes this group does not read (another tile's)
        DATASETS.retain({a.href for w in windows for i in w.items for k, a in i.assets.items()
                         if k in STAT_ASSETS})
    try:
        return _group_compute(windows, p, chunk_time, gdal_env)
    except Exception as e:  # noqa: BLE001 - reported per mine, never lost
        if len(windows) == 1:
            return [MineError(windows[0].key, f"{type(e).__name__}: {e}")]
        return [_group_task(_Opaque([w]), p, chunk_time, gdal_env, False)[0] for w in windows]


def _group_compute(windows: list[MineWindow], p: StatsParams, chunk_time: int, gdal_env) -> list[xr.Dataset]:
    """Everything a group's mines cost, in one task.

    Here, not in the caller: each mine's stackstac array (`_stack_dn`) and unit masks,
    then its chunks computed (sync scheduler) straight into one (mine, time, band, y, x)
    array, offset-free DN as `stack_window`'s in place (`_offset_free`), then
    `_group_stats` per time chunk. The per-mine Python (stackstac's graph, rasterize)
    runs on the workers in parallel instead of serially between computes, only small
    statistics leave a task (threads, processes or a cluster alike), and a task holds one
    copy of its pixels.
    """
    stacks, offs = zip(*(_stack_dn(w.items, w.grid, STAT_ASSETS, chunk_time, gdal_env) for w in windows))
    offsets = offs[0]          # the group's mines share their scenes: the same offsets
    unit_masks = [series.unit_masks(w.units_utm, w.grid).values for w in windows]
    bands, chunks_t = stacks[0].band.values, stacks[0].data.chunks[0]
    shapes = [s.shape[2:] for s in stacks]
    raw = _empty_group(len(stacks), sum(chunks_t), bands, shapes, stacks[0].dtype, p)
    for i, (s, (h, w)) in enumerate(zip(stacks, shapes)):
        t0 = 0       # chunk by chunk, straight into place (no concatenation, no finalize copy)
        for blk, n in zip(s.data.to_delayed(optimize_graph=False).ravel(), chunks_t):
            raw[i, t0:t0 + n, :, :h, :w] = blk.compute(scheduler="sync")
            t0 += n
    _offset_free(raw, bands, offsets)
    parts, t0 = [], 0
    for n in chunks_t:
        parts.append(_group_stats(raw[:, t0:t0 + n], bands, offsets[t0:t0 + n], unit_masks, p))
        t0 += n
    del raw
    return [_mine_stats(parts, i, list(w.units_utm), s.time.values, s.id.values, offsets)
            for i, (w, s) in enumerate(zip(windows, stacks))]


def _scenes_key(items) -> tuple:
    return tuple(sorted(it.id for it in items))


def _groups(batch: list[MineWindow], mines_per_task: int) -> list[list[MineWindow]]:
    """Runs of consecutive windows with the same scenes, at most `mines_per_task` each."""
    groups, cur, key = [], [], None
    for w in batch:
        k = _scenes_key(w.items)
        if cur and (k != key or len(cur) >= mines_per_task):
            groups.append(cur)
            cur = []
        cur.append(w)
        key = k
    return groups + [cur] if cur else groups


def unit_stats_many(windows: Iterable[MineWindow], p: StatsParams, *, batch_size: int = 32,
                    mines_per_task: int = 2, chunk_time: int = 16, gdal_env=None,
                    close_datasets: bool = True) -> Iterator[tuple[str, xr.Dataset | MineError]]:
    """(key, computed unit_stats Dataset) per window, `batch_size` windows per dask.compute;
    (key, `MineError`) for a mine that could not be read or computed: one broken mine or
    scene never stops the others.

    Same values as `series.unit_stats` over `cube.load_window`, with dims (unit, time)
    and coords unit, time, id, dn_offset, ready for `series.stats_frame`. Within a batch,
    consecutive windows that share their scenes are computed `mines_per_task` at a time
    in one task (`_group_task`), which does all of a mine's work, so a batch is one
    task per group: batches may be large (memory is set by the tasks running at once).
    Give windows in an order where neighbours share scenes (sorted by MGRS tile /
    location): open datasets (`DATASETS`, a bounded LRU per thread) are reused from one
    mine to the next. With `close_datasets`, a task first closes its thread's datasets
    that its mines do not read, and this process's are closed at the end (a local process
    pool's workers keep at most their last group's until the pool closes).
    """
    it = iter(windows)
    # pure=False: unique task keys without tokenizing the arguments
    task = dask.delayed(_group_task, pure=False)
    try:
        while True:
            batch = []
            for w in it:
                batch.append(w)
                if len(batch) >= batch_size:
                    break
            if not batch:
                return
            groups = _groups(batch, mines_per_task)
            (computed,) = dask.compute([task(_Opaque(g), p, chunk_time, gdal_env, close_datasets)
                                        for g in groups])
            for g, stats in zip(groups, computed):
                yield from ((w.key, st) for w, st in zip(g, stats))
    finally:
        if close_datasets:
            DATASETS.clear()
