"""Mines as tasks on a real `distributed.LocalCluster` (2 single-threaded worker processes): each
mine's whole work runs on a worker, which writes its composites into the state folder; the run
folder is byte for byte a local night's, and the flow process never held a composite."""
from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest
from tests.support.paths import REPO

from minewatch import job, ops
from minewatch.config import Settings, load_settings
from minewatch.pipeline import MineResult
from minewatch.synth import scenarios

DATE = date(scenarios.PY, 11, 20)
MINES, STEPS = 3, 8
FIRST = 300          # the many-mines world's mines 300-302: their own frames, no other test's


@pytest.fixture(scope="module")
def world(stac_catalog, tmp_path_factory) -> Path:
    """Three generated mines (the labelled scenarios 0-2 on their own frames) x 8 dates, in the catalogue."""
    root = tmp_path_factory.mktemp("world")
    scenarios.write_many(root, MINES, STEPS, start=FIRST)
    stac_catalog.load(root / "catalog")
    return root


def _settings(world: Path, url: str, out: Path) -> Settings:
    s = load_settings(REPO / "configs" / "sample.yaml")
    return s.model_copy(update={
        "registry": world / "registry.csv", "plans": world / "plans", "output_dir": out,
        "catalog": s.catalog.model_copy(update={"url": url}),
        "ledger": s.ledger.model_copy(update={"acceptance": None}),      # the sample's list is not this world's
        "report": s.report.model_copy(update={"pdf": False})})           # Chromium's print is not the point here


def _files(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def local_night(world, stac_catalog, tmp_path_factory) -> Path:
    """The night with every mine in this process (the default, no scheduler)."""
    out = tmp_path_factory.mktemp("local")
    s = _settings(world, stac_catalog.url, out)
    p = job.load_promises(s, DATE.year)
    with ops.dask_client(None):
        results = [job.run_mine(r, p, s, DATE, DATE.year, reraise_transient=True,
                                cache=job.ResultCache(out / "state")) for r in p.rights]
    job.write_run(results, out, DATE, DATE.year, p)
    return out / DATE.isoformat()


def test_mines_run_on_workers_and_the_run_folder_is_a_local_nights(world, stac_catalog, local_night, tmp_path,
                                                                    caplog):
    from distributed import LocalCluster

    caplog.set_level(logging.INFO, logger="minewatch")
    s = _settings(world, stac_catalog.url, tmp_path)
    p = job.load_promises(s, DATE.year)
    assert len(p.rights) == 3
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            ops.dask_client(cluster.scheduler_address) as client:
        worker_pids = set(client.run(os.getpid).values())
        shared = ops.scattered(client, p)
        assert ops.scattered(client, p) is shared          # the promises are sent once a night

        def one(right) -> MineResult:
            return ops.run_on_cluster(client, job.run_mine_on_worker, right, shared, s, DATE, DATE.year,
                                      str(tmp_path / "state"), name=f"mine-{right.license_no}")

        with ThreadPoolExecutor(2) as pool:       # two mines in flight, as the flow's bounded submission
            results = list(pool.map(one, p.rights))
    assert os.getpid() not in worker_pids and len(worker_pids) == 2
    # the flow process holds slim results: no composite arrays, the products' files on shared storage
    judged = [r for r in results if r.error is None]
    assert len(judged) == 3, [r.error for r in results]
    for r in judged:
        assert r.composite is None and r.products is not None
        assert int(r.products.written_by.rsplit(":", 1)[1]) in worker_pids
        assert Path(r.products.folder).is_relative_to(tmp_path / "state" / job.PRODUCTS)
    # the workers' log lines reached this process's loggers, with the worker's pid on them
    lines = [rec for rec in caplog.records if "time steps read from the catalogue" in rec.getMessage()]
    assert {rec.process for rec in lines} <= worker_pids and len(lines) == 3

    job.write_run(results, tmp_path, DATE, DATE.year, p)
    here, there = _files(tmp_path / DATE.isoformat()), _files(local_night)
    assert sorted(here) == sorted(there)
    assert sum(k.startswith("composites/") for k in here) == 6 and sum(k.startswith("reports/") for k in here) == 3
    series = here["unit_series.csv"].decode("utf-8")
    assert all(r.license_no in series for r in p.rights)           # every mine judged, its series kept
    assert [k for k in here if here[k] != there[k]] == []      # flags, series, composites, reports: same bytes
