"""Benchmark: minewatch's stackstac + dask path against plain rasterio windowed reads.

    PYTHONPATH=src:. python benchmarks/pipeline.py                      # the full run (< 10 min)
    PYTHONPATH=src:. python benchmarks/pipeline.py --mines 10 --scenes 10              # smoke (< 1 min)

For N mines x T scenes it times, on the same windows and the same statistics:

- plain:     rasterio `ds.read(window=...)`, one dataset open per asset reused across mines,
             numpy masks / indices / per-unit means (the bar, DOMAIN.md §5); on 1 thread,
             on `--workers` threads and on a pool of `--workers` spawned processes;
- pipeline:  what the nightly `pipeline.process_mine` does for a mine's statistics, one
             mine at a time: `pipeline.load_pixels` (steps the pixel store lacks read and
             stored, the cube read back from the store) -> `pipeline.observe` -> one
             `dask.compute`; timed on a first night (empty store) and on the next night
             with one new scene;
- batched:   `minewatch.sky.batch.unit_stats_many`: one task per 2 mines does all their
             work (stackstac arrays through a dataset-reusing reader, unit masks, reads,
             the same functions on both mines at once), 32 mines per `dask.compute`; on
             dask's threads and on the same process pool as plain
             (`ops.dask_client(local_scheduler="processes")`). The ratio is the fastest
             minewatch row over the fastest plain row (see benchmarks/README.md);

asserts that every path gives the same per-unit means (within 1e-5), times a rerun with
no new scenes against `SeriesStore`, and measures peak RSS at 10, 100 and 1,000 mines, each
in a fresh subprocess. Human-readable figures first, ONE JSON line last.

Data: a few generated scene tiles (`minewatch.synth.scenes`, COGs as Earth Search v1
writes them) hold 64 mine windows each (256 x 256 px at 10 m); more mines and more dates
reuse the generated files through hard links under distinct paths, so every (mine
group, date, asset) is its own file to GDAL while 1,000 mines do not need 1,000 scene
sets. Generated data is cached under --data-dir. Catalogue search is not timed: items are
STAC items in memory, as `catalog.search_scenes` returns them.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

# Run as a script, the benchmark re-executes itself once with its own environment, before
# numpy loads OpenBLAS and before glibc's malloc starts:
# - OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (set on some machines here for old OpenBLAS
#   builds; they slow a current numpy) are unset;
# - OPENBLAS_NUM_THREADS defaults to 1 (dask's threads already use the cores; BLAS
#   threads on top oversubscribe them);
# - MALLOC_ARENA_MAX=1 unless set or `--malloc-arena-max 0` (glibc's default gives each
#   thread its own arena; the multi-MB arrays of later batches fragment them and peak RSS
#   grew ~25% from 10 to 100 mines, then stayed; with one arena it is flat, at the same
#   speed here; see benchmarks/README.md).
# All are recorded in the JSON line. Importing this module (the tests) changes nothing.
_ENV_KEY = "_MINEWATCH_BENCH_ENV"
if __name__ == "__main__" and _ENV_KEY not in os.environ:
    _env = dict(os.environ)
    _unset = [k for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if _env.pop(k, None) is not None]
    _env.setdefault("OPENBLAS_NUM_THREADS", "1")
    _arenas = "1"
    for _i, _a in enumerate(sys.argv):
        if _a.startswith("--malloc-arena-max"):
            _arenas = _a.split("=", 1)[1] if "=" in _a else sys.argv[_i + 1]
    if _arenas != "0":
        _env.setdefault("MALLOC_ARENA_MAX", _arenas)
    _env[_ENV_KEY] = json.dumps({"openblas_unset": _unset})
    os.execve(sys.executable, [sys.executable] + sys.argv, _env)
_ENV_NOTE = json.loads(os.environ.get(_ENV_KEY, '{"openblas_unset": []}'))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pystac  # noqa: E402
import rasterio  # noqa: E402
from rasterio.features import rasterize  # noqa: E402
from rasterio.windows import Window  # noqa: E402
from scipy import ndimage  # noqa: E402
from shapely import affinity  # noqa: E402
from shapely.geometry import Point, box  # noqa: E402

from minewatch.sky import batch, cube  # noqa: E402

# ------------------------------------------------------------------------------ layout

EPSG, MGRS = 32650, "50TMK"
X0, Y_TOP = 400_020.0, 4_500_000.0      # tile origin (UTM metres, multiples of 20)
RES = 10.0
WINDOW_PX = 256                         # a mine's window (grid_around of a ~2 km mine)
PITCH_PX = 320                          # mine windows every 3.2 km; offsets inside vary
TILE_SIDE = 8                           # 8 x 8 = 64 mines per generated tile
STAT_ASSETS = ("blue", "red", "nir", "swir16", "scl")   # what ndvi, fvc, bsi and the mask read
MASK_CLASSES = (0, 1, 3, 8, 9, 10)      # config.ImagerySettings defaults
DILATION_PX = 2
NDVI_SOIL, NDVI_VEG = 0.05, 0.80
UNITS_PER_MINE = 4
FIRST_DATE = datetime(2025, 5, 3, 3, 5, 21, tzinfo=timezone.utc)
REVISIT = timedelta(days=5)
LAYOUT_VERSION = 1
# cloud cover of the distinct generated dates (cycled when T > pool)
POOL_CLOUD = (0.0, 0.15, 0.35, 0.05, 0.55, 0.10, 0.25, 0.0)


@dataclass(frozen=True)
class Mine:
    license_no: str
    grid: cube.Grid
    units: dict          # unit key -> shapely geometry (UTM)
    replica: int         # which hard-linked copy of the tile its items point at


@dataclass
class Layout:
    mines: list[Mine]
    items: dict[int, list[pystac.Item]]          # replica -> items (date order)
    data_dir: Path
    generated_s: float = 0.0
    n_generated: int = 0

    def items_of(self, m: Mine) -> list[pystac.Item]:
        return self.items[m.replica]


def _tile_side(n_mines: int) -> int:
    return min(TILE_SIDE, max(1, math.ceil(math.sqrt(n_mines))))


def _ground(n: int, k: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Smooth vegetation fraction and SOIL/ROCK/WATER background for pool date k."""
    rng = np.random.default_rng(seed)
    def field_(cells):
        lat = rng.random((cells, cells))
        return ndimage.zoom(lat, n / cells, order=1)[:n, :n]
    base = field_(max(4, n // 40))
    rock = field_(max(4, n // 80)) > 0.8
    water = field_(max(4, n // 60)) > 0.93
    season = 0.35 + 0.65 * math.sin(math.pi * min(1.0, (k + 1) / 8))   # greener through summer
    fvc = np.clip(base * season, 0, 1).astype(np.float32)
    bg = np.zeros((n, n), np.uint8)
    bg[rock] = 1
    bg[water] = 2
    return fvc, bg


def _write_pool_entry(args) -> str:
    from minewatch.synth import scenes as s2
    pool_dir, k, side = args
    n = side * PITCH_PX
    fvc, bg = _ground(n, k)
    spec = s2.SceneSpec(
        item_id=f"POOL_{k}", datetime=FIRST_DATE + k * REVISIT, epsg=EPSG,
        bounds=(X0, Y_TOP - n * RES, X0 + n * RES, Y_TOP), mgrs_tile=MGRS,
        cloud_fraction=POOL_CLOUD[k % len(POOL_CLOUD)], seed=1000 + k)
    it = s2.write_scene(pool_dir, spec, fvc, bg)
    (pool_dir / spec.item_id / "item.json").write_text(json.dumps(it.to_dict(transform_hrefs=False)))
    return spec.item_id


def _units(rng: np.random.Generator, grid: cube.Grid) -> dict:
    minx, miny, maxx, maxy = grid.bounds
    out = {}
    for u in range(UNITS_PER_MINE):
        cx = rng.uniform(minx + 700, maxx - 700)
        cy = rng.uniform(miny + 700, maxy - 700)
        if u % 2 == 0:
            g = box(cx - rng.uniform(150, 600), cy - rng.uniform(150, 600), cx + rng.uniform(150, 600),
                    cy + rng.uniform(150, 600))
            g = affinity.rotate(g, rng.uniform(0, 90))
        else:
            g = affinity.scale(Point(cx, cy).buffer(rng.uniform(150, 500)), 1.0, rng.uniform(0.5, 1.5))
        out[f"planned/{u + 1}"] = g
    return out


def prepare(data_dir: Path, n_mines: int, n_scenes: int, pool: int, workers: int = 2,
            side: int | None = None, log=print) -> Layout:
    """Generated scenes (cached) and the mines laid out over them; items in memory."""
    side = side or _tile_side(n_mines)
    pool = max(1, min(pool, n_scenes))
    root = Path(data_dir) / f"v{LAYOUT_VERSION}-side{side}"
    pool_dir = root / "pool"
    pool_dir.mkdir(parents=True, exist_ok=True)
    todo = [(pool_dir, k, side) for k in range(pool) if not (pool_dir / f"POOL_{k}" / "item.json").exists()]
    t0 = time.perf_counter()
    if todo:
        log(f"generating {len(todo)} scene tile(s) of {side * PITCH_PX} px under {pool_dir} ...")
        if workers > 1 and len(todo) > 1:
            with ProcessPoolExecutor(min(workers, len(todo))) as ex:
                list(ex.map(_write_pool_entry, todo))
        else:
            for a in todo:
                _write_pool_entry(a)
    gen_s = time.perf_counter() - t0

    pool_items = [json.loads((pool_dir / f"POOL_{k}" / "item.json").read_text()) for k in range(pool)]
    per_tile = side * side
    n_rep = math.ceil(n_mines / per_tile)
    items: dict[int, list[pystac.Item]] = {}
    for r in range(n_rep):
        lst = []
        for d in range(n_scenes):
            src = pool_items[d % pool]
            dt = FIRST_DATE + d * REVISIT
            dst_dir = root / f"rep{r:03d}" / f"d{d:03d}"
            dst_dir.mkdir(parents=True, exist_ok=True)
            dct = json.loads(json.dumps(src))
            dct["id"] = f"S2B_{MGRS}_{dt:%Y%m%d}_{r}_L2A"
            dct["properties"]["datetime"] = dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            for key, a in dct["assets"].items():
                dst = dst_dir / f"{key}.tif"
                if not dst.exists():
                    os.link(a["href"], dst)       # a distinct path for GDAL, no new bytes
                a["href"] = str(dst)
            lst.append(pystac.Item.from_dict(dct, migrate=False))
        items[r] = lst

    rng = np.random.default_rng(42)
    slots = []
    for row in range(side):
        for col in range(side):
            oy, ox = (int(v) for v in rng.integers(0, PITCH_PX - WINDOW_PX + 1, size=2))
            minx = X0 + (col * PITCH_PX + ox) * RES
            maxy = Y_TOP - (row * PITCH_PX + oy) * RES
            g = cube.Grid(EPSG, (minx, maxy - WINDOW_PX * RES, minx + WINDOW_PX * RES, maxy), RES)
            slots.append((g, _units(rng, g)))
    mines = [Mine(f"BENCH{i:05d}", slots[i % per_tile][0], slots[i % per_tile][1], i // per_tile)
             for i in range(n_mines)]
    return Layout(mines, items, root, gen_s, len(todo))


# ------------------------------------------------------------------------------ plain path

def _plain_mine(m: Mine, items: list[pystac.Item], handles: dict) -> pd.DataFrame:
    """rasterio windowed reads + numpy: the same mask, indices and means as minewatch."""
    h, w = m.grid.shape
    minx, _, _, maxy = m.grid.bounds
    masks = np.stack([rasterize([(g, 1)], out_shape=(h, w), transform=m.grid.transform, fill=0,
                                all_touched=False, dtype="uint8").astype(bool) for g in m.units.values()])
    mf = masks.reshape(len(masks), -1).astype(np.float32)
    n_px = mf.sum(1)
    st = ndimage.generate_binary_structure(2, 1)
    rows = []
    for it in sorted(items, key=lambda i: i.datetime):
        off = np.float32(cube.reflectance_offset(it))
        b = {}
        for key in STAT_ASSETS:
            href = it.assets[key].href
            ds = handles.get(href)
            if ds is None:
                ds = handles[href] = rasterio.open(href)
            step = int(round(ds.res[0] / RES))          # 1 at 10 m, 2 at 20 m
            col = (minx - ds.transform.c) / RES
            row = (ds.transform.f - maxy) / RES
            c0, r0 = int(col) // step, int(row) // step
            c1, r1 = -(-(int(col) + w) // step), -(-(int(row) + h) // step)
            a = ds.read(1, window=Window(c0, r0, c1 - c0, r1 - r0))
            if step > 1:
                a = a.repeat(step, 0).repeat(step, 1)
                a = a[int(row) - r0 * step:int(row) - r0 * step + h, int(col) - c0 * step:int(col) - c0 * step + w]
            b[key] = a
        refl = {}
        for key in ("blue", "red", "nir", "swir16"):
            dn = b[key].astype(np.float32)
            dn[dn <= 0] = np.nan
            refl[key] = (dn - off) / np.float32(10000.0)
        scl = b["scl"]
        bad = np.isin(scl, MASK_CLASSES) | (scl == 0)   # DN 0: no data, never clear
        if DILATION_PX:
            bad = ndimage.binary_dilation(bad, structure=st, iterations=DILATION_PX)
        nd = (refl["nir"] - refl["red"]) / (refl["nir"] + refl["red"])
        fvc = np.clip((nd - np.float32(NDVI_SOIL)) / np.float32(NDVI_VEG - NDVI_SOIL), 0, 1)
        s = refl["swir16"] + refl["red"]
        q = refl["nir"] + refl["blue"]
        bsi = (s - q) / (s + q)
        valid = (~bad) & ~np.isnan(nd)
        vf = valid.reshape(-1).astype(np.float32)
        clear_px = mf @ vf
        rec = {"unit": list(m.units), "item_id": it.id, "n_px": n_px, "clear_px": clear_px}
        for name, arr in (("ndvi", nd), ("fvc", fvc), ("bsi", bsi)):
            tot = mf @ np.where(valid, arr, 0).reshape(-1).astype(np.float32)
            with np.errstate(invalid="ignore", divide="ignore"):
                rec[f"{name}_mean"] = np.where(clear_px > 0, tot / np.where(clear_px > 0, clear_px, 1), np.nan)
        rows.append(pd.DataFrame(rec))
    return pd.concat(rows, ignore_index=True)


def _plain_group(pairs: list[tuple[Mine, list[pystac.Item]]]) -> dict[str, pd.DataFrame]:
    """Mines of one tile copy, sharing open datasets (one per asset)."""
    handles: dict = {}
    out = {}
    with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"):
        try:
            for m, items in pairs:
                out[m.license_no] = _plain_mine(m, items, handles)
        finally:
            for ds in handles.values():
                ds.close()
    return out


def run_plain(layout: Layout, threads: int = 1, pool=None) -> dict[str, pd.DataFrame]:
    """Per-mine tables; mines of one tile copy share open datasets (one per asset).

    With threads > 1 each thread takes whole tile copies and has its own datasets
    (GDAL datasets are not thread-safe); with `pool` (a process pool) its processes take
    them instead: no GIL between the workers, at the cost of pickling items and results.
    """
    by_rep: dict[int, list[Mine]] = {}
    for m in layout.mines:
        by_rep.setdefault(m.replica, []).append(m)
    groups = [[(m, layout.items_of(m)) for m in g] for g in by_rep.values()]
    workers = getattr(pool, "_max_workers", threads)
    if workers > 1:
        # split groups further so that every worker has work with few tile copies
        chunks = []
        for g in groups:
            k = max(1, math.ceil(len(g) / workers))
            chunks += [g[i:i + k] for i in range(0, len(g), k)]
        if pool is not None:
            parts = list(pool.map(_plain_group, chunks))
        else:
            with ThreadPoolExecutor(threads) as ex:
                parts = list(ex.map(_plain_group, chunks))
    else:
        parts = [_plain_group(g) for g in groups]
    out = {}
    for p in parts:
        out.update(p)
    return out


# ------------------------------------------------------------------------------ minewatch paths

def _pipeline_settings():
    from minewatch.config import ImagerySettings, IndexSettings, Settings
    return Settings(registry=Path("."), plans=Path("."),
                    imagery=ImagerySettings(mask_classes=MASK_CLASSES, mask_dilation_px=DILATION_PX),
                    indices=IndexSettings(ndvi_soil=NDVI_SOIL, ndvi_veg=NDVI_VEG))


def run_pipeline_path(layout: Layout, mines: list[Mine], store_dir: Path, *, skip_last: int = 0
                      ) -> dict[str, pd.DataFrame]:
    """What `pipeline.process_mine` does to get a mine's statistics, one mine at a time:
    `pipeline.load_pixels` (steps the pixel store lacks read through `batch.WindowReader`
    and stored; the cube read back from the store; all 7 bands, as the pipeline needs them
    for MNDWI and composites) -> `pipeline.observe` -> one `dask.compute`.
    `skip_last`: leave out the last scenes (the night before they arrived)."""
    import dask

    from minewatch import pipeline
    from minewatch.sky import series
    from minewatch.sky.pixels import PixelStore
    s, store, out = _pipeline_settings(), PixelStore(store_dir), {}
    for m in mines:
        items = layout.items_of(m)
        items = items[:len(items) - skip_last]
        raw, _ = pipeline.load_pixels(m.license_no, items, m.grid, s, store)
        (stats,) = dask.compute(pipeline.observe(raw, m.grid, m.units, s)[3])
        out[m.license_no] = series.stats_frame(stats)
    return out


def _params():
    from minewatch.sky import batch
    return batch.StatsParams(MASK_CLASSES, DILATION_PX, NDVI_SOIL, NDVI_VEG)


def run_batched(layout: Layout, mines: list[Mine] | None = None, *, batch_size: int = 32,
                mines_per_task: int = 2, chunk_time: int = 16, store=None, skip_known: bool = False,
                keep: bool = True) -> dict[str, pd.DataFrame]:
    """`minewatch.sky.batch.unit_stats_many` over the mines (in layout order: by tile).

    With `store` (a SeriesStore), each mine's table is upserted as a nightly run would;
    with `skip_known`, a mine loads only the scenes the store does not have yet (a rerun
    with no new scenes loads nothing). `keep=False` returns row counts, not tables (what
    a nightly run holds: nothing beyond the store).
    """
    from minewatch.sky import batch, series
    mines = layout.mines if mines is None else mines
    windows = []
    for m in mines:
        items = layout.items_of(m)
        if skip_known and store is not None:
            known = store.scenes(m.license_no)
            items = [it for it in items if it.id not in known]
            if not items:
                continue
        windows.append(batch.MineWindow(m.license_no, items, m.grid, m.units))
    out = {}
    for key, st in batch.unit_stats_many(windows, _params(), batch_size=batch_size,
                                         mines_per_task=mines_per_task, chunk_time=chunk_time):
        if isinstance(st, Exception):
            raise st
        df = series.stats_frame(st)
        if store is not None:
            store.upsert(key, df)
        out[key] = df if keep else len(df)
    return out


# ------------------------------------------------------------------------------ checks

MEANS = ("ndvi_mean", "fvc_mean", "bsi_mean")


def max_mean_diff(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> float:
    """Largest |difference| of per-unit means over the mines of `b` (all in `a`); pixel
    counts must be equal and NaN (no clear pixel) in the same places."""
    worst = 0.0
    assert set(b) <= set(a), "different mines"
    for k in b:
        x = a[k].set_index(["unit", "item_id"]).sort_index()
        y = b[k].set_index(["unit", "item_id"]).sort_index()
        assert list(x.index) == list(y.index), f"{k}: different (unit, scene) rows"
        for c in MEANS + ("clear_px", "n_px"):
            xv, yv = x[c].to_numpy(np.float64), y[c].to_numpy(np.float64)
            assert (np.isnan(xv) == np.isnan(yv)).all(), f"{k} {c}: NaN in one path only"
            d = np.abs(xv - yv)[~np.isnan(xv)]
            if c in MEANS and d.size:
                worst = max(worst, float(d.max()))
            elif d.size:
                assert d.max() == 0, f"{k} {c}: pixel counts differ"
    return worst


def _vmhwm_mb(pid="self") -> float | None:
    """A process's peak RSS from /proc (VmHWM, MB); None where it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def peak_rss_mb() -> float:
    """This process's peak RSS: VmHWM (reset by exec; ru_maxrss is not, so a subprocess
    started from a big parent would report the parent's peak)."""
    mb = _vmhwm_mb()
    return mb if mb is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _pool_cpu(pool) -> float:
    """CPU seconds (user + system) the live worker processes of a process pool have used."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in list(getattr(pool, "_processes", None) or {}):
        try:
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(f[11]) + int(f[12])) / tick          # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total


def _pool_rss_mb(pool) -> float:
    """Sum of the peak RSS (VmHWM) of a process pool's live workers."""
    return sum(_vmhwm_mb(pid) or 0.0 for pid in list(getattr(pool, "_processes", None) or {}))


def _timed(f, *a, pool=None, **kw):
    """(wall s, CPU s of this process and of `pool`'s workers, result)."""
    c, t, pc = time.process_time(), time.perf_counter(), _pool_cpu(pool)
    r = f(*a, **kw)
    return time.perf_counter() - t, time.process_time() - c + _pool_cpu(pool) - pc, r


def local_scheduler(kind: str, workers: int = 2):
    """minewatch's local scheduler (`ops.dask_client`): 'threads' (dask's, `workers`
    threads) or 'processes' (a pool of `workers` spawned processes kept for the block;
    the plain path's process runs use the same pool)."""
    from minewatch import ops
    return ops.dask_client(None, local_scheduler=kind, workers=workers)


def _blas() -> str:
    try:
        from threadpoolctl import threadpool_info
        return ", ".join(f"{d['internal_api']} {d.get('version')} {d.get('architecture')} x{d['num_threads']}"
                         for d in threadpool_info())
    except ImportError:
        return "threadpoolctl not installed"


# ------------------------------------------------------------------------------ runs

def worker(args) -> dict:
    """One size of the RSS sweep, alone in its process: the minewatch path + store writes."""
    from minewatch.sky.store import SeriesStore
    lay = prepare(args.data_dir, args.mines, args.scenes, args.pool, side=getattr(args, "tile_side", TILE_SIDE),
                  log=lambda *_: None)
    rss0 = peak_rss_mb()
    kind = getattr(args, "scheduler", "threads")
    with tempfile.TemporaryDirectory() as tmp, local_scheduler(kind) as pool:
        run_batched(lay, lay.mines[:2], mines_per_task=1)      # start the workers (untimed)
        w, c, out = _timed(run_batched, lay, batch_size=args.batch_size, mines_per_task=args.mines_per_task,
                           chunk_time=args.chunk_time, store=SeriesStore(tmp), keep=False, pool=pool)
        workers_mb = _pool_rss_mb(pool)
    n = sum(out.values())
    # processes: this process's peak plus each worker's (an upper bound of what was resident at once)
    return {"mines": args.mines, "scenes": args.scenes, "scheduler": kind, "wall_s": round(w, 2),
            "cpu_s": round(c, 2), "mine_scenes_per_s": round(args.mines * args.scenes / w, 1), "rows": n,
            "rss_before_mb": round(rss0), "workers_peak_rss_mb": round(workers_mb),
            "peak_rss_mb": round(peak_rss_mb() + workers_mb)}


def sweep(args, sizes: list[int], kind: str = "threads", log=print) -> list[dict]:
    out = []
    for n in sizes:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--scheduler", kind, "--mines", str(n),
               "--scenes", str(args.sweep_scenes), "--pool", str(args.pool), "--data-dir", str(args.data_dir),
               "--batch-size", str(args.batch_size), "--mines-per-task", str(args.mines_per_task),
               "--chunk-time", str(args.chunk_time), "--gdal-cachemax", str(args.gdal_cachemax)]
        r = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
        if r.returncode != 0:
            raise RuntimeError(f"sweep at {n} mines failed:\n{r.stderr[-3000:]}")
        res = json.loads(r.stdout.strip().splitlines()[-1])
        log(f"  {kind:9} {n:>5} mines x {args.sweep_scenes} scenes: {res['mine_scenes_per_s']:7.1f} mine-scenes/s, "
            f"peak RSS {res['peak_rss_mb']} MB (this process after imports and layout {res['rss_before_mb']} MB"
            + (f"; workers {res['workers_peak_rss_mb']} MB" if kind == "processes" else "") + ")")
        out.append(res)
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description="minewatch pipeline benchmark (see the module docstring)")
    ap.add_argument("--mines", type=int, default=100)
    ap.add_argument("--scenes", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats of each path; medians reported")
    ap.add_argument("--pool", type=int, default=6, help="distinct generated dates, cycled beyond")
    ap.add_argument("--per-mine-mines", type=int, default=16,
                    help="time the pipeline's per-mine path (pixel store) on this many mines (0: skip)")
    ap.add_argument("--batch-size", type=int, default=32, help="mines per dask.compute")
    ap.add_argument("--workers", type=int, default=2, help="threads / processes of the parallel paths")
    ap.add_argument("--mines-per-task", type=int, default=2, help="mines per statistics task")
    ap.add_argument("--chunk-time", type=int, default=16)
    ap.add_argument("--gdal-cachemax", type=int, default=32, help="GDAL block cache, MB")
    ap.add_argument("--sweep", default=None,
                    help="mine counts for the RSS sweep, comma-separated ('' to skip); default 10,100,1000 "
                         "when --mines >= 100, else none (keeps a 10-mine smoke run under a minute)")
    ap.add_argument("--sweep-scenes", type=int, default=3)
    ap.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "minewatch-bench")
    ap.add_argument("--malloc-arena-max", type=int, default=1, metavar="N",
                    help="glibc MALLOC_ARENA_MAX for the run (0: glibc's default); see the module's top")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--scheduler", default="threads", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    import warnings
    from rasterio.errors import NotGeoreferencedWarning
    # rasterize() warns from worker threads of the plain path; the masks are right (the
    # 1- and 2-thread plain results are asserted equal below)
    warnings.filterwarnings("ignore", category=NotGeoreferencedWarning)
    os.environ.setdefault("GDAL_CACHEMAX", str(args.gdal_cachemax))   # read at GDAL's first block read
    if args.worker:
        print(json.dumps(worker(args)))
        return {}

    import dask
    t_all = time.perf_counter()
    ms = args.mines * args.scenes
    lay = prepare(args.data_dir, args.mines, args.scenes, args.pool)
    print(f"minewatch benchmark: {args.mines} mines x {args.scenes} scenes ({ms} mine-scenes), "
          f"{WINDOW_PX}x{WINDOW_PX} px windows, {UNITS_PER_MINE} units each, assets {'/'.join(STAT_ASSETS)}")
    print(f"  data {lay.data_dir} ({lay.n_generated} tiles generated in {lay.generated_s:.1f}s, not timed)")
    print(f"  {os.cpu_count()} CPUs, load avg {' '.join(f'{x:.1f}' for x in os.getloadavg())}; "
          f"dask {dask.__version__}, {args.workers} workers; GDAL_CACHEMAX={os.environ['GDAL_CACHEMAX']} MB; "
          f"BLAS {_blas()}; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}; "
          f"MALLOC_ARENA_MAX={os.environ.get('MALLOC_ARENA_MAX')}; "
          f"unset for this run: {', '.join(_ENV_NOTE['openblas_unset']) or 'nothing (OPENBLAS_CORETYPE/L2_SIZE not set)'}")

    # warm up imports, GDAL drivers and the page cache on a few mines (untimed)
    few = lay.mines[:min(4, len(lay.mines))]
    run_plain(Layout(few, lay.items, lay.data_dir), 1)
    run_batched(lay, few, batch_size=args.batch_size, mines_per_task=args.mines_per_task, chunk_time=args.chunk_time)

    def mw(pool=None):
        return _timed(run_batched, lay, batch_size=args.batch_size, mines_per_task=args.mines_per_task,
                      chunk_time=args.chunk_time, pool=pool)

    # every path, interleaved, on the same cores: plain on 1 thread, on `workers` threads
    # and on a pool of `workers` processes; minewatch on dask's threads and on the same
    # process pool (`ops.dask_client(local_scheduler="processes")`, spawned once and warmed
    # untimed, as a nightly run keeps it for the night)
    times: dict[str, list] = {k: [] for k in ("plain", "plain_threads", "plain_processes",
                                              "minewatch_threads", "minewatch_processes")}
    ref = out = None
    load = []
    W = args.workers
    with local_scheduler("processes", W) as pool:
        run_plain(Layout(few, lay.items, lay.data_dir), pool=pool)
        run_batched(lay, few, batch_size=args.batch_size, mines_per_task=args.mines_per_task)
        for _ in range(args.repeats):
            load.append(os.getloadavg()[0])
            w, c, ref = _timed(run_plain, lay, 1)
            times["plain"].append((w, c))
            w, c, got = _timed(run_plain, lay, W)
            times["plain_threads"].append((w, c))
            assert max_mean_diff(ref, got) == 0.0, "plain path: 1 thread and threads differ"
            w, c, got = _timed(run_plain, lay, W, pool=pool)
            times["plain_processes"].append((w, c))
            assert max_mean_diff(ref, got) == 0.0, "plain path: 1 thread and processes differ"
            batch.close_pool_datasets(pool)
            w, c, outp = mw(pool)
            times["minewatch_processes"].append((w, c))
            with local_scheduler("threads", W):
                w, c, out = mw()
            times["minewatch_threads"].append((w, c))
    med = {k: (float(np.median([x[0] for x in v])), float(np.median([x[1] for x in v]))) for k, v in times.items()}
    diff = max(max_mean_diff(ref, out), max_mean_diff(ref, outp))
    assert diff <= 1e-5, f"minewatch and plain per-unit means differ by {diff}"
    plains, mws = ("plain", "plain_threads", "plain_processes"), ("minewatch_threads", "minewatch_processes")
    best_plain, best_mw = min(plains, key=lambda k: med[k][0]), min(mws, key=lambda k: med[k][0])
    ratio = med[best_mw][0] / med[best_plain][0]
    ratio_threads = med["minewatch_threads"][0] / med["plain_threads"][0]
    ratio_processes = med["minewatch_processes"][0] / med["plain_processes"][0]
    ratio_cpu = med["minewatch_threads"][1] / med["plain"][1]

    per_mine = None
    if args.per_mine_mines:
        sub = lay.mines[:min(args.per_mine_mines, len(lay.mines))]
        with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as nightly:
            w, c, pm = _timed(run_pipeline_path, lay, sub, Path(first))
            run_pipeline_path(lay, sub, Path(nightly), skip_last=1)           # the night before (untimed)
            w_next, _, pm_next = _timed(run_pipeline_path, lay, sub, Path(nightly))
        for got in (pm, pm_next):
            d2 = max_mean_diff(ref, got)
            assert d2 <= 1e-5, f"pipeline path and plain differ by {d2}"
        per_mine = (w, len(sub) * args.scenes / w, w_next / w)

    # nightly: full run into the store, then a rerun with no new scenes (dask's threads)
    from minewatch.sky.store import SeriesStore
    with tempfile.TemporaryDirectory() as tmp:
        store = SeriesStore(tmp)
        w_full, _, _ = _timed(run_batched, lay, batch_size=args.batch_size, mines_per_task=args.mines_per_task,
                              chunk_time=args.chunk_time, store=store)
        reruns = [_timed(run_batched, lay, batch_size=args.batch_size, store=store, skip_known=True)
                  for _ in range(3)]
        assert all(len(r[2]) == 0 for r in reruns), "a rerun with no new scenes loaded something"
        w_rerun = float(np.median([r[0] for r in reruns]))
    rerun_frac = w_rerun / w_full

    def rate(k):
        return ms / med[k][0]
    names = {"plain": "plain rasterio, 1 thread", "plain_threads": f"plain rasterio, {W} threads",
             "plain_processes": f"plain rasterio, {W} processes", "minewatch_threads": f"minewatch, {W} threads",
             "minewatch_processes": f"minewatch, {W} processes"}
    print(f"\n  path                          wall s   cpu s   mine-scenes/s   (median of {args.repeats}, interleaved;"
          f" cpu includes pool workers)")
    for k, label in names.items():
        print(f"  {label:29} {med[k][0]:7.2f} {med[k][1]:7.2f} {rate(k):12.1f}")
    if per_mine:
        print(f"  minewatch pipeline path ({len(sub)} mines, 7 bands, pixel store) first night {per_mine[0]:.2f}s "
              f"{per_mine[1]:.1f} mine-scenes/s; next night with 1 new scene {per_mine[2]:.1%} of it")
    print(f"  ratio best minewatch ({names[best_mw]}) / best plain ({names[best_plain]}), wall: {ratio:.2f}")
    print(f"    same scheduler: threads {ratio_threads:.2f}, processes {ratio_processes:.2f}; "
          f"cpu, minewatch threads vs plain 1 thread: {ratio_cpu:.2f}")
    print(f"  max |per-unit mean difference|: {diff:.2e}")
    print(f"  nightly full run into SeriesStore {w_full:.2f}s; rerun, no new scenes {w_rerun:.3f}s "
          f"= {rerun_frac * 100:.1f}% of full")
    print(f"  peak RSS this process: {peak_rss_mb():.0f} MB")

    sw: dict[str, list] = {}
    if args.sweep is None:
        args.sweep = "10,100,1000" if args.mines >= 100 else ""
    sizes = [int(x) for x in args.sweep.split(",") if x.strip()]
    if sizes:
        print(f"\n  RSS sweep (minewatch path + store writes, each size in a fresh process, "
              f"{args.sweep_scenes} scenes):")
        sw = {kind: sweep(args, sizes, kind) for kind in ("threads", "processes")}
    rss = {kind: {str(r["mines"]): r["peak_rss_mb"] for r in rows} for kind, rows in sw.items()}
    flat = all(max(v.values()) <= 1.2 * min(v.values()) for v in rss.values()) if sizes[1:] else None
    res = {
        "mines": args.mines, "scenes": args.scenes, "mine_scenes": ms,
        "mine_scenes_per_s": {k: round(rate(k), 1) for k in names},
        "cpu_s": {k: round(med[k][1], 2) for k in names},
        "minewatch_mine_scenes_per_s": round(rate(best_mw), 1), "best_minewatch": best_mw, "best_plain": best_plain,
        "pipeline_first_night_mine_scenes_per_s": round(per_mine[1], 1) if per_mine else None,
        "pipeline_next_night_1_new_scene_fraction": round(per_mine[2], 4) if per_mine else None,
        "ratio_minewatch_over_plain": round(ratio, 3), "ratio_threads": round(ratio_threads, 3),
        "ratio_processes": round(ratio_processes, 3), "ratio_cpu": round(ratio_cpu, 3),
        "max_abs_mean_diff": diff,
        "rerun_fraction": round(rerun_frac, 4), "full_run_s": round(w_full, 2), "rerun_s": round(w_rerun, 3),
        "peak_rss_mb": round(peak_rss_mb()),
        "rss_sweep_scenes": args.sweep_scenes, "peak_rss_mb_by_mines": rss,
        "rss_sweep_mine_scenes_per_s": {kind: {str(r["mines"]): r["mine_scenes_per_s"] for r in rows}
                                        for kind, rows in sw.items()},
        "targets": {"ratio<=1.5": ratio <= 1.5, "rerun<=5%": rerun_frac <= 0.05, "rss_flat_20%": flat},
        "settings": {"batch_size": args.batch_size, "mines_per_task": args.mines_per_task,
                     "chunk_time": args.chunk_time, "gdal_cachemax_mb": int(os.environ["GDAL_CACHEMAX"]),
                     "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
                     "malloc_arena_max": os.environ.get("MALLOC_ARENA_MAX"),
                     "malloc_mmap_threshold": os.environ.get("MALLOC_MMAP_THRESHOLD_"),
                     "workers": W, "whole_mine_tasks": True,
                     "openblas_unset": _ENV_NOTE["openblas_unset"]},
        "load_avg": [round(x, 1) for x in load], "cpus": os.cpu_count(),
        "python": platform.python_version(), "wall_s": round(time.perf_counter() - t_all, 1),
    }
    print(json.dumps(res))
    return res


if __name__ == "__main__":
    main()
