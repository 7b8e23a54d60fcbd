"""Run folders, the `latest` pointer, the previous complete run, and the anomaly lifecycle across runs."""
import copy
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from tests.support.night import sample_copy
from tests.support.paths import REPO

from minewatch import job
from minewatch.outputs import runfolder
from minewatch.outputs.lifecycle import active, apply_lifecycle
from minewatch.outputs.runfolder import latest_run, previous_run, run_dir, update_latest


def _complete(d):
    (d / "run_summary.json").write_text("{}\n", encoding="utf-8")
    return d


def test_run_dir_and_latest(tmp_path):
    d1 = _complete(run_dir(tmp_path, date(2026, 10, 1)))
    assert d1 == tmp_path / "2026-10-01" and d1.is_dir()
    update_latest(tmp_path, d1)
    d2 = _complete(run_dir(tmp_path, date(2026, 10, 2)))
    update_latest(tmp_path, d2)
    link = tmp_path / "latest"
    assert link.is_symlink() and os.readlink(link) == "2026-10-02"        # relative: the tree can move
    assert (link / "run_summary.json").is_file()
    assert (tmp_path / "LATEST").read_text(encoding="utf-8").strip() == "2026-10-02"
    assert latest_run(tmp_path) == d2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_latest_falls_back_to_text_file(tmp_path, monkeypatch):
    d = run_dir(tmp_path, date(2026, 10, 1))

    def no_symlinks(*a, **k):
        raise OSError("symlinks not supported here")
    monkeypatch.setattr(runfolder.os, "symlink", no_symlinks)
    got = update_latest(tmp_path, d)
    assert got == tmp_path / "LATEST" and not (tmp_path / "latest").exists()
    assert latest_run(tmp_path) == d
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_latest_refuses_foreign_paths(tmp_path):
    with pytest.raises(ValueError):
        update_latest(tmp_path / "out", tmp_path / "elsewhere" / "2026-10-01")
    (tmp_path / "latest").mkdir()
    with pytest.raises(FileExistsError):
        update_latest(tmp_path, run_dir(tmp_path, date(2026, 10, 1)))


def test_previous_run_is_newest_complete_before(tmp_path):
    assert previous_run(tmp_path / "missing", date(2026, 10, 3)) is None
    _complete(run_dir(tmp_path, date(2026, 9, 30)))
    _complete(run_dir(tmp_path, date(2026, 10, 1)))
    run_dir(tmp_path, date(2026, 10, 2))                     # died half way: no run_summary.json
    _complete(run_dir(tmp_path, date(2026, 10, 3)))          # today's (a rerun) is not "previous"
    (tmp_path / "notes").mkdir()
    update_latest(tmp_path, tmp_path / "2026-10-03")
    assert previous_run(tmp_path, date(2026, 10, 3)) == tmp_path / "2026-10-01"
    assert previous_run(tmp_path, date(2026, 9, 30)) is None


def _f(fid, lic="C1", **props):
    return {"type": "Feature", "id": fid, "geometry": {"type": "Polygon", "coordinates": []},
            "properties": {"id": fid, "license_no": lic, **props}}


def _fc(*feats):
    return {"type": "FeatureCollection", "features": list(feats)}


def test_lifecycle_new_ongoing_resolved_once():
    d1, d2, d3, d4 = date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3), date(2026, 10, 4)
    r1 = apply_lifecycle(_fc(_f("a"), _f("b")), None, d1)
    assert [(f["id"], f["properties"]["status"], f["properties"]["first_seen"]) for f in r1["features"]] == \
        [("a", "new", "2026-10-01"), ("b", "new", "2026-10-01")]
    cur2 = _fc(_f("c", lic="C0"), _f("a"))
    before = copy.deepcopy(cur2)
    r2 = apply_lifecycle(cur2, r1, d2)
    assert cur2 == before                                              # inputs untouched
    st = {f["id"]: f["properties"] for f in r2["features"]}
    assert [f["id"] for f in r2["features"]] == ["c", "a", "b"]        # (license_no, id)
    assert st["a"]["status"] == "ongoing" and st["a"]["first_seen"] == "2026-10-01" and st["a"]["last_seen"] == "2026-10-02"
    assert st["c"]["status"] == "new" and st["c"]["first_seen"] == "2026-10-02"
    assert st["b"]["status"] == "resolved" and st["b"]["resolved_on"] == "2026-10-02" and st["b"]["last_seen"] == "2026-10-01"
    assert "resolved_on" not in st["a"]
    assert [f["id"] for f in active(r2)] == ["c", "a"]
    r3 = apply_lifecycle(_fc(_f("a"), _f("c", lic="C0")), r2, d3)
    assert [f["id"] for f in r3["features"]] == ["c", "a"]              # b carried once only
    r4 = apply_lifecycle(_fc(_f("b")), r3, d4)                          # back again after being resolved
    st4 = {f["id"]: f["properties"] for f in r4["features"]}
    assert st4["b"]["status"] == "new" and st4["b"]["first_seen"] == "2026-10-04"
    assert st4["a"]["status"] == "resolved" and st4["a"]["first_seen"] == "2026-10-01"
    assert apply_lifecycle(_fc(_f("a"), _f("b")), r2, d3) == apply_lifecycle(_fc(_f("b"), _f("a")), r2, d3)


def test_lifecycle_previous_without_fields_uses_previous_run_date():
    prev = _fc(_f("a"), _f("b"))                                        # written before lifecycle existed
    r = apply_lifecycle(_fc(_f("a")), prev, date(2026, 10, 2), previous_run_date=date(2026, 10, 1))
    st = {f["id"]: f["properties"] for f in r["features"]}
    assert st["a"]["first_seen"] == "2026-10-01" and st["b"]["status"] == "resolved"


# ------------------------------------------------------------- one unit: staging, publish, leftovers

_KILLED_RERUN = r"""
import os, signal, sys
from datetime import date
from pathlib import Path
from tests.support.night import sample_copy
from minewatch import job
from minewatch.pipeline import MineResult

tmp, after = Path(sys.argv[1]), int(sys.argv[2])
(tmp / "child").mkdir()
s = sample_copy(tmp / "child")
p = job.load_promises(s, 2026)
real, n = job.write_text, [0]

def write_then_die(path, text):
    out = real(path, text)
    n[0] += 1
    if n[0] == after:
        os.kill(os.getpid(), signal.SIGKILL)      # killed mid-write, as a repair rerun can be
    return out

job.write_text = write_then_die
job.write_run([MineResult(r.license_no, r.mine_name, error="rerun") for r in p.rights], tmp / "out",
              date(2026, 11, 20), 2026, p)
"""


def _snapshot(d: Path) -> dict[str, bytes]:
    return {str(f.relative_to(d)): f.read_bytes() for f in sorted(d.rglob("*")) if f.is_file()}


def test_a_rerun_killed_mid_write_leaves_the_old_folder_whole(tmp_path):
    s = sample_copy(tmp_path)
    p = job.load_promises(s, 2026)
    out = tmp_path / "out"
    job.write_run([], out, date(2026, 11, 20), 2026, p)
    run = out / "2026-11-20"
    (run / "reports").mkdir()
    (run / "reports" / "C0.html").write_text("an earlier run's report of a mine that fails tonight")
    before = _snapshot(run)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    child = subprocess.run([sys.executable, "-c", _KILLED_RERUN, str(tmp_path), "3"], env=env, cwd=REPO,
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == -9, child.stderr[-2000:]
    assert _snapshot(run) == before                       # not one byte of the old run changed
    assert runfolder.latest_run(out) == run
    left = [d for d in out.iterdir() if d.name.startswith(".staging-")]
    assert len(left) == 1 and len(list(left[0].rglob("*"))) >= 3   # the dead run's half-written folder

    summary = job.write_run([], out, date(2026, 11, 20), 2026, p)     # the next run clears it and publishes
    assert [d for d in out.iterdir() if d.name.startswith(".")] == []
    assert not (run / "reports" / "C0.html").exists()
    assert "reports/C0.html" not in summary["outputs"]
    assert runfolder.latest_run(out) == run and (run / "run_summary.json").is_file()


def test_publish_swaps_a_folder_in_one_step_and_a_kill_between_two_renames_is_undone(tmp_path, monkeypatch):
    old = runfolder.run_dir(tmp_path, date(2026, 11, 20))
    (old / "run_summary.json").write_text("old")
    new = runfolder.staging_dir(tmp_path, date(2026, 11, 20))
    (new / "run_summary.json").write_text("new")
    assert runfolder.publish(tmp_path, new, date(2026, 11, 20)) == old
    assert (old / "run_summary.json").read_text() == "new" and not new.exists()

    # no renameat2: a kill after the first rename leaves the old folder aside; it comes back
    monkeypatch.setattr(runfolder, "_exchange", lambda a, b: False)
    aside = tmp_path / ".replaced-2026-11-20.pid999999999.x"
    os.rename(old, aside)
    assert not old.exists()
    removed = runfolder.remove_leftovers(tmp_path)
    assert removed == [] and (old / "run_summary.json").read_text() == "new" and not aside.exists()


def test_remove_leftovers_removes_dead_runs_temp_files_only(tmp_path):
    pixels = tmp_path / "state" / "pixels" / "C1"
    pixels.mkdir(parents=True)
    dead = pixels / ".step.zip.pid999999999.abc.tmp"
    live = pixels / f".step.zip.pid{os.getpid()}.abc.tmp"
    kept = pixels / "step.zip"
    for f in (dead, live, kept):
        f.write_bytes(b"x")
    assert runfolder.remove_leftovers(tmp_path) == [dead]
    assert live.exists() and kept.exists()
