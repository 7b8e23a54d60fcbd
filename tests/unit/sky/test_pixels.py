"""The pixel store: a mine's steps are read from the catalogue's COGs once, then from the store.

Small real COGs (two overlapping tiles of one day and a third scene: the `scenes` fixture of
tests/unit/sky/conftest.py); the sample catalogue for the pipeline-level check; a local
S3-compatible server (moto) for the store on object storage; plain `xr.open_zarr` for other tools.
"""
from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pystac
import pytest
import xarray as xr

from minewatch.sky import cube
from minewatch.sky.cube import Grid
from minewatch.sky.pixels import PixelStore, steps_of
from minewatch.sky.reader import WindowReader


def _same(da, ref):
    np.testing.assert_array_equal(da.values, ref.values)        # NaN where NaN, exact elsewhere
    assert list(da.id.values) == list(ref.id.values)
    assert (da.time.values == ref.time.values).all() and (da.n_scenes.values == ref.n_scenes.values).all()
    assert list(da.band.values) == list(ref.band.values)
    np.testing.assert_array_equal(da.x.values, ref.x.values)
    np.testing.assert_array_equal(da.y.values, ref.y.values)


def _files(store, license_no):
    """Every object of the mine's Zarr group, by path: what a copy of the store would hold."""
    root = Path(store.url(license_no))
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _chunk_paths(store, license_no, key):
    """The `pixels` chunk files of the step stored under `key`."""
    slot = store.header(license_no, key)["slot"]
    return sorted((Path(store.url(license_no)) / "pixels").glob(f"{slot}.*"))


def test_only_missing_or_changed_steps_are_read_and_the_store_gives_back_the_same_cube(scenes, tmp_path, grid):
    cogs, a, b, c = scenes
    st = PixelStore(tmp_path / "px")
    first = st.ingest("M1", [a, c], grid, chunk_time=1, reader=WindowReader)
    assert first.read == ["sentinel-2a_2023-07-05", "sentinel-2a_2023-07-15"] and first.stored == []
    # the second tile of 5 July is published later: that day is read again (merged), 15 July is not
    kept = {p: p.stat().st_mtime_ns for p in _chunk_paths(st, "M1", "sentinel-2a_2023-07-15")}
    second = st.ingest("M1", [c, b, a], grid, chunk_time=1, reader=WindowReader)
    assert second.read == ["sentinel-2a_2023-07-05"] and second.stored == ["sentinel-2a_2023-07-15"]
    assert {p: p.stat().st_mtime_ns for p in kept} == kept           # not written again
    # replaced, not added: the new 5 July is a new slot, the old one no longer committed
    ds = xr.open_zarr(st.url("M1"))
    assert ds.step.values.tolist() == ["sentinel-2a_2023-07-05", "sentinel-2a_2023-07-15", "sentinel-2a_2023-07-05"]
    assert ds.committed.values.tolist() == [0, 1, 1]

    ref = cube.load_window([a, b, c], grid).compute()
    assert ref.n_scenes.values.tolist() == [2, 1]
    _same(st.open("M1", [a, b, c], grid, chunk_time=1).compute(), ref)

    # the store really holds the pixels: without the COGs the cube is the same, and nothing is read
    shutil.rmtree(cogs)
    assert st.ingest("M1", [a, b, c], grid).read == []
    _same(st.open("M1", [b, a, c], grid).compute(), ref)


def test_a_reprocessed_scene_replaces_its_step(scenes, tmp_path, grid):
    _, a, _, c = scenes
    st = PixelStore(tmp_path / "px")
    st.ingest("M1", [a, c], grid)
    c2 = c.clone()
    c2.properties["updated"] = "2024-02-01T00:00:00Z"       # the provider reprocessed it
    assert st.ingest("M1", [a, c2], grid).read == ["sentinel-2a_2023-07-15"]
    assert st.ingest("M1", [a, c2], grid).read == []
    with pytest.raises(RuntimeError, match="not in the pixel store"):
        st.open("M1", [a, c], grid)                          # the old version is gone


def test_damaged_chunk_is_read_again_and_same_content_gives_same_bytes(scenes, tmp_path, grid):
    _, a, b, c = scenes
    one, two, three = PixelStore(tmp_path / "one"), PixelStore(tmp_path / "two"), PixelStore(tmp_path / "three")
    one.ingest("M1", [a, b, c], grid, chunk_px=16)
    three.ingest("M1", [a, b, c], grid, chunk_px=16, chunk_time=1)
    files = _files(one, "M1")
    assert len([f for f in files if f.startswith("pixels/")]) == 2 * 3 * 4 + 2     # 2 steps x (3 x 4) tiles
    assert _files(three, "M1") == files                       # the same bytes, however it was chunked in time
    two.ingest("M1", [c], grid, chunk_px=16)                  # another order: other slots, the same cube
    two.ingest("M1", [a, b, c], grid, chunk_px=16)
    ref = cube.load_window([a, b, c], grid).compute()
    _same(two.open("M1", [a, b, c], grid).compute(), ref)
    p = _chunk_paths(one, "M1", "sentinel-2a_2023-07-15")[5]
    p.write_bytes(p.read_bytes()[:20])                        # e.g. a disk filled up mid-write elsewhere
    assert one.ingest("M1", [a, b, c], grid, chunk_px=16).read == ["sentinel-2a_2023-07-15"]
    _same(one.open("M1", [a, b, c], grid).compute(), ref)


def test_other_grid_starts_afresh_and_old_days_are_pruned(scenes, tmp_path, grid):
    _, a, b, c = scenes
    st = PixelStore(tmp_path / "px")
    st.ingest("M1", [a, b, c], grid)
    smaller = Grid(grid.epsg, (grid.bounds[0], grid.bounds[1], grid.bounds[2] - 100, grid.bounds[3]), 10)
    rep = st.ingest("M1", [a, b, c], smaller)
    assert len(rep.read) == 2 and xr.open_zarr(st.url("M1")).attrs["bounds"] == list(smaller.bounds)
    with pytest.raises(RuntimeError, match="another grid"):
        st.open("M1", [a, b, c], grid)
    assert len(st.ingest("M1", [a, b, c], smaller, chunk_px=20).read) == 2     # another chunking: afresh too
    # 5 July is no longer searched (the analysis period moved on): dropped; 15 July kept
    rep = st.ingest("M1", [c], smaller, keep_from=date(2023, 7, 10), chunk_px=20)
    assert rep.pruned == ["sentinel-2a_2023-07-05"] and rep.stored == ["sentinel-2a_2023-07-15"]
    assert st.header("M1", "sentinel-2a_2023-07-05") is None
    assert st.ingest("M1", [c], smaller, keep_from=date(2023, 7, 20), chunk_px=20).pruned == []   # still searched


def test_other_tools_read_the_store_and_it_is_chunked_in_space(scenes, tmp_path, grid):
    _, a, b, c = scenes
    st = PixelStore(tmp_path / "px")
    st.ingest("M1", [c], grid, chunk_px=16)
    st.ingest("M1", [a, b, c], grid, chunk_px=16)      # 5 July after 15 July in the store: any order
    ref = cube.load_window([a, b, c], grid).compute()
    ds = xr.open_zarr(st.url("M1"))                    # plain xarray, the consolidated metadata
    assert ds.pixels.encoding["chunks"] == (1, 7, 16, 16) and ds.pixels.dtype == np.float64
    now = ds.isel(time=ds.committed.values == 1).sortby("time")
    np.testing.assert_array_equal(now.pixels.values, ref.values.astype(np.float64))   # NaN where NaN
    assert now.id.values.tolist() == ref.id.values.tolist() and list(now.band.values) == list(ref.band.values)
    np.testing.assert_array_equal(now.x.values, ref.x.values)
    assert ds.attrs["epsg"] == grid.epsg and ds.attrs["bands"] == list(ref.band.values)
    # a per-pixel computation over one spatial chunk of every step: only those chunk files are read
    tile = st.open("M1", [a, b, c], grid, chunk_time=16, chunk_px=16)
    assert tile.data.chunks == ((2,), (7,), (16, 16, 8), (16, 16, 16, 12))
    _same(tile.compute(), ref)


def test_a_window_reads_only_the_spatial_chunks_it_crosses(scenes, tmp_path, grid):
    """`open(window=...)` (assess.pixelstats' tiles): the window's pixels, blocks split at the
    store's chunk edges; with every chunk off the window deleted, the window reads the same."""
    _, a, b, c = scenes
    st = PixelStore(tmp_path / "px")
    st.ingest("M1", [a, b, c], grid, chunk_px=16)
    ref = cube.load_window([a, b, c], grid).compute()
    win = st.open("M1", [a, b, c], grid, chunk_time=16, chunk_px=16, window=(slice(10, 30), slice(5, 40)))
    assert win.data.chunks == ((2,), (7,), (6, 14), (11, 16, 8))
    _same(win.compute(), ref.isel(y=slice(10, 30), x=slice(5, 40)))
    gone = [p for p in (Path(st.url("M1")) / "pixels").glob("*.*.*.*") if p.name.split(".")[2:] != ["0", "0"]]
    assert len(gone) > 3
    for p in gone:
        p.unlink()        # a read of any of them would give fill values (NaN), not the pixels
    corner = st.open("M1", [a, b, c], grid, chunk_time=16, chunk_px=16, window=(slice(2, 16), slice(0, 9)))
    _same(corner.compute(), ref.isel(y=slice(2, 16), x=slice(0, 9)))
    whole = st.open("M1", [a, b, c], grid, chunk_time=16).values     # the whole window does miss them
    assert np.isnan(whole).sum() > np.isnan(ref.values).sum()


def test_a_killed_ingest_leaves_the_store_as_it_was_and_the_next_one_resumes(scenes, tmp_path, grid, monkeypatch):
    from minewatch.sky import pixels
    _, a, b, c = scenes
    st = PixelStore(tmp_path / "px")
    monkeypatch.setattr(pixels, "BATCH_CHUNKS", 1)            # one step per commit
    commit = PixelStore._commit
    calls = []

    def killed_at_second(self, *args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt       # the night is killed: the second step's data written, not committed
        return commit(self, *args)
    monkeypatch.setattr(PixelStore, "_commit", killed_at_second)
    with pytest.raises(KeyboardInterrupt):
        st.ingest("M1", [a, b, c], grid, chunk_time=1)
    monkeypatch.setattr(PixelStore, "_commit", commit)
    ds = xr.open_zarr(st.url("M1"), consolidated=False)       # the time axis as the kill left it
    assert ds.committed.values.tolist() == [1, 0]
    # what was committed reads back as before the kill; the second step is not there yet
    _same(st.open("M1", [a, b], grid).compute(), cube.load_window([a, b], grid).compute())
    assert st.header("M1", "sentinel-2a_2023-07-15") is None
    again = st.ingest("M1", [a, b, c], grid, chunk_time=1)
    assert again.read == ["sentinel-2a_2023-07-15"] and again.stored == ["sentinel-2a_2023-07-05"]
    assert xr.open_zarr(st.url("M1")).committed.values.tolist() == [1, 1]     # the killed slot written over
    _same(st.open("M1", [a, b, c], grid).compute(), cube.load_window([a, b, c], grid).compute())


def test_an_ingest_on_s3_reopens_the_same_window(scenes, grid):
    """A local S3-compatible server (moto in server mode on 127.0.0.1) through s3fs."""
    from tests.support.s3 import moto_s3
    _, a, b, c = scenes
    with moto_s3("state") as opts:
        st = PixelStore("s3://state/pixels", storage_options=opts)
        first = st.ingest("M1", [a, c], grid, chunk_px=64)
        assert first.read == ["sentinel-2a_2023-07-05", "sentinel-2a_2023-07-15"]
        again = PixelStore("s3://state/pixels", storage_options=opts)    # another process, say
        rep = again.ingest("M1", [a, b, c], grid, chunk_px=64)
        assert rep.read == ["sentinel-2a_2023-07-05"] and rep.stored == ["sentinel-2a_2023-07-15"]
        ref = cube.load_window([a, b, c], grid).compute()
        _same(again.open("M1", [a, b, c], grid, headers=rep.headers).compute(), ref)
        ds = xr.open_zarr(st.url("M1"), storage_options=opts)
        assert ds.committed.values.tolist() == [0, 1, 1] and ds.pixels.encoding["chunks"] == (1, 7, 40, 60)


def test_steps_follow_load_window_order_and_ids(scenes, grid):
    _, a, b, c = scenes
    steps = steps_of([c, b, a])
    assert [s.id for s in steps] == list(cube.load_window([a, b, c], grid).id.values)
    assert [s.key for s in steps] == ["sentinel-2a_2023-07-05", "sentinel-2a_2023-07-15"]
    moved = pystac.Item.from_dict(c.to_dict(transform_hrefs=False))
    moved.assets["red"].href = "/elsewhere/red.tif"
    assert steps_of([moved])[0].fingerprint != steps_of([c])[0].fingerprint
    signed = pystac.Item.from_dict(c.to_dict(transform_hrefs=False))
    for a in signed.assets.values():      # a SAS token, new every night on Planetary Computer
        a.href += "?st=2026-11-29&se=2026-11-30&sig=abc"
    assert steps_of([signed])[0].fingerprint == steps_of([c])[0].fingerprint


@pytest.mark.slow
def test_a_new_scene_is_the_only_one_read_and_the_mine_is_judged_as_from_scratch(sample_config, tmp_path):
    from minewatch.assess.thresholds import load_thresholds
    from minewatch.config import load_settings
    from minewatch.pipeline import process_mine, scenes_for
    from minewatch.synth import sample

    s = load_settings(sample_config)
    m = sample.MINES[2]          # the undeclared disturbance: judged from per-pixel series too
    right, plan = sample.mining_right(m), sample.annual_plan(m)
    as_of = date(2026, 11, 20)
    th = load_thresholds(s.assess.thresholds)
    items = scenes_for(right, s, as_of, 2026)
    steps = steps_of(items)
    last_two = {it.id for st in steps[-2:] for it in st.items}
    store = PixelStore(tmp_path / "px")
    night1 = process_mine(right, plan, th, s, as_of, 2026, items=[it for it in items if it.id not in last_two],
                          pixels=store)
    assert night1.error is None and night1.steps_read == len(steps) - 2
    night2 = process_mine(right, plan, th, s, as_of, 2026, items=items, pixels=store)
    assert (night2.steps_read, night2.steps_stored) == (2, len(steps) - 2)
    fresh = process_mine(right, plan, th, s, as_of, 2026, items=items)      # no store: every step read
    assert fresh.steps_read == len(steps) and fresh.anomalies      # the planted flags are there to compare

    def flags(r):
        return sorted((a.type, a.key, json.dumps(a.observed, sort_keys=True), a.confidence) for a in r.anomalies)
    assert flags(night2) == flags(fresh)
    assert night2.series.equals(fresh.series)
    np.testing.assert_array_equal(night2.composite.fvc, fresh.composite.fvc)


def test_values_beyond_int16_and_nan_round_trip_exactly(tmp_path):
    from minewatch.sky.pixels import Step
    st = PixelStore(tmp_path)
    g = Grid(32650, (0, 0, 20, 20), 10)
    step = Step("sentinel-2a_2023-07-05", "X", date(2023, 7, 5), "f")
    for v in (np.array([[[-1000.0, 32767.0], [np.nan, 0.0]]], "float32"),      # fits int16
              np.array([[[-1000.0, 64535.0], [np.nan, -32768.0]]], "float32")):  # saturated DN
        part = xr.DataArray(v[None], dims=("time", "band", "y", "x"),
                            coords={"time": [np.datetime64("2023-07-05T03:30", "ns")], "n_scenes": ("time", [1])})
        meta = st._meta(g, ["red"], 512)
        st._append("M1", meta, [step], part, g)
        got = st.open("M1", [], g)        # no items: an empty cube of the stored grid
        assert got.shape == (0, 1, 2, 2)
        h = st.header("M1", step.key)
        from minewatch.sky.pixels import read_slots
        np.testing.assert_array_equal(read_slots(st.url("M1"), {}, (h["slot"],), ("f",), (0, 2), (0, 2))[0], v)


# ---------------------------------------------------------------------------------------
# Issue 18 item 5: one unreadable asset of one scene costs that scene, never the mine, on
# disk as over HTTP (a real server on 127.0.0.1 with Range requests); the files are damaged
# for real.
# ---------------------------------------------------------------------------------------

DAMAGES = ("truncated", "random", "missing", "corrupt")


def _damage(path, how):
    data = path.read_bytes()
    rng = np.random.default_rng(7)
    if how == "truncated":
        path.write_bytes(data[:len(data) * 2 // 5])
    elif how == "random":
        path.write_bytes(rng.integers(0, 256, len(data), dtype=np.uint8).tobytes())
    elif how == "missing":
        path.unlink()
    else:       # a valid header, its compressed tile bytes overwritten
        cut = len(data) // 2
        path.write_bytes(data[:cut] + rng.integers(0, 256, len(data) - cut, dtype=np.uint8).tobytes())


def _over_http(items, cogs, base):
    out = []
    for it in items:
        it = it.clone()
        for a in it.assets.values():
            a.href = base + "/" + str(pystac.utils.make_relative_href(a.href, str(cogs) + "/", start_is_dir=True))
        out.append(it)
    return out


@pytest.fixture(params=["file", "http"])
def transport(request, scenes):
    """(items a, b, c with hrefs of this transport, the COG folder)."""
    from tests.support.http_files import serve_files
    cogs, a, b, c = scenes
    if request.param == "file":
        yield [a, b, c], cogs
        return
    with serve_files(cogs) as base:
        yield _over_http([a, b, c], cogs, base), cogs


@pytest.mark.parametrize("how", DAMAGES)
def test_an_unreadable_band_skips_its_scene_and_the_rest_is_stored(transport, tmp_path, grid, how):
    from minewatch.sky.reader import DATASETS
    (a, b, c), cogs = transport
    clean = cube.load_window([a, b], grid, reader=WindowReader).compute()
    DATASETS.clear()
    _damage(cogs / c.id / "red.tif", how)
    st = PixelStore(tmp_path / "px")
    rep = st.ingest("M1", [a, b, c], grid, chunk_time=2, reader=WindowReader)
    assert [sk.id for sk in rep.skipped] == [c.id]
    assert c.assets["red"].href in rep.skipped[0].reason
    assert rep.read == ["sentinel-2a_2023-07-05"]
    assert st.header("M1", "sentinel-2a_2023-07-15") is None               # never stored as if good
    _same(st.open("M1", st.usable([a, b, c], rep), grid), clean)          # the rest, exactly
    DATASETS.clear()


def test_a_bad_tile_of_a_merged_day_keeps_the_other_tile_and_is_retried_once_repaired(scenes, tmp_path, grid):
    from minewatch.sky.reader import DATASETS
    cogs, a, b, c = scenes
    good = (cogs / b.id / "nir.tif").read_bytes()
    _damage(cogs / b.id / "nir.tif", "truncated")
    st = PixelStore(tmp_path / "px")
    rep = st.ingest("M1", [a, b, c], grid, chunk_time=16, reader=WindowReader)
    assert [sk.id for sk in rep.skipped] == [b.id] and "nir.tif" in rep.skipped[0].reason
    assert sorted(rep.read) == ["sentinel-2a_2023-07-05", "sentinel-2a_2023-07-15"]
    _same(st.open("M1", st.usable([a, b, c], rep), grid), cube.load_window([a, c], grid, reader=WindowReader))
    # the provider repairs the file: the next night reads that day again, merged, and skips nothing
    (cogs / b.id / "nir.tif").write_bytes(good)
    DATASETS.clear()
    again = st.ingest("M1", [a, b, c], grid, chunk_time=16, reader=WindowReader)
    assert again.read == ["sentinel-2a_2023-07-05"] and again.skipped == []
    _same(st.open("M1", [a, b, c], grid), cube.load_window([a, b, c], grid, reader=WindowReader))
    DATASETS.clear()


def test_nothing_readable_still_fails(scenes, tmp_path, grid):
    from minewatch.sky.reader import AssetReadError
    cogs, a, _, _ = scenes
    _damage(cogs / a.id / "scl.tif", "missing")
    with pytest.raises(AssetReadError, match="scl.tif"):
        PixelStore(tmp_path / "px").ingest("M1", [a], grid, reader=WindowReader)


def test_an_http_404_is_an_error_in_stackstacs_own_reader_too(scenes, grid):
    """stackstac's default `errors_as_nodata` makes a 404 NaN; the cube passes () so it raises."""
    from tests.support.http_files import serve_files
    cogs, a, _, _ = scenes
    (cogs / a.id / "red.tif").unlink()
    with serve_files(cogs) as base:
        (it,) = _over_http([a], cogs, base)
        with pytest.raises(RuntimeError, match="404"):
            cube.load_window([it], grid, assets=["red"]).compute()


@pytest.mark.slow
def test_a_mine_with_one_damaged_scene_is_judged_on_the_rest_and_says_so(sample_config, tmp_path):
    from minewatch.assess.thresholds import load_thresholds
    from minewatch.config import load_settings
    from minewatch.job import write_run
    from minewatch.pipeline import process_mine, scenes_for
    from minewatch.sky.catalog import Scenes
    from minewatch.synth import sample

    s = load_settings(sample_config)
    m = sample.MINES[2]
    right, plan = sample.mining_right(m), sample.annual_plan(m)
    as_of, th = date(2026, 11, 20), load_thresholds(s.assess.thresholds)
    items = scenes_for(right, s, as_of, 2026)
    one = [st for st in steps_of(items) if len(st.items) == 1][len(items) // 2].items[0]
    bad = pystac.Item.from_dict(one.to_dict(transform_hrefs=False))
    src = bad.assets["nir"].href
    (tmp_path / "nir.tif").write_bytes(Path(src).read_bytes()[:3000])           # truncated, a real COG cut
    bad.assets["nir"].href = str(tmp_path / "nir.tif")
    damaged = Scenes([bad if it.id == one.id else it for it in items], matched=len(items) + 3, paged=len(items))
    got = process_mine(right, plan, th, s, as_of, 2026, items=damaged)
    ref = process_mine(right, plan, th, s, as_of, 2026, items=[it for it in items if it.id != one.id])
    assert got.error is None and [sk.id for sk in got.scenes_skipped] == [one.id]
    assert "nir.tif" in got.scenes_skipped[0].reason and one.id not in got.scenes
    assert sorted(a.key for a in got.anomalies) == sorted(a.key for a in ref.anomalies) and got.anomalies
    assert got.evidence_incomplete == f"STAC search matched {len(items) + 3} items but paged only {len(items)}"
    summary = write_run([got], tmp_path / "out", as_of, 2026)
    assert summary["scenes_skipped"] == [{"license_no": right.license_no, "scene": one.id,
                                          "reason": got.scenes_skipped[0].reason}]
    assert summary["evidence_incomplete"][0]["license_no"] == right.license_no
    unj = (tmp_path / "out" / as_of.isoformat() / "unjudged.csv").read_text(encoding="utf-8")
    assert "SCENES_SKIPPED" in unj and one.id in unj and "EVIDENCE_INCOMPLETE" in unj
