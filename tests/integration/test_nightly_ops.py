"""Nightly operations on the sample: resume after a kill, rerun cost, dask distributed."""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from tests.support.cli import run_cli
from tests.support.paths import REPO

pytestmark = pytest.mark.slow
DATE = "2026-11-20"
ROOT = REPO
SEQUENTIAL = {"MINEWATCH_RUN__MAX_CONCURRENT_MINES": "1"}   # one mine at a time


@pytest.fixture(scope="module")
def reference(sample_night):
    """An uninterrupted run to compare against (the session's sample night, read only)."""
    assert sample_night.date == DATE
    return sample_night.run_dir


def _features(run_dir):
    fc = json.loads((run_dir / "anomalies.geojson").read_text(encoding="utf-8"))
    return sorted((f["id"], f["properties"]["type"], json.dumps(f["properties"]["observed"])) for f in fc["features"])


def test_killed_run_resumes_without_redoing_finished_mines(sample_config, reference, tmp_path):
    env = dict(os.environ, **SEQUENTIAL)
    with (tmp_path / "log").open("w") as log_fh:   # the child keeps its own copy of the handle
        proc = subprocess.Popen([sys.executable, "-m", "minewatch.cli", "run", "--config", str(sample_config),
                                 "--date", DATE, "--out", str(tmp_path)], cwd=ROOT, env=env,
                                stdout=log_fh, stderr=subprocess.STDOUT, start_new_session=True)
    state = tmp_path / "state" / "mines"
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None and not (state.is_dir() and any(state.glob("*.pkl"))):
        time.sleep(0.2)
    assert proc.poll() is None, (tmp_path / "log").read_text()[-3000:]
    os.killpg(proc.pid, signal.SIGKILL)          # half way: at least one mine done, not all
    proc.wait()
    done_before = {p.stem: p.stat().st_mtime_ns for p in state.glob("*.pkl")}
    assert 1 <= len(done_before) < 3, done_before
    assert not (tmp_path / DATE / "run_summary.json").exists()

    r = run_cli("run", "--config", sample_config, "--date", DATE, "--out", tmp_path, env=SEQUENTIAL)
    assert r.returncode == 0, r.stderr[-2000:]
    log = r.stdout + r.stderr
    reused = {lic for lic in ("C1506222021071110000001", "C1302832020051210000002", "C2109022019091010000003")
              if any(lic in line and "earlier result reused" in line for line in log.splitlines())}
    assert reused == set(done_before)            # finished mines were read, the others computed
    for lic, mtime in done_before.items():
        assert (state / f"{lic}.pkl").stat().st_mtime_ns == mtime
    assert len(list(state.glob("*.pkl"))) == 3
    assert _features(tmp_path / DATE) == _features(reference)


def _files(run_dir):
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}


def test_rerun_with_nothing_new_reuses_every_mine_and_writes_the_same_bytes(sample_config, sample_night, tmp_path):
    out = sample_night.copy_to(tmp_path / "out")
    before = _files(sample_night.run_dir)
    r = run_cli("run", "--config", sample_config, "--date", DATE, "--out", out)
    assert r.returncode == 0
    assert (r.stdout + r.stderr).count("earlier result reused") == 3
    after = _files(out / DATE)
    assert sorted(after) == sorted(before)
    assert {"anomalies.geojson", "onemap.gpkg", "spot_check.xlsx", "public/anomalies.geojson",
            "run_summary.json"} <= set(after)
    changed = [k for k in after if after[k] != before[k]]
    assert changed == [], changed


def test_next_night_reads_no_pixel_again_and_judges_as_a_fresh_run(sample_config, sample_night, tmp_path):
    """The next night (no new scene): mines whose judgement does not depend on the date reuse their
    result (assess.rundate); the one judged again (its ledger tracks a unit dropped from last
    year's plan, whose finding names the date) takes every time step from the pixel store: nothing
    is read from the COGs, and the flags are those of a run that read every scene."""
    nxt = "2026-11-21"
    night = sample_night.copy_to(tmp_path / "night")
    r = run_cli("run", "--config", sample_config, "--date", nxt, "--out", night)
    assert r.returncode == 0, r.stderr[-2000:]
    m = re.search(r"新读取 read (\d+) 个时相 steps, 缓存 stored (\d+)", r.stdout)
    assert m and int(m.group(1)) == 0 and int(m.group(2)) > 50, r.stdout[-2000:]
    fresh = run_cli("run", "--config", sample_config, "--date", nxt, "--out", tmp_path / "fresh")
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    m = re.search(r"新读取 read (\d+) 个时相 steps, 缓存 stored (\d+)", fresh.stdout)
    assert m and int(m.group(1)) > 200 and int(m.group(2)) == 0
    assert _features(night / nxt) == _features(tmp_path / "fresh" / nxt)
    assert (night / nxt / "unit_series.csv").read_bytes() == (tmp_path / "fresh" / nxt / "unit_series.csv").read_bytes()


def test_public_profile_has_no_personal_data(reference):
    text = "".join((reference / "public" / f).read_text(encoding="utf-8")
                   for f in ("anomalies.geojson", "spot_check.csv"))
    for secret in ("张示例", "0477-0000001", "示例路1号", "contact_phone"):
        assert secret not in text
    assert json.loads((reference / "public" / "anomalies.geojson").read_text(encoding="utf-8"))["features"]


def test_same_outputs_on_a_distributed_cluster(sample_config, reference, tmp_path):
    from distributed import LocalCluster

    raw = yaml.safe_load(Path(sample_config).read_text(encoding="utf-8"))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        raw["dask"] = {"scheduler_address": cluster.scheduler_address}
        cfg = tmp_path / "dist.yaml"
        cfg.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
        r = run_cli("run", "--config", cfg, "--date", DATE, "--out", tmp_path / "out")
        assert r.returncode == 0, r.stderr[-2000:]
        with cluster.get_client() as c:
            workers = set(c.run(os.getpid).values())
    # each mine ran on a worker, which wrote its composites into the state folder (job.write_mine_products)
    records = sorted((tmp_path / "out" / "state" / "worker").glob("*/*/products.json"))
    assert len(records) == 3
    assert {int(json.loads(p.read_text())["written_by"].rsplit(":", 1)[1]) for p in records} <= workers
    assert _features(tmp_path / "out" / DATE) == _features(reference)
