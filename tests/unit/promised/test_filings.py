"""filings: of several filings for one licence and year the latest counts, the others are
reported as superseded, and every id and upsert key written stays unique."""
import dataclasses
import json
import sqlite3
from datetime import date

import pandas as pd
from shapely.geometry import box
from tests.support.night import sample_copy

from minewatch import job
from minewatch.assess.anomaly import Anomaly, with_unique_keys
from minewatch.promised.filings import SUPERSEDED, is_superseded, mark_superseded
from minewatch.promised.models import AnnualPlan
from minewatch.promised.planreader import PlanReadResult
from minewatch.promised.planwriter import write_plan_xlsx
from minewatch.synth import sample

AS_OF = date(2026, 11, 20)


def _filing(name, submitted=None, lic="C1"):
    return PlanReadResult(plan=AnnualPlan(2026, lic, "h", "m", submitted=submitted), file=f"/plans/{name}")


def _winner(results):
    return [r.file.rsplit("/", 1)[1] for r in mark_superseded(results) if not is_superseded(r)]


def test_the_latest_receipt_then_a_revision_then_the_later_name_wins():
    assert _winner([_filing("b_修订.xlsx", date(2026, 3, 1)), _filing("a.xlsx", date(2026, 3, 9))]) == ["a.xlsx"]
    assert _winner([_filing("a_修订.xlsx"), _filing("z.xlsx")]) == ["a_修订.xlsx"]
    assert _winner([_filing("p_v2.xlsx"), _filing("p_v10.xlsx"), _filing("p_v3.xlsx")]) == ["p_v10.xlsx"]
    assert _winner([_filing("p_2.xlsx"), _filing("p_1.xlsx")]) == ["p_2.xlsx"]
    assert _winner([_filing("vegetation.xlsx"), _filing("w.xlsx")]) == ["w.xlsx"]   # a word, not a revision
    # other licences and years are separate filings; the order given is kept
    other = [_filing("x.xlsx", lic="C2"), _filing("y.xlsx"), _filing("z.xlsx")]
    marked = mark_superseded(other)
    assert [is_superseded(r) for r in marked] == [False, True, False]
    (note,) = [f for f in marked[1].findings if f.rule == SUPERSEDED]
    assert note.severity == "warning" and "z.xlsx" in note.message_zh and other[1].findings == []


def test_with_unique_keys_makes_every_id_distinct():
    a = Anomaly("PLAN_DATA_INCONSISTENT", "low", "C1", "m", 2026, box(0, 0, 1, 1), 1.0, "p", {}, {}, (), key="k")
    out = with_unique_keys([a, a, a, dataclasses.replace(a, key="k#2")])
    assert [x.key for x in out] == ["k", "k#2", "k#3", "k#2#2"]
    assert len({x.id for x in out}) == 4 and with_unique_keys([a]) == [a]


def test_sixteen_filings_for_one_licence_give_one_plan_and_unique_keys_in_every_file(tmp_path):
    s = sample_copy(tmp_path)
    m = sample.MINES[0]
    base = sample.annual_plan(m)
    (s.plans / f"{m.license_no}_{sample.PLAN_YEAR}.xlsx").unlink()
    # 16 filings, each with the same fee error and a duplicated 序号, one marked as the revision
    bad = dataclasses.replace(base, fees_last_year_drawn=1.0, fees_last_year_used=9.0,
                              units=base.units + (base.units[-1],))
    for i in range(15):
        write_plan_xlsx(bad, s.plans / f"{m.license_no}_{sample.PLAN_YEAR}_{i:02d}.xlsx")
    write_plan_xlsx(bad, s.plans / f"{m.license_no}_{sample.PLAN_YEAR}_修订.xlsx")
    p = job.load_promises(s, sample.PLAN_YEAR)
    assert p.plans[m.license_no].source.endswith("_修订.xlsx")
    superseded = [f for f in p.findings if f.rule == SUPERSEDED]
    assert len(superseded) == 15 and len({f.file for f in superseded}) == 15
    assert all("修订.xlsx" in f.message_zh for f in superseded)

    job.write_run([], s.output_dir, AS_OF, sample.PLAN_YEAR, p)
    run = s.output_dir / AS_OF.isoformat()
    for name in ("anomalies.geojson", "anomalies_low_confidence.geojson", "public/anomalies.geojson"):
        ids = [f["id"] for f in json.loads((run / name).read_text(encoding="utf-8"))["features"]]
        assert len(ids) == len(set(ids)), name
    fc = json.loads((run / "anomalies.geojson").read_text(encoding="utf-8"))
    fees = [f for f in fc["features"] if f["properties"]["observed"].get("rule") == "FEES_USED_EXCEED_DRAWN"]
    assert [f["properties"]["observed"]["file"] for f in fees] == [f"{m.license_no}_{sample.PLAN_YEAR}_修订.xlsx"]
    with sqlite3.connect(run / "onemap.gpkg") as db:
        layers = [r[0] for r in db.execute("select table_name from gpkg_contents where data_type = 'features'")]
        assert {"anomalies", "restoration_units", "mines"} <= set(layers)
        for layer in layers:
            keys = [r[0] for r in db.execute(f'select upsert_key from "{layer}"')]
            assert keys and len(keys) == len(set(keys)), layer
    for name in ("spot_check.csv", "public/spot_check.csv"):
        lic = pd.read_csv(run / name, encoding="utf-8-sig", dtype=str).iloc[:, 1]
        assert lic.is_unique, name
