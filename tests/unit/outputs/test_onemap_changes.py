"""The changes table: new / updated / resolved between two nights' packages, with the upsert keys."""
import copy
import shutil
import sqlite3
import subprocess
from contextlib import closing
from datetime import date

import pandas as pd
import pyogrio
import pytest
from shapely.geometry import box
from tests.support.night import sample_copy
from tests.support.onemap_nights import NIGHT1, NIGHT2, R1, R2, write_two_nights
from tests.support.outputs_data import anomalies_fc, rights_and_plans

from minewatch import job
from minewatch.assess.anomaly import Anomaly
from minewatch.outputs.onemap import LAYERS, bsm, layer_fields, write_onemap
from minewatch.outputs.onemap_changes import changes
from minewatch.pipeline import MineResult


def _table(path):
    df = pyogrio.read_dataframe(path, layer="changes")
    return {(r.layer, r.upsert_key): r for r in df.itertuples()}


def test_first_night_everything_is_new(tmp_path):
    p1, _ = write_two_nights(tmp_path)
    t = _table(p1)
    assert len(t) == 2 + 4 + 2 and {r.status for r in t.values()} == {"new"}
    assert {r.status_zh for r in t.values()} == {"新增"}
    assert all(r.previous_night is pd.NaT or pd.isna(r.previous_night) for r in t.values())
    assert {r.night for r in t.values()} == {pd.Timestamp(NIGHT1)}


def test_second_night_lists_each_kind_with_its_keys(tmp_path):
    p1, p2 = write_two_nights(tmp_path)
    t = _table(p2)
    got = {(layer, r.status) for (layer, _), r in t.items()}
    assert sorted((r.layer, r.status, r.license_no, None if pd.isna(r.seq) else int(r.seq), r.section)
                  for r in t.values()) == [
        ("anomalies", "new", R2, None, None),
        ("anomalies", "resolved", R1, None, None),
        ("anomalies", "updated", R1, None, None),
        ("mines", "updated", R1, None, None),
        ("mines", "updated", R2, None, None),
        ("restoration_units", "resolved", R1, 1, "damage"),
        ("restoration_units", "updated", R1, 1, "planned"),
    ], got
    an = pyogrio.read_dataframe(p2, layer="anomalies").set_index("upsert_key")
    for (layer, key), r in t.items():
        assert r.BSM == bsm(layer, key)                       # the layer's own BSM, so the platform can join
        assert (r.night, r.previous_night) == (pd.Timestamp(NIGHT2), pd.Timestamp(NIGHT1))
        if layer == "anomalies":
            assert r.anomaly_id == key and r.plan_year == 2026
    upd = next(r for (layer, _), r in t.items() if layer == "anomalies" and r.status == "updated")
    assert upd.changed_fields == "evidence_scenes,observed,period"      # not status/last_seen: bookkeeping
    assert an.loc[upd.upsert_key, "status"] == "ongoing"
    gone = next(r for (layer, _), r in t.items() if layer == "anomalies" and r.status == "resolved")
    assert tuple(an.loc[gone.upsert_key, ["status", "type"]]) == ("resolved", "UNDECLARED_DISTURBANCE")
    unit = next(r for (layer, _), r in t.items() if layer == "restoration_units" and r.status == "updated")
    assert unit.changed_fields == "latest_as_of,latest_fvc,latest_status,latest_status_zh"
    assert [f.name for f in layer_fields("changes")] == [c for c in pyogrio.read_dataframe(p2, layer="changes").columns
                                                        if c != "geometry"]


def test_rerun_of_a_night_keeps_its_bytes(tmp_path):
    _, a = write_two_nights(tmp_path / "a")
    _, b = write_two_nights(tmp_path / "b")
    assert a.read_bytes() == b.read_bytes()


def _frame(rows):
    return pd.DataFrame([{"BSM": bsm("anomalies", r["upsert_key"]), "fid": i, **r} for i, r in enumerate(rows)])


def test_lifecycle_bookkeeping_is_no_change_and_a_return_is_new():
    night, before_night = date(2026, 10, 3), date(2026, 10, 2)
    before = {"anomalies": _frame([
        {"upsert_key": "a", "id": "a", "status": "new", "last_seen": "2026-10-02", "area_hm2": 1.0},
        {"upsert_key": "b", "id": "b", "status": "resolved", "last_seen": "2026-10-01", "area_hm2": 2.0}])}
    tonight = {"anomalies": _frame([            # fid order swapped too: row order is no change
        {"upsert_key": "b", "id": "b", "status": "new", "last_seen": "2026-10-03", "area_hm2": 2.0},
        {"upsert_key": "a", "id": "a", "status": "ongoing", "last_seen": "2026-10-03", "area_hm2": 1.0}])}
    rows = changes(tonight, before, night, before_night)
    assert [(r["upsert_key"], r["status"]) for r in rows] == [("b", "new")]
    tonight["anomalies"].loc[1, "area_hm2"] = 1.5
    rows = changes(tonight, before, night, before_night)
    assert [(r["upsert_key"], r["status"], r["changed_fields"]) for r in rows] == [
        ("a", "updated", "area_hm2"), ("b", "new", None)]


def test_the_night_compares_its_package_with_the_previous_run_folder(tmp_path):
    """job.write_run hands write_onemap the previous night's package: night 2 logs the finding resolved."""
    s = sample_copy(tmp_path)
    p = job.load_promises(s, 2026)
    right = p.rights[0]
    finding = Anomaly("UNDECLARED_DISTURBANCE", "high", right.license_no, right.mine_name, 2026,
                      box(*right.boundary.centroid.buffer(0.001).bounds), 1.5, "2026-07-01/2026-09-15",
                      {"ndvi_current": 0.1}, {"rule": "no loss"}, ("S2A_X",), key="loss@1,2")
    job.write_run([MineResult(right.license_no, right.mine_name, anomalies=[finding])], s.output_dir, NIGHT1, 2026, p)
    job.write_run([MineResult(right.license_no, right.mine_name)], s.output_dir, NIGHT2, 2026, p)
    t = pyogrio.read_dataframe(s.output_dir / NIGHT2.isoformat() / "onemap.gpkg", layer="changes")
    an = t[t.layer == "anomalies"]
    assert list(zip(an.anomaly_id, an.status)) == [(finding.id, "resolved")]
    assert set(t.previous_night) == {pd.Timestamp(NIGHT1)} and set(t.night) == {pd.Timestamp(NIGHT2)}
    first = pyogrio.read_dataframe(s.output_dir / NIGHT1.isoformat() / "onemap.gpkg", layer="changes")
    assert set(first.status) == {"new"} and first.previous_night.isna().all()


@pytest.mark.skipif(shutil.which("ogr2ogr") is None, reason="ogr2ogr (Debian gdal-bin) not installed")
def test_ogr2ogr_upsert_merges_night_two_into_a_copy_of_night_one(tmp_path):
    """The GeoPackage route of `ogr2ogr -upsert` (GDAL >= 3.6): the packages' UNIQUE upsert_key is
    what it merges on, so the copy ends with the union of both nights and night 2's statuses."""
    p1, p2 = write_two_nights(tmp_path / "out")
    mirror = tmp_path / "platform.gpkg"
    shutil.copy(p1, mirror)
    info = subprocess.run(["ogrinfo", "-ro", "-so", str(p2), "anomalies"], capture_output=True, text=True, check=True)
    assert "upsert_key: String (0.0) UNIQUE" in info.stdout
    for layer in LAYERS:
        subprocess.run(["ogr2ogr", "-upsert", "-unsetFid", str(mirror), str(p2), layer], check=True,
                       capture_output=True, text=True)
    with closing(sqlite3.connect(mirror)) as c:
        for layer in LAYERS:
            keys = [k for (k,) in c.execute(f"SELECT upsert_key FROM {layer}")]
            want = {k for p in (p1, p2) for k in pyogrio.read_dataframe(p, layer=layer).upsert_key}
            assert sorted(keys) == sorted(want) and len(keys) == len(set(keys)), layer
        assert dict(c.execute("SELECT type, status FROM anomalies")) == {
            "RESTORATION_SHORTFALL": "ongoing", "UNDECLARED_DISTURBANCE": "resolved",
            "OUT_OF_BOUNDARY_DISTURBANCE": "new"}
        assert c.execute("SELECT latest_fvc FROM restoration_units WHERE upsert_key = ?",
                         (f"{R1}|2026|planned|1",)).fetchone() == (0.61,)


def test_a_repeated_merge_key_is_refused(tmp_path):
    rights, plans = rights_and_plans()
    fc = anomalies_fc()
    fc["features"].append(copy.deepcopy(fc["features"][0]))
    with pytest.raises(sqlite3.IntegrityError):
        write_onemap(tmp_path / "dup.gpkg", fc, rights, plans, None, run_date=NIGHT1)
    assert list(tmp_path.iterdir()) == []                   # nothing half-written is left
