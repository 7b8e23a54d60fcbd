"""The pixel store: a mine's steps are read from the catalogue's COGs once, then from the store.

Small real COGs (two overlapping tiles of one day and a third scene: the `scenes` fixture of
tests/unit/sky/conftest.py); the sample catalogue for the pipeline-level check.
"""
from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pystac
import pytest

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


def test_only_missing_or_changed_steps_are_read_and_the_store_gives_back_the_same_cube(scenes, tmp_path, grid):
    cogs, a, b, c = scenes
    st = PixelStore(tmp_path / "px")
    first = st.ingest("M1", [a, c], grid, chunk_time=1, reader=WindowReader)
    assert first.read == ["sentinel-2a_2023-07-05", "sentinel-2a_2023-07-15"] and first.stored == []
    # the second tile of 5 July is published later: that day is read again (merged), 15 July is not
    mtime = st._path("M1", "sentinel-2a_2023-07-15").stat().st_mtime_ns
    second = st.ingest("M1", [c, b, a], grid, chunk_time=1, reader=WindowReader)
    assert second.read == ["sentinel-2a_2023-07-05"] and second.stored == ["sentinel-2a_2023-07-15"]
    assert st._path("M1", "sentinel-2a_2023-07-15").stat().st_mtime_ns == mtime
    assert sorted(p.name for p in st.dir("M1").iterdir()) == [
        "meta.json", "sentinel-2a_2023-07-05.npz", "sentinel-2a_2023-07-15.npz"]     # replaced, not added

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


def test_damaged_step_is_read_again_and_same_content_gives_same_bytes(scenes, tmp_path, grid):
    _, a, b, c = scenes
    one, two = PixelStore(tmp_path / "one"), PixelStore(tmp_path / "two")
    one.ingest("M1", [a, b, c], grid)
    two.ingest("M1", [c], grid)
    two.ingest("M1", [a, b, c], grid, chunk_time=1)
    for name in ("sentinel-2a_2023-07-05.npz", "sentinel-2a_2023-07-15.npz", "meta.json"):
        assert (one.dir("M1") / name).read_bytes() == (two.dir("M1") / name).read_bytes(), name
    p = one._path("M1", "sentinel-2a_2023-07-15")
    p.write_bytes(p.read_bytes()[:100])                      # e.g. a disk filled up mid-write elsewhere
    assert one.ingest("M1", [a, b, c], grid).read == ["sentinel-2a_2023-07-15"]
    _same(one.open("M1", [a, b, c], grid).compute(), cube.load_window([a, b, c], grid).compute())


def test_other_grid_starts_afresh_and_old_days_are_pruned(scenes, tmp_path, grid):
    _, a, b, c = scenes
    st = PixelStore(tmp_path / "px")
    st.ingest("M1", [a, b, c], grid)
    smaller = Grid(grid.epsg, (grid.bounds[0], grid.bounds[1], grid.bounds[2] - 100, grid.bounds[3]), 10)
    rep = st.ingest("M1", [a, b, c], smaller)
    assert len(rep.read) == 2 and json.loads((st.dir("M1") / "meta.json").read_text())["bounds"] == list(smaller.bounds)
    with pytest.raises(RuntimeError, match="another grid"):
        st.open("M1", [a, b, c], grid)
    # 5 July is no longer searched (the analysis period moved on): dropped; 15 July kept
    rep = st.ingest("M1", [c], smaller, keep_from=date(2023, 7, 10))
    assert rep.pruned == ["sentinel-2a_2023-07-05"] and rep.stored == ["sentinel-2a_2023-07-15"]
    assert st.ingest("M1", [c], smaller, keep_from=date(2023, 7, 20)).pruned == []   # still searched: kept


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
    from minewatch.sky.pixels import Step, read_steps
    st = PixelStore(tmp_path)
    step = Step("sentinel-2a_2023-07-05", "X", date(2023, 7, 5), "f")
    for v in (np.array([[[-1000.0, 32767.0], [np.nan, 0.0]]], "float32"),      # fits int16
              np.array([[[-1000.0, 64535.0], [np.nan, -32768.0]]], "float32")):  # saturated DN: int32
        st._write("M1", step, v, np.datetime64("2023-07-05T03:30"), 1)
        with np.load(st._path("M1", step.key)) as z:
            assert z["values"].dtype == (np.int16 if np.nanmax(v) < 40000 else np.int32)
        np.testing.assert_array_equal(read_steps((str(st._path("M1", step.key)),))[0], v)


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
    assert not (st.dir("M1") / "sentinel-2a_2023-07-15.npz").exists()     # never stored as if good
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
