"""The night's ledger in job: every year's plans ingested, the snapshot per mine, its plan findings, its
place in the result key, and the season write-back (a failed mine writes nothing)."""
from __future__ import annotations

import dataclasses
import json
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tests.support.night import sample_copy

from minewatch import job
from minewatch.ledger.db import ledger_url
from minewatch.ledger.history import SeasonRow
from minewatch.ledger.schema import SeasonObservation
from minewatch.ledger.timeline import dump
from minewatch.pipeline import MineResult
from minewatch.promised.models import PLANNED
from minewatch.promised.planwriter import write_plan_xlsx
from minewatch.synth import sample

Y = sample.PLAN_YEAR


def test_the_night_ingests_every_year_and_a_late_year_rebuilds(tmp_path):
    s = sample_copy(tmp_path)
    p = job.load_promises(s, Y)
    assert p.ledger_url == ledger_url(s) and (s.output_dir / "state" / "ledger.sqlite").is_file()
    assert sorted(p.histories) == sorted(m.license_no for m in sample.MINES)
    engine = job.ledger_engine(p.ledger_url)
    first = dump(engine)
    again = job.load_promises(s, Y)
    assert dump(engine) == first and again.histories == p.histories          # idempotent
    m0, m1 = sample.MINES[0], sample.MINES[1]
    key = {m.license_no: job.result_key(r, p.plans.get(m.license_no), p, s, date(Y, 11, 1), [])
           for m in (m0, m1) for r in p.rights if r.license_no == m.license_no}

    # last year's plan arrives late: its planned units, one with another target class this year
    plan = p.plans[m0.license_no]
    planned = [u for u in plan.units if u.section == PLANNED]
    assert planned
    u0 = planned[0]
    other = "0305" if u0.land_class != "0305" else "0404"
    earlier = dataclasses.replace(plan, plan_year=Y - 1, units=tuple(
        dataclasses.replace(u, land_class=other) if u is u0 else u for u in planned), source="")
    write_plan_xlsx(earlier, s.plans / f"{m0.license_no}_{Y - 1}.xlsx")
    p2 = job.load_promises(s, Y)
    h = p2.histories[m0.license_no]
    assert h.years == (Y - 1, Y)
    assert h.unit_of(Y - 1, PLANNED, u0.seq) == h.unit_of(Y, PLANNED, u0.seq)     # the same ground, one id
    changed = [f for f in p2.findings if f.rule == "LEDGER_UNIT_CHANGED"]
    assert [(f.file, f.value) for f in changed] == [(f"{m0.license_no}_{Y}.xlsx", u0.land_class)]
    key2 = {m.license_no: job.result_key(r, p2.plans.get(m.license_no), p2, s, date(Y, 11, 1), [])
            for m in (m0, m1) for r in p2.rights if r.license_no == m.license_no}
    assert key2[m0.license_no] != key[m0.license_no]          # a new filing judges the mine again
    assert key2[m1.license_no] == key[m1.license_no]          # the others are reused

    summary = job.write_run([], s.output_dir, date(Y, 11, 1), Y, p2)
    run = json.loads((s.output_dir / str(date(Y, 11, 1)) / "run_summary.json").read_text(encoding="utf-8"))
    # and this year's restored rows, which last year's plan (planned units only) never planned
    restored = [u for u in plan.units if u.section == "restored"]
    assert sorted(f["rule"] for f in run["ledger_findings"]) == (
        ["LEDGER_RESTORED_NOT_PLANNED"] * len(restored) + ["LEDGER_UNIT_CHANGED"]) and summary["mines"] == 0


def test_a_judged_mine_writes_its_seasons_once_a_failed_one_nothing(tmp_path):
    s = sample_copy(tmp_path)
    p = job.load_promises(s, Y)
    m0 = sample.MINES[0]
    h = p.histories[m0.license_no]
    uid = h.units[0].unit_id
    row = SeasonRow(uid, Y, 0.4321, 0.7, 6, date(Y, 9, 10))
    engine = job.ledger_engine(p.ledger_url)

    def count() -> int:
        with Session(engine) as ses:
            return ses.scalar(select(func.count()).select_from(SeasonObservation)) or 0

    failed = MineResult(m0.license_no, m0.mine_name, error="NO_SCENES", seasons=(row,))
    job.record_mine_seasons(p, failed)
    assert count() == 0
    ok = MineResult(m0.license_no, m0.mine_name, seasons=(row,))
    job.record_mine_seasons(p, ok)
    job.record_mine_seasons(p, ok)                 # a rerun (or a reused result) replaces its row
    assert count() == 1
    assert job.load_promises(s, Y).histories[m0.license_no].unit(uid).season(Y).fvc == 0.4321
