"""Run folders, the `latest` pointer, the previous complete run, and the anomaly lifecycle across runs."""
import copy
import os
from datetime import date

import pytest

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
    assert st["a"]["status"] == "ongoing" and st["a"]["first_seen"] == "2026-10-01"
    assert st["a"]["last_seen"] == "2026-10-02"
    assert st["c"]["status"] == "new" and st["c"]["first_seen"] == "2026-10-02"
    assert st["b"]["status"] == "resolved" and st["b"]["resolved_on"] == "2026-10-02"
    assert st["b"]["last_seen"] == "2026-10-01"
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
