"""job: what a mine's cached result depends on, one failing mine isolated, the run folder written."""
import json
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from shapely.geometry import box
from tests.support.paths import REPO

from minewatch import job
from minewatch.assess.anomaly import Anomaly, Unjudged
from minewatch.assess.thresholds import load_thresholds
from minewatch.config import OnemapSettings, Settings
from minewatch.pipeline import MineResult
from minewatch.promised.models import MiningRight

ROOT = REPO
S = Settings(registry=Path("r.csv"), plans=Path("p"))
RIGHT = MiningRight("C1", "holder", "mine", date(2020, 1, 1), date(2030, 1, 1), "990000", box(110, 40, 110.01, 40.01))


@pytest.fixture(scope="module")
def promises():
    return job.Promises([RIGHT], {}, thresholds=load_thresholds(ROOT / "configs" / "thresholds.yaml"))


def _item(updated):
    return SimpleNamespace(id="S2_A", properties={"updated": updated}, datetime=datetime(2026, 7, 1))


def test_result_key_changes_with_a_scenes_update_only(promises):
    k = job.result_key(RIGHT, None, promises, S, date(2026, 11, 1), [_item("2026-07-02T00:00:00Z")])
    assert len(k) == 64
    assert k == job.result_key(RIGHT, None, promises, S, date(2026, 11, 1), [_item("2026-07-02T00:00:00Z")])
    assert k != job.result_key(RIGHT, None, promises, S, date(2026, 11, 1), [_item("2026-07-03T00:00:00Z")])
    # a new run date after every season end, nothing new: the same key (assess.rundate); a date
    # in the season does change a judgement, so it does not share it
    assert k == job.result_key(RIGHT, None, promises, S, date(2026, 11, 2), [_item("2026-07-02T00:00:00Z")])
    assert k != job.result_key(RIGHT, None, promises, S, date(2026, 9, 1), [_item("2026-07-02T00:00:00Z")])
    assert k != job.result_key(RIGHT, None, promises, S, date(2026, 11, 1), [_item("2026-07-02T00:00:00Z")],
                               plan_year=2025)
    moved = S.model_copy(update={"output_dir": Path("elsewhere")})          # where outputs go is not an input
    assert k == job.result_key(RIGHT, None, promises, moved, date(2026, 11, 1), [_item("2026-07-02T00:00:00Z")])


def test_result_key_follows_what_the_judgement_reads_not_how_the_night_runs(promises):
    scenes = [_item("2026-07-02T00:00:00Z")]
    k = job.result_key(RIGHT, None, promises, S, date(2026, 11, 1), scenes)
    operated = S.model_copy(update={
        "run": S.run.model_copy(update={"max_concurrent_mines": 1, "mine_retries": 0, "log_level": "DEBUG"}),
        "notify": S.notify.model_copy(update={"on_new_high": False}),
        "onemap": S.onemap.model_copy(update={"gk_layers": True})})
    assert k == job.result_key(RIGHT, None, promises, operated, date(2026, 11, 1), scenes)
    # what the judgement reads: the masks, the indices, the rules' settings
    for part, field, value in (("imagery", "mask_dilation_px", 3), ("assess", "season_end", "09-30")):
        changed = S.model_copy(update={part: getattr(S, part).model_copy(update={field: value})})
        assert k != job.result_key(RIGHT, None, promises, changed, date(2026, 11, 1), scenes), (part, field)
    assert set(job.NOT_JUDGED_BY) < set(Settings.model_fields)       # every name is a setting


def test_run_mine_records_a_failure_and_reraises_only_transient_ones_when_asked(promises, monkeypatch):
    def broken(*a, **k):
        raise ValueError("bad window")
    monkeypatch.setattr(job, "scenes_for", broken)
    r = job.run_mine(RIGHT, promises, S, date(2026, 11, 1), 2026)
    assert r.license_no == "C1" and "bad window" in r.error and "ValueError" in r.traceback
    assert r.anomalies == [] and r.series is None

    def timeout(*a, **k):
        raise TimeoutError("catalogue slow")
    monkeypatch.setattr(job, "scenes_for", timeout)
    with pytest.raises(TimeoutError):
        job.run_mine(RIGHT, promises, S, date(2026, 11, 1), 2026, reraise_transient=True)
    assert "catalogue slow" in job.run_mine(RIGHT, promises, S, date(2026, 11, 1), 2026).error


def _anomaly(confidence):
    return Anomaly(type="UNDECLARED_DISTURBANCE", severity="high", license_no="C1", mine_name="mine", plan_year=2026,
                   geometry=box(110, 40, 110.001, 40.001), area_hm2=0.9, period="2026-07-01/2026-09-15",
                   observed={"clear_observations": 4}, expected={}, evidence_scenes=("S2_A",), key="loss@1,2",
                   confidence=confidence)


def test_write_run_writes_the_run_folder(tmp_path):
    series = pd.DataFrame({"unit": ["planned:1"], "item_id": ["S2_A"], "datetime": [pd.Timestamp("2026-07-01")],
                           "fvc_mean": [0.123456]})
    ok = MineResult("C1", "mine", anomalies=[_anomaly("high")], held_back=[_anomaly("low")], series=series,
                    unjudged=[Unjudged("C1", "planned:2", "NO_THRESHOLD", "无适用阈值", 0)], scenes=["S2_A"])
    bad = MineResult("C2", "other", error="NO_SCENES")
    summary = job.write_run([bad, ok], tmp_path, date(2026, 11, 20), 2026)
    run = tmp_path / "2026-11-20"
    assert summary["run_dir"] == str(run)
    on_disk = json.loads((run / "run_summary.json").read_text(encoding="utf-8"))
    assert on_disk["mines"] == 2 and on_disk["mines_failed"] == 1 and on_disk["scenes_read"] == 1
    assert on_disk["anomalies_by_type"] == {"UNDECLARED_DISTURBANCE": 1}
    assert on_disk["failures"] == [{"license_no": "C2", "mine_name": "other", "error": "NO_SCENES"}]
    assert on_disk["outputs"] == ["anomalies.geojson", "anomalies_low_confidence.geojson", "run_summary.json",
                                  "unit_series.csv", "unjudged.csv"]
    fc = json.loads((run / "anomalies.geojson").read_text(encoding="utf-8"))
    assert [f["properties"]["confidence"] for f in fc["features"]] == ["high"]
    held = json.loads((run / "anomalies_low_confidence.geojson").read_text(encoding="utf-8"))
    assert [f["properties"]["confidence"] for f in held["features"]] == ["low"]
    assert (run / "unit_series.csv").read_text(encoding="utf-8").splitlines()[1] == \
        "planned:1,S2_A,2026-07-01,0.1235,C1"
    assert (run / "unjudged.csv").read_text(encoding="utf-8").splitlines() == \
        ["license_no,unit,reason,reason_zh,n_clear", "C1,planned:2,NO_THRESHOLD,无适用阈值,0"]


def test_the_night_shows_the_ledger(tmp_path):
    """A night with a ledger and a configured acceptance list: unit ids on the findings, the
    overdue list, the counts in the summary and the spot check; the same night twice, the same bytes."""
    import pyogrio
    from tests.support.acceptance_lists import HOLIDAYS, write_acceptance_csv
    from tests.support.ledger_plans import LICENCE, plans, write_plans

    from minewatch.ledger.db import ledger_url, open_engine
    from minewatch.ledger.ingest import ingest_paths
    from minewatch.outputs.spotcheck import read_spot_check_csv
    from minewatch.promised.registry import write_registry_csv

    s = Settings(registry=tmp_path / "registry.csv", plans=write_plans(tmp_path / "plans"),
                 output_dir=tmp_path / "out", assess={"thresholds": ROOT / "configs" / "thresholds.yaml"},
                 ledger={"acceptance": write_acceptance_csv(tmp_path / "acceptance" / "验收清单.csv"),
                         "holidays": HOLIDAYS})
    plan = plans()[1]
    right = MiningRight(LICENCE, plan.holder, plan.mine_name, date(2021, 1, 1), date(2031, 1, 1), "130100",
                        box(117.19, 39.09, 117.24, 39.12))
    write_registry_csv([right], s.registry)
    engine = open_engine(ledger_url(s))
    ingest_paths(engine, [s.plans], iou_min=0.5, related_min=0.25, area_tolerance=0.05)
    engine.dispose()
    p = job.load_promises(s, 2026)          # imports the acceptance list before any mine is judged
    finding = Anomaly(type="RESTORATION_SHORTFALL", severity="high", license_no=LICENCE, mine_name=plan.mine_name,
                      plan_year=2026, geometry=plan.section("planned")[1].geometry, area_hm2=3.3613,
                      period="2026-07-01/2026-09-15", observed={}, expected={}, evidence_scenes=("S2_A",),
                      unit_seq=2, unit_section="planned", key="planned:2")
    res = MineResult(LICENCE, plan.mine_name, anomalies=[finding], scenes=["S2_A"])
    summary = job.write_run([res], s.output_dir, date(2026, 6, 1), 2026, p)
    run = Path(summary["run_dir"])
    fc = json.loads((run / "anomalies.geojson").read_text(encoding="utf-8"))
    assert [(f["properties"]["type"], f["properties"]["unit_id"]) for f in fc["features"]] == [
        ("RESTORATION_SHORTFALL", f"{LICENCE}-U0006")]
    on_disk = json.loads((run / "run_summary.json").read_text(encoding="utf-8"))
    assert on_disk["acceptance_overdue"] == 1
    assert [f["rule"] for f in on_disk["acceptance_findings"]] == ["ACCEPTANCE_CLAIM_WITHOUT_RECORD"]
    assert "acceptance_overdue.csv" in on_disk["outputs"]
    late = (run / "acceptance_overdue.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(late) == 2 and f"{LICENCE}-U0006" in late[1] and "2026-05-29" in late[1]
    spot = read_spot_check_csv(run / "spot_check.csv")
    # 2026: D 20.1653, C 6.7225, B's halves 3.3613 + 3.3612, E 6.7225 still owed; U0003 accepted
    assert (spot.loc[0, "outstanding_hm2"], spot.loc[0, "n_overdue_acceptance"]) == (40.3328, 1)
    assert spot.loc[0, "unit_ids"] == f"{LICENCE}-U0006"
    assert pyogrio.read_dataframe(run / "onemap.gpkg", layer="anomalies")["unit_id"].tolist() == [f"{LICENCE}-U0006"]
    units = pyogrio.read_dataframe(run / "onemap.gpkg", layer="restoration_units")
    assert dict(zip(units["unit_id"], units["lifecycle_state"]))[f"{LICENCE}-U0003"] == "in_management"
    # what was known on 1 June 2026: the 2025 and 2026 plans (11 rows), three acceptance rows
    assert len(pyogrio.read_dataframe(run / "onemap.gpkg", layer="unit_history")) == 11 + 3
    before = {q.relative_to(run): q.read_bytes() for q in sorted(run.rglob("*")) if q.is_file()}
    job.write_run([res], s.output_dir, date(2026, 6, 1), 2026, p)
    assert {q.relative_to(run): q.read_bytes() for q in sorted(run.rglob("*")) if q.is_file()} == before


def test_write_run_writes_the_one_map_formats_with_the_nights_scenes(tmp_path):
    """onemap.formats and gk_layers reach the run folder; the package's metadata lists run_summary's scenes."""
    import sqlite3
    import xml.etree.ElementTree as ET
    from contextlib import closing

    import pyogrio

    s = S.model_copy(update={"onemap": OnemapSettings(formats=("gpkg", "filegdb", "shapefile"), gk_layers=True)})
    promises = job.Promises([RIGHT], {}, settings=s)
    ok = MineResult("C1", "mine", anomalies=[_anomaly("high")], scenes=["S2_B", "S2_A"])
    other = MineResult("C1X", "mine", scenes=["S2_A", "S2_C"])          # a scene two mines share
    summary = job.write_run([ok, other], tmp_path, date(2026, 11, 20), 2026, promises)
    run = tmp_path / "2026-11-20"
    on_disk = json.loads((run / "run_summary.json").read_text(encoding="utf-8"))
    assert on_disk["scenes"] == ["S2_A", "S2_B", "S2_C"] and on_disk["scenes_read"] == 4
    # the masks the night judged with (issue 14): read from the night's settings, not from defaults
    masks = on_disk["mask_rules"]
    assert masks["scl_masked"] == list(s.imagery.mask_classes) and masks["snow"]["scl"] == [11]
    assert masks["terrain_shadow"]["scl"] == [2] and masks["snow"]["ndsi_min"] == s.imagery.ndsi_min
    assert masks["season_widening"] == {"days": s.assess.widen_days, "steps": s.assess.widen_steps,
                                        "min_clear_obs": s.assess.min_clear_obs}
    s2 = s.model_copy(update={"imagery": s.imagery.model_copy(update={"ndsi_min": 0.5})})
    assert job.mask_rules(s2)["snow"]["ndsi_min"] == 0.5
    assert {"onemap.gpkg", "onemap.gdb/gdb", "shapefile/anomalies.shp", "shapefile/anomalies_gk.shp",
            "shapefile/anomalies_detail.dbf"} <= set(summary["outputs"])
    with closing(sqlite3.connect(run / "onemap.gpkg")) as db:
        xml = db.execute("SELECT metadata FROM gpkg_metadata").fetchone()[0]
    lineage = ET.fromstring(xml.encode("utf-8")).find("数据质量信息/数据志")
    assert [e.get("标识") for e in lineage.iter("影像")] == on_disk["scenes"]
    assert lineage.findtext("运行编号") == "2026-11-20" and lineage.findtext("软件").startswith("minewatch ")
    # RIGHT is at 110°E: 3° zone 37 (CM 111°E)
    assert pyogrio.read_dataframe(run / "onemap.gdb", layer="mines_gk").crs.to_epsg() == 4525
    fc = json.loads((run / "anomalies.geojson").read_text(encoding="utf-8"))        # the finding and PLAN_MISSING
    assert len(pyogrio.read_dataframe(run / "shapefile" / "anomalies.shp")) == len(fc["features"]) == 2


def test_the_result_cache_keeps_results_on_a_state_url(tmp_path):
    """run.state_url on object storage (a local moto S3 server): results and pixel store both there."""
    from tests.support.s3 import moto_s3
    res = MineResult(license_no="C1", mine_name="m", scenes=["S2A_X"])
    s = Settings(registry=Path("r.csv"), plans=Path("p"), run={"state_url": "s3://state/night"})
    assert job.state_root(s, tmp_path) == "s3://state/night"
    assert job.state_root(S, tmp_path) == str(tmp_path / "state")
    local = job.ResultCache(job.state_root(S, tmp_path))
    local.put("C1", "k", res)
    assert local.get("C1", "k") == res and (tmp_path / "state" / "mines" / "C1.pkl").is_file()
    with moto_s3("state") as opts:
        cache = job.ResultCache(job.state_root(s, tmp_path), opts)
        assert cache.get("C1", "k") is None
        cache.put("C1", "k", res)
        again = job.ResultCache("s3://state/night", opts)      # the next night, another machine
        assert again.get("C1", "k") == res and again.get("C1", "other") is None
        assert again.pixels.url("C1") == "s3://state/night/pixels/C1.zarr"
        again._fs.pipe_file(again._path("C1"), b"not a pickle")
        assert again.get("C1", "k") is None                    # damaged: recomputed, never fatal
