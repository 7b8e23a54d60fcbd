"""The ledger's snapshot per mine, the night's ingest (revision -> rebuild) and season write-back, both backends."""
from __future__ import annotations

import dataclasses
import pickle
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tests.support.ledger_plans import LICENCE, plans

from minewatch.ledger.history import SeasonRow, mine_histories, record_seasons
from minewatch.ledger.ingest import needs_rebuild, sync_results
from minewatch.ledger.schema import SeasonObservation
from minewatch.ledger.timeline import dump
from minewatch.promised.models import PLANNED
from minewatch.promised.planreader import PlanReadResult, read_plans
from minewatch.promised.planwriter import write_plan_xlsx

KW = dict(iou_min=0.5, related_min=0.25)


def _id(n: int) -> str:
    return f"{LICENCE}-U{n:04d}"


def _write(folder, ps) -> list[PlanReadResult]:
    folder.mkdir(parents=True, exist_ok=True)
    for p in ps:
        write_plan_xlsx(p, folder / f"{p.license_no}_{p.plan_year}.xlsx")
    return read_plans(folder, area_tolerance=0.05)


def test_snapshot_has_every_mention_and_the_lookup(make_ledger, tmp_path):
    engine = make_ledger()
    results = _write(tmp_path / "plans", plans())
    rep = sync_results(engine, results, **KW)
    assert len(rep.added) == 3
    h = mine_histories(engine)[LICENCE]
    assert h.years == (2025, 2026, 2027)
    assert len(h.units) == 9
    a = h.unit(_id(3))          # A: planned 1 in 2025, reported restored and accepted in 2026
    assert [(m.year, m.section, m.seq, m.method, m.accepted) for m in a.mentions] == [
        (2025, "planned", 1, "new", None), (2026, "restored", 1, "iou", True)]
    assert a.mentions[0].land_class == "0404" and a.mentions[0].area_hm2 == round(a.mentions[0].area_hm2, 4)
    assert a.mentions[1].key == "restored:1@2026"
    assert a.acceptance(2027) == (2025, a.mentions[1])       # claimed in plan 2026: accepted in 2025
    assert a.acceptance(2025) is None
    assert h.unit_of(2026, PLANNED, 1) == _id(5) and h.unit_of(2025, PLANNED, 3) == _id(5)
    assert h.unit(_id(6)).mentions[0].candidates == (_id(4),)    # B's west half names its parent
    assert h.unit_of(2027, PLANNED, 9) is None
    # plain data: a worker gets it whole, and the same ledger pickles to the same bytes
    assert pickle.loads(pickle.dumps(h)) == h
    assert pickle.dumps(mine_histories(engine)[LICENCE].cache_part(2026)) == pickle.dumps(h.cache_part(2026))


def test_night_ingest_is_idempotent_and_a_revision_rebuilds(make_ledger, tmp_path):
    engine = make_ledger()
    results = _write(tmp_path / "plans", plans())
    sync_results(engine, results, **KW)
    first = dump(engine)
    assert not needs_rebuild(engine, results)
    again = sync_results(engine, results, **KW)
    assert again.added == [] and len(again.skipped) == 3 and dump(engine) == first

    # 2026 revised: planned 4 (E) gets another target class; the same file name, new bytes
    ps = plans()
    y26 = ps[1]
    units = tuple(dataclasses.replace(u, land_class="0305") if (u.section, u.seq) == (PLANNED, 4) else u
                  for u in y26.units)
    ps[1] = dataclasses.replace(y26, units=units)
    revised = _write(tmp_path / "plans", ps)
    assert needs_rebuild(engine, revised)
    rep = sync_results(engine, revised, **KW)
    assert len(rep.added) == 3 and rep.findings[0].rule == "LEDGER_UNIT_SPLIT"   # rebuilt, not refused
    h = mine_histories(engine)[LICENCE]
    assert h.unit_of(2026, PLANNED, 4) == _id(8)        # the same ground keeps its id
    assert h.unit(_id(8)).mentions[0].land_class == "0305"
    assert sum(len(u.mentions) for u in h.units) == 14
    # a fresh ledger built from the revised files is the same ledger
    fresh = make_ledger()
    sync_results(fresh, revised, **KW)
    assert dump(fresh) == dump(engine)


def test_season_observations_upsert_without_duplicates(make_ledger, tmp_path):
    engine = make_ledger()
    sync_results(engine, _write(tmp_path / "plans", plans()), **KW)
    rows = [SeasonRow(_id(3), 2026, 0.4123, 0.6, 7, date(2026, 9, 10)),
            SeasonRow(_id(5), 2026, None, 0.6, 0, None),
            SeasonRow("NOT-A-UNIT", 2026, 0.1, 0.6, 3, None)]
    assert record_seasons(engine, rows) == 2
    assert record_seasons(engine, [dataclasses.replace(rows[0], fvc=0.5, clear_obs=8)]) == 1
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(SeasonObservation)) == 2
    h = mine_histories(engine)[LICENCE]
    o = h.unit(_id(3)).season(2026)
    assert (o.fvc, o.reference_fvc, o.clear_obs, o.observed_to) == (0.5, 0.6, 8, date(2026, 9, 10))
    # this season's own row does not change the result key of a rerun; an earlier season's does
    assert h.cache_part(2026) == mine_histories(engine)[LICENCE].cache_part(2026)
    assert h.cache_part(2027) != dataclasses.replace(h, units=tuple(
        dataclasses.replace(u, seasons=()) for u in h.units)).cache_part(2027)


def test_acceptance_year_from_a_record_before_the_plans_claim(make_ledger, tmp_path):
    from minewatch.assess.history import tracked_units
    from minewatch.ledger.history import AcceptanceEntry

    engine = make_ledger()
    sync_results(engine, _write(tmp_path / "plans", plans()), **KW)
    h = mine_histories(engine)[LICENCE]
    a = h.unit(_id(3))                # A: claimed accepted in plan 2026 (so 2025); a 合格 record says 2025-04
    rec = AcceptanceEntry(date(2025, 3, 1), date(2025, 4, 20), "合格", "验收2025-001", 1.0, "acc.csv", 2)
    failed = dataclasses.replace(rec, result="不合格", accepted_on=date(2024, 6, 1), row=3)
    a2 = dataclasses.replace(a, acceptances=(failed, rec))
    assert a2.acceptance(2027) == (2025, a.mentions[1])        # the 不合格 row counts for nothing
    early = dataclasses.replace(rec, accepted_on=date(2024, 10, 8))
    assert dataclasses.replace(a, acceptances=(early,)).acceptance(2026) == (2024, a.mentions[1])   # record wins
    h2 = dataclasses.replace(h, units=tuple(dataclasses.replace(u, acceptances=(early,)) if u.unit_id == _id(3)
                                            else u for u in h.units))
    # the 2027 plan omits A: tracked on its 2026 row, accepted by the record (2024), in its 管护期 to 2027
    t = tracked_units(h2, 2027, 3)["restored:1@2026"]
    assert (t.kind, t.acceptance_year, t.acceptance_source, t.unit.unit_id) == ("accepted", 2024, "record", _id(3))
    assert "restored:1@2026" not in tracked_units(h2, 2028, 3)
