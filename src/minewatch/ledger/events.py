"""A unit's life as events: every plan row that mentions it, every acceptance record tied to
it and every season observed on it, and the lifecycle state they add up to.

Lifecycle states (labels.UNIT_STATE_ZH), judged at a date:
- ``in_management`` 管护期内: a 合格 acceptance record, accepted within ``management_years``;
- ``accepted`` 已验收: a 合格 record whose management period is over (or has no date);
- otherwise the latest plan year's mentions: ``restored`` when one reports it restored,
  ``planned`` when one plans it, ``damaged`` when it is only listed as damaged.
A plan's own 是否完成验收 = 是 does not make a unit accepted: only the bureau's record does
(a claim without a record is the finding ACCEPTANCE_CLAIM_WITHOUT_RECORD).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Iterable, Mapping

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from minewatch.labels import UNIT_STATE_ZH
from minewatch.ledger.matching import MERGE, SPLIT
from minewatch.ledger.schema import AcceptanceRecord, LedgerUnit, MatchRecord, Mention, PlanFiling, SeasonObservation
from minewatch.promised.models import PLANNED, RESTORED, SECTIONS

__all__ = ["MENTION", "ACCEPTANCE", "SEASON", "KINDS", "STATES", "UnitEvent", "unit_events", "unit_states",
           "unit_ids_by_row", "target_land_classes", "superseded_units", "known_at", "format_events"]

MENTION, ACCEPTANCE, SEASON = "mention", "acceptance", "season"
KINDS = (MENTION, ACCEPTANCE, SEASON)
STATES = ("damaged", "planned", "restored", "accepted", "in_management")


@dataclass(frozen=True)
class UnitEvent:
    license_no: str
    unit_id: str
    kind: str                         # mention | acceptance | season
    year: int                         # plan year, acceptance (else application) year, season year
    section: str = ""                 # mention: restored | damage | planned
    seq: int | None = None            # mention: 序号
    land_class: str = ""
    area_hm2: float | None = None     # mention: declared; acceptance: accepted area
    accepted: bool | None = None      # mention: 是否完成验收 as the plan says
    applied_on: date | None = None    # acceptance
    accepted_on: date | None = None
    result: str = ""                  # acceptance: 合格 | 不合格
    certificate_no: str = ""
    fvc: float | None = None          # season: median over clear dates
    reference_fvc: float | None = None
    clear_obs: int | None = None
    observed_to: date | None = None
    file: str = ""
    row: int | None = None

    def order(self) -> tuple:
        return (self.unit_id, self.year, KINDS.index(self.kind),
                SECTIONS.index(self.section) if self.section else -1, self.seq or 0, self.file, self.row or 0)


def unit_events(engine: Engine, license_nos: Iterable[str] | None = None) -> list[UnitEvent]:
    """Every event of the units of ``license_nos`` (all mining rights when None), unit by unit, in time order."""
    lics = None if license_nos is None else sorted(set(license_nos))
    out: list[UnitEvent] = []
    with Session(engine) as s:
        q = select(Mention, PlanFiling.license_no, PlanFiling.file).join(PlanFiling,
                                                                        PlanFiling.id == Mention.filing_id)
        if lics is not None:
            q = q.where(PlanFiling.license_no.in_(lics))
        for m, lic, file in s.execute(q):
            out.append(UnitEvent(lic, m.unit_id, MENTION, m.plan_year, section=m.section, seq=m.seq,
                                 land_class=m.land_class, area_hm2=m.area_hm2, accepted=m.accepted,
                                 file=file, row=m.row))
        qa = select(AcceptanceRecord).where(AcceptanceRecord.unit_id.is_not(None))
        if lics is not None:
            qa = qa.where(AcceptanceRecord.license_no.in_(lics))
        for a in s.scalars(qa):
            when = a.accepted_on or a.applied_on
            assert a.unit_id is not None
            out.append(UnitEvent(a.license_no, a.unit_id, ACCEPTANCE, when.year if when else 0,
                                 area_hm2=a.area_hm2, applied_on=a.applied_on, accepted_on=a.accepted_on,
                                 result=a.result, certificate_no=a.certificate_no, file=a.file, row=a.row))
        qs = select(SeasonObservation, LedgerUnit.license_no).join(LedgerUnit,
                                                                   LedgerUnit.unit_id == SeasonObservation.unit_id)
        if lics is not None:
            qs = qs.where(LedgerUnit.license_no.in_(lics))
        for o, lic in s.execute(qs):
            out.append(UnitEvent(lic, o.unit_id, SEASON, o.season_year, fvc=o.fvc, reference_fvc=o.reference_fvc,
                                 clear_obs=o.clear_obs, observed_to=o.observed_to))
    return sorted(out, key=UnitEvent.order)


def superseded_units(engine: Engine, up_to_year: int | None = None) -> set[str]:
    """Units later plan rows (of plans up to ``up_to_year``) were reported split from or merged
    into: their ground is now those rows' units, so counting both would count it twice."""
    with Session(engine) as s:
        q = (select(MatchRecord.candidates).join(Mention, Mention.id == MatchRecord.mention_id)
             .where(MatchRecord.method.in_((SPLIT, MERGE))))
        if up_to_year is not None:
            q = q.where(Mention.plan_year <= up_to_year)
        return {u for c in s.scalars(q) for u in c.split(",") if u}


def known_at(events: Iterable[UnitEvent], as_of: date) -> list[UnitEvent]:
    """What was known on ``as_of``: plans and seasons up to its year, acceptance records dated by then
    (a night re-run for an earlier date sees the ledger as it was)."""
    def known(e: UnitEvent) -> bool:
        if e.kind == ACCEPTANCE:
            when = e.accepted_on or e.applied_on
            return when is not None and when <= as_of
        return e.year <= as_of.year
    return [e for e in events if known(e)]


def _add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:          # 29 February
        return d.replace(year=d.year + years, day=28)


def unit_states(events: Iterable[UnitEvent], as_of: date, management_years: int) -> dict[str, str]:
    """unit id -> its lifecycle state at ``as_of`` (STATES; the module's docstring says how)."""
    by_unit: dict[str, list[UnitEvent]] = {}
    for e in events:
        by_unit.setdefault(e.unit_id, []).append(e)
    out: dict[str, str] = {}
    for uid, evs in sorted(by_unit.items()):
        passed = [e for e in evs if e.kind == ACCEPTANCE and e.result == "合格"]
        if passed:
            dates = [e.accepted_on for e in passed if e.accepted_on is not None]
            last = max(dates) if dates else None
            managed = last is not None and last <= as_of <= _add_years(last, management_years)
            out[uid] = "in_management" if managed else "accepted"
            continue
        mentions = [e for e in evs if e.kind == MENTION]
        if not mentions:
            continue
        latest = max(e.year for e in mentions)
        sections = {e.section for e in mentions if e.year == latest}
        out[uid] = "restored" if RESTORED in sections else "planned" if PLANNED in sections else "damaged"
    return out


def unit_ids_by_row(events: Iterable[UnitEvent]) -> dict[tuple[str, int, str, int], str]:
    """(licence, plan year, section, 序号) -> unit id, for every plan row the ledger holds."""
    return {(e.license_no, e.year, e.section, e.seq): e.unit_id for e in events
            if e.kind == MENTION and e.seq is not None}


def target_land_classes(events: Iterable[UnitEvent]) -> dict[str, str]:
    """unit id -> the land class its latest mention names (the target its seasons are judged by)."""
    out: dict[str, str] = {}
    for e in sorted((e for e in events if e.kind == MENTION and e.land_class), key=UnitEvent.order):
        out[e.unit_id] = e.land_class
    return out


def _num(v: float | None) -> str:
    return "—" if v is None else f"{v:.4f}"


def format_events(events: list[UnitEvent], states: Mapping[str, str],
                  thresholds: Mapping[str, float] | None = None) -> str:
    """The terminal view of what the plan rows do not show: each unit's lifecycle state, its
    acceptance records and its seasons with the FVC minimum they are judged by (``thresholds``:
    unit id -> minimum)."""
    thresholds = thresholds or {}
    out = ["验收与生长季观测 acceptance records and seasons observed"]
    for uid in sorted({e.unit_id for e in events}):
        st = states.get(uid)
        out.append(f"单元 unit {uid}  状态 {UNIT_STATE_ZH.get(st, '—') if st else '—'} ({st or '-'})")
        for e in (e for e in events if e.unit_id == uid):
            if e.kind == ACCEPTANCE:
                out.append(f"  验收 acceptance  申请 {e.applied_on or '—'}  验收 {e.accepted_on or '—'}  "
                           f"结果 {e.result or '—'}  确认书 {e.certificate_no or '—'}  面积 {_num(e.area_hm2)} hm²"
                           f"  [{e.file} 第{e.row}行]")
            elif e.kind == SEASON:
                lim = thresholds.get(uid)
                verdict = "" if lim is None or e.fvc is None else ("  达标 meets" if e.fvc >= lim else "  未达标 below")
                out.append(f"  {e.year}年生长季 season  植被覆盖度 FVC {_num(e.fvc)}  阈值 threshold {_num(lim)}"
                           f"  对照 reference {_num(e.reference_fvc)}  晴空 clear {e.clear_obs}{verdict}")
    return "\n".join(out)
