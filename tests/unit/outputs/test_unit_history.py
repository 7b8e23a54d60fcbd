"""What the ledger adds to the outputs: unit ids on anomalies, the one-map units' id and
lifecycle, the unit_history table, the overdue list and the spot-check counts."""
from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import date

import pandas as pd
import pyogrio
import pytest
from shapely.geometry import box
from tests.support.acceptance_lists import HOLIDAYS, fill_planted_ledger
from tests.support.ledger_plans import LICENCE, plans

from minewatch.assess.anomaly import Anomaly
from minewatch.assess.thresholds import Threshold, ThresholdTable
from minewatch.labels import ONEMAP_TABLES_ZH
from minewatch.ledger.db import open_engine
from minewatch.outputs.acceptance_overdue import write_acceptance_overdue
from minewatch.outputs.geojson import feature_collection
from minewatch.outputs.onemap import write_onemap
from minewatch.outputs.spotcheck import read_spot_check_csv, spot_check_list, write_spot_check
from minewatch.outputs.unit_history import (
    ledger_unit_fields,
    outstanding_hm2,
    overdue_counts,
    read_ledger,
    unit_history_frame,
    with_unit_ids,
)

AS_OF = date(2027, 6, 1)
GRASS = ThresholdTable((Threshold(region="default", land_class="04", measure="fvc", value=0.5, source="test"),))


def U(n: int) -> str:
    return f"{LICENCE}-U{n:04d}"


@pytest.fixture
def view(tmp_path):
    engine = fill_planted_ledger(open_engine(f"sqlite:///{tmp_path / 'ledger.sqlite'}"), tmp_path)
    try:
        yield read_ledger(engine, AS_OF, management_years=3, working_days=60, holidays=HOLIDAYS,
                          thresholds=GRASS, county={})
    finally:
        engine.dispose()


def _anomaly(section: str | None, seq: int | None, key: str) -> Anomaly:
    return Anomaly("RESTORATION_SHORTFALL", "high", LICENCE, "某某石灰岩矿", 2027, box(117.2, 39.1, 117.201, 39.101),
                   1.0, "2027-07-01/2027-09-15", {}, {}, (), unit_seq=seq, unit_section=section, key=key)


def test_anomalies_carry_the_unit_id(view):
    out = with_unit_ids([_anomaly("planned", 3, "planned:3"), _anomaly("planned", 4, "planned:4@2026"),
                         _anomaly(None, None, "x")], view.unit_ids)
    assert [a.unit_id for a in out] == [U(9), U(8), None]   # this year's row; the 2026 mention its key names
    props = [f["properties"] for f in feature_collection(out)["features"]]
    assert sorted(p["unit_id"] or "" for p in props) == ["", U(8), U(9)]


def test_onemap_units_and_history(view, tmp_path):
    plan = plans()[1]                                     # 2026: A reported restored, B split, C re-numbered
    out = tmp_path / "onemap.gpkg"
    write_onemap(out, {"features": []}, [], {LICENCE: plan}, unit_ledger=ledger_unit_fields(view),
                 tables={"unit_history": unit_history_frame(view, [LICENCE])}, run_date=AS_OF)
    units = pyogrio.read_dataframe(out, layer="restoration_units").sort_values(["section", "seq"])
    got = {(r.section, r.seq): (r.unit_id, r.lifecycle_state, r.lifecycle_state_zh) for r in units.itertuples()}
    assert got == {("damage", 1): (U(2), "damaged", "损毁"),
                   ("planned", 1): (U(5), "planned", "计划修复"), ("planned", 2): (U(6), "planned", "计划修复"),
                   ("planned", 3): (U(7), "planned", "计划修复"), ("planned", 4): (U(8), "planned", "计划修复"),
                   ("restored", 1): (U(3), "in_management", "管护期内")}
    with closing(sqlite3.connect(out)) as db:       # described like every table of the package
        desc = dict(db.execute("SELECT table_name, description FROM gpkg_contents"))
        aliases = dict(db.execute("SELECT column_name, name FROM gpkg_data_columns WHERE table_name = 'unit_history'"))
    assert desc["unit_history"] == ONEMAP_TABLES_ZH["unit_history"]
    assert aliases["unit_id"] == "单元标识码" and aliases["certificate_no"] == "验收合格确认书编号"
    hist = pyogrio.read_dataframe(out, layer="unit_history")
    assert len(hist) == 14 + 3 + 1               # plan rows 2025-2027, acceptance rows, one season
    assert hist["BSM"].is_unique and hist["upsert_key"].is_unique
    season = hist[hist["kind"] == "season"].iloc[0]
    assert (season["unit_id"], season["year"], season["fvc"], season["fvc_min"], season["clear_obs"]) == (
        U(3), 2026, 0.4512, 0.5, 7)
    acc = hist[(hist["kind"] == "acceptance") & (hist["unit_id"] == U(3))].iloc[0]
    assert (acc["kind_zh"], acc["result"], acc["certificate_no"], str(acc["accepted_on"])[:10]) == (
        "验收记录", "合格", "验收(2026)第7号", "2026-05-20")
    again = tmp_path / "again.gpkg"
    write_onemap(again, {"features": []}, [], {LICENCE: plan}, unit_ledger=ledger_unit_fields(view),
                 tables={"unit_history": unit_history_frame(view, [LICENCE])}, run_date=AS_OF)
    assert again.read_bytes() == out.read_bytes()


def test_outstanding_overdue_and_the_spot_check(view, tmp_path):
    # still damaged or planned in 2027: D 20.1653, B's halves 3.3613 + 3.3612, C and E merged 13.4449;
    # B, C and E themselves were split / merged into those and are not counted again
    assert outstanding_hm2(view) == {LICENCE: 40.3327}
    assert overdue_counts(view) == {LICENCE: 2}           # U0006 and U0007: neither answered by June 2027
    path = write_acceptance_overdue(view.overdue, {LICENCE: "某某石灰岩矿"}, tmp_path / "acceptance_overdue.csv")
    df = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
    assert list(df.columns)[:3] == ["license_no|采矿权证证号", "mine_name|矿山名称", "unit_id|单元标识码"]
    assert df["unit_id|单元标识码"].tolist() == [U(6), U(7)]
    assert df["due_on|应验收截止日期"].tolist()[0] == "2026-05-29"
    plain = spot_check_list({"features": []}, [])
    assert plain.empty
    spot = spot_check_list({"features": []}, [], outstanding=outstanding_hm2(view), overdue=overdue_counts(view))
    row = spot.iloc[0]
    assert row["risk_score"] == pytest.approx(1 + 0.5 * 40.3327 + 2.0 * 2, abs=1e-4)
    assert (row["outstanding_hm2"], row["n_overdue_acceptance"]) == (40.3327, 2)
    assert "未修复40.3327 hm²" in row["reasons_zh"] and "逾期未验收2件" in row["reasons_zh"]
    back = read_spot_check_csv(write_spot_check(spot, tmp_path / "s.csv", None)[0])
    assert (back.loc[0, "outstanding_hm2"], back.loc[0, "n_overdue_acceptance"]) == (40.3327, 2)


def test_overdue_csv_is_formula_safe(tmp_path):
    from minewatch.ledger.overdue import OverdueApplication

    late = [OverdueApplication(LICENCE, None, "=HYPERLINK(\"http://x\")", date(2026, 3, 2), date(2026, 5, 25), 70,
                               "验收清单.csv", 4)]
    text = write_acceptance_overdue(late, {LICENCE: "-矿"}, tmp_path / "o.csv").read_text(encoding="utf-8-sig")
    row = text.splitlines()[1]
    assert row == f'{LICENCE},\'-矿,,"\'=HYPERLINK(""http://x"")",2026-03-02,2026-05-25,70,验收清单.csv,4'
