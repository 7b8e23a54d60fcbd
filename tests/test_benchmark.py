"""Smoke run of benchmarks/pipeline.py's functions and the batched path it measures.

Not a timed test: tiny generated scenes, checks that every path gives the same numbers.
"""
from __future__ import annotations

import importlib
import json
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from rasterio.enums import Resampling
from shapely.geometry import box

from minewatch.sky import batch, cube, series
from minewatch.sky.store import SeriesStore

ROOT = Path(__file__).resolve().parents[1]
# rasterize() warns from the plain path's worker threads; the 1- and 2-thread results are
# asserted equal below
pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")


def _load_bench():
    """benchmarks/pipeline.py as `benchmarks.pipeline`, with the project root on sys.path: a
    spawned pool worker is given the same sys.path, so it can import what the benchmark
    sends it (the plain path's function, its dataclasses)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("benchmarks.pipeline")


bench = _load_bench()


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    # 5 mines on 2x2 tiles: mine 4 is on a second (hard-linked) copy of the tile
    return bench.prepare(tmp_path_factory.mktemp("bench"), n_mines=5, n_scenes=3, pool=2, workers=1,
                         side=2, log=lambda *_: None)


def test_layout(layout):
    assert len(layout.mines) == 5 and sorted(layout.items) == [0, 1]
    ids = [it.id for r in layout.items for it in layout.items[r]]
    assert len(ids) == len(set(ids)) == 6
    a, b = layout.items[0][0].assets["red"].href, layout.items[1][0].assets["red"].href
    assert a != b and Path(a).stat().st_ino == Path(b).stat().st_ino      # distinct paths, same bytes
    for m in layout.mines:
        assert m.grid.shape == (bench.WINDOW_PX, bench.WINDOW_PX)
        assert all(box(*m.grid.bounds).contains(g) for g in m.units.values())


def test_paths_agree_and_rerun_skips(layout, tmp_path):
    plain = bench.run_plain(layout, 1)
    assert bench.max_mean_diff(plain, bench.run_plain(layout, 2)) == 0.0
    pipeline_path = bench.run_pipeline_path(layout, layout.mines, tmp_path / "px")
    assert bench.max_mean_diff(plain, pipeline_path) <= 1e-5
    night_before = bench.run_pipeline_path(layout, layout.mines, tmp_path / "px2", skip_last=1)
    assert bench.max_mean_diff(plain, bench.run_pipeline_path(layout, layout.mines, tmp_path / "px2")) <= 1e-5
    assert all(len(df) < len(pipeline_path[k]) for k, df in night_before.items())   # one scene fewer
    store = SeriesStore(tmp_path)
    full = bench.run_batched(layout, batch_size=3, mines_per_task=2, store=store)
    assert bench.max_mean_diff(plain, full) <= 1e-5
    assert bench.max_mean_diff(plain, bench.run_batched(layout, batch_size=5, mines_per_task=5)) <= 1e-5
    # a unit's mean is defined on some dates and NaN (no clear pixel) on none or some
    df = full["BENCH00000"]
    assert len(df) == bench.UNITS_PER_MINE * 3 and df.clear_px.gt(0).any()
    assert bench.run_batched(layout, store=store, skip_known=True) == {}
    assert store.scenes("BENCH00004") == {it.id for it in layout.items[1]}


def test_window_reader_matches_stock_reader(layout):
    items = layout.items[0]
    m = layout.mines[1]
    minx, miny, maxx, maxy = m.grid.bounds
    tile_w = 2 * bench.PITCH_PX * bench.RES
    grids = [
        m.grid,
        cube.Grid(m.grid.epsg, (minx + 10, miny - 10, maxx + 30, maxy - 10), 10.0),   # odd 10 m offsets
        cube.Grid(m.grid.epsg, (bench.X0 - 200, miny, bench.X0 + 300, maxy), 10.0),   # past the west edge
        cube.Grid(m.grid.epsg, (bench.X0 + tile_w - 150, miny, bench.X0 + tile_w + 250, maxy), 10.0),
        cube.Grid(m.grid.epsg, (minx, miny, minx + 600, miny + 400), 20.0),           # 20 m grid
    ]
    for g in grids:
        ours = batch.stack_window(items, g).values
        stock = cube.load_window(items, g).values
        np.testing.assert_array_equal(ours, stock, err_msg=str(g))
    # another UTM zone: no aligned path, the stock WarpedVRT reader answers
    from pyproj import Transformer
    cx, cy = Transformer.from_crs(32650, 32651, always_xy=True).transform((minx + maxx) / 2, (miny + maxy) / 2)
    cx, cy = round(cx, -1), round(cy, -1)
    g51 = cube.Grid(32651, (cx - 640, cy - 640, cx + 640, cy + 640), 10.0)
    before = batch.DATASETS.opens
    np.testing.assert_array_equal(batch.stack_window(items, g51, assets=("red",)).values,
                                  cube.load_window(items, g51, assets=("red",)).values)
    assert batch.DATASETS.opens >= before
    batch.DATASETS.clear()


def test_reader_falls_back_for_non_nearest_upsampling(layout):
    import stackstac
    it = layout.items[0][0]
    g = layout.mines[0].grid
    spec = stackstac.raster_spec.RasterSpec(g.epsg, g.bounds, (10.0, 10.0))
    r = batch.WindowReader(url=it.assets["swir16"].href, spec=spec, resampling=Resampling.bilinear,
                           dtype=np.dtype("float32"), fill_value=np.float32(np.nan), scale_offset=(1, 0))
    o = batch.DATASETS.get(r.url, r.gdal_env)
    assert r._plan(o) is None
    r.resampling = Resampling.nearest
    assert r._plan(o).k == 2
    batch.DATASETS.clear()


def test_groups_pad_windows_of_different_sizes(layout):
    """Mines of different window sizes and unit counts in one task give their own numbers."""
    items = layout.items[0]
    m0, m1, m2 = layout.mines[:3]
    minx, miny, maxx, maxy = m1.grid.bounds
    small = cube.Grid(m1.grid.epsg, (minx, miny + 600, maxx - 900, maxy), 10.0)
    units_small = {k: g.intersection(box(*small.bounds)) for k, g in list(m1.units.items())[:2]}
    units_small = {k: g for k, g in units_small.items() if not g.is_empty} or \
        {"all": box(*small.bounds).buffer(-100)}
    windows = [batch.MineWindow("a", items, m0.grid, m0.units),
               batch.MineWindow("b", items, small, units_small),
               batch.MineWindow("c", items[:2], m2.grid, m2.units)]          # other scenes: own group
    p = bench._params()
    got = dict(batch.unit_stats_many(windows, p, batch_size=8, mines_per_task=8, chunk_time=2))
    assert set(got) == {"a", "b", "c"}
    for w in windows:
        raw = cube.load_window(w.items, w.grid, assets=batch.STAT_ASSETS, chunk_time=2)
        want = batch.chunk_stats(raw, series.unit_masks(w.units_utm, w.grid), p).compute()
        a, b = series.stats_frame(got[w.key]), series.stats_frame(want)
        assert list(a.unit) == list(b.unit) and list(a.item_id) == list(b.item_id)
        np.testing.assert_array_equal(a.clear_px, b.clear_px)
        for c in bench.MEANS:
            np.testing.assert_allclose(a[c], b[c], rtol=0, atol=1e-6, err_msg=f"{w.key} {c}")
        for _, u in a.groupby("unit"):
            assert (u.datetime.diff().dropna() > timedelta(0)).all()


def _with_missing_asset(items, tmp_path):
    """Copies of `items` whose first scene's red band points at a file that does not exist."""
    broken = [it.clone() for it in items]
    broken[0].assets["red"].href = str(tmp_path / "gone" / "B04.tif")
    return broken


@pytest.mark.parametrize("scheduler", ["threads", "processes"])
def test_a_broken_mine_costs_only_itself(layout, tmp_path, scheduler):
    """A mine whose COG is missing gives a MineError naming it and the file; its group
    mates and the other mines get the same numbers as without it."""
    from minewatch import ops
    p = bench._params()
    ms = layout.mines[:4]
    windows = [batch.MineWindow(m.license_no, layout.items_of(m), m.grid, m.units) for m in ms]
    windows[1] = batch.MineWindow(ms[1].license_no, _with_missing_asset(layout.items_of(ms[1]), tmp_path),
                                  ms[1].grid, ms[1].units)
    want = dict(batch.unit_stats_many([w for i, w in enumerate(windows) if i != 1], p))
    with ops.dask_client(None, local_scheduler=scheduler, workers=2):
        got = dict(batch.unit_stats_many(windows, p, mines_per_task=2, batch_size=4))
    err = got.pop(ms[1].license_no)
    assert isinstance(err, batch.MineError) and err.key == ms[1].license_no
    assert "B04.tif" in str(err) and ms[1].license_no in str(err)
    assert set(got) == set(want)
    for k in want:
        a, b = series.stats_frame(got[k]), series.stats_frame(want[k])
        assert a.equals(b), k


def test_main_prints_every_figure_as_one_json_line(layout, capsys):
    """The script's main() end to end on tiny data (no sweep): all five rows, the ratios
    taken from them, the pipeline path and the rerun, the same line printed last."""
    res = bench.main(["--mines", "3", "--scenes", "3", "--pool", "2", "--repeats", "1", "--sweep", "",
                      "--per-mine-mines", "1", "--data-dir", str(layout.data_dir.parent)])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == json.loads(json.dumps(res))
    rows = ("plain", "plain_threads", "plain_processes", "minewatch_threads", "minewatch_processes")
    assert set(res["mine_scenes_per_s"]) == set(rows) and all(v > 0 for v in res["mine_scenes_per_s"].values())
    rate = res["mine_scenes_per_s"]
    assert res["best_minewatch"] == max(rows[3:], key=rate.get) and res["best_plain"] == max(rows[:3], key=rate.get)
    want = rate[res["best_plain"]] / rate[res["best_minewatch"]]       # wall ratio = inverse rate ratio
    assert abs(res["ratio_minewatch_over_plain"] - want) <= 0.02 * want
    assert res["max_abs_mean_diff"] <= 1e-5 and 0 < res["rerun_fraction"] < 1
    assert res["pipeline_first_night_mine_scenes_per_s"] > 0 and res["targets"]["rss_flat_20%"] is None


def test_worker_reports_rss(tmp_path):
    import argparse
    args = argparse.Namespace(data_dir=tmp_path, mines=3, scenes=2, pool=2, batch_size=2, mines_per_task=2,
                              chunk_time=16, tile_side=2)
    r = bench.worker(args)
    assert r["rows"] == 3 * 2 * bench.UNITS_PER_MINE and r["peak_rss_mb"] >= r["rss_before_mb"] > 0


def test_local_process_pool_gives_the_same_statistics(layout):
    """`ops.dask_client(local_scheduler="processes")`: the group tasks run in the pool's
    spawned workers (they use CPU; the parent's threads do not compute) and give the same
    numbers as dask's threads, run after run."""
    from minewatch import ops
    want = bench.run_batched(layout, batch_size=3)
    with ops.dask_client(None, local_scheduler="processes", workers=2) as pool:
        first = bench.run_batched(layout, batch_size=3)
        batch.close_pool_datasets(pool)
        here, workers = time.process_time(), bench._pool_cpu(pool)
        again = bench.run_batched(layout, batch_size=3)
        here, workers = time.process_time() - here, bench._pool_cpu(pool) - workers
        assert workers > here                        # the pixels were read and reduced in the workers
        assert bench._pool_rss_mb(pool) > 50          # two live workers with numpy and GDAL loaded
    for got in (first, again):
        assert bench.max_mean_diff(want, got) == 0.0
    assert not pool._processes                         # the pool is shut down with the block
