"""Reading the ledger back: a canonical dump (to compare two ledgers) and a unit's timeline.

The dump names rows by what they mean (mining right, year, section, 序号), never by the
database's own counters, so two ledgers built from the same files compare equal whichever
backend holds them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from minewatch.labels import LEDGER_MATCH_ZH, SECTION_ZH
from minewatch.ledger.schema import (
    AcceptanceRecord,
    LedgerUnit,
    Licence,
    MatchRecord,
    Mention,
    PlanFiling,
    SeasonObservation,
)
from minewatch.promised.models import SECTIONS

__all__ = ["dump", "TimelineRow", "timeline", "format_timeline"]


def _plain(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.hex()
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


def _row(obj: Any, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    return {c.key: _plain(getattr(obj, c.key)) for c in obj.__table__.columns if c.key not in drop}


def dump(engine: Engine) -> str:
    """Every row of every table, one JSON object a line, in a fixed order."""
    lines: list[str] = []

    def put(table: str, row: dict[str, Any]) -> None:
        lines.append(json.dumps({"table": table, **row}, ensure_ascii=False, sort_keys=True))

    with Session(engine) as s:
        filings = {f.id: f for f in s.scalars(select(PlanFiling))}
        for lic in s.scalars(select(Licence).order_by(Licence.license_no)):
            put("licences", _row(lic))
        for f in sorted(filings.values(), key=lambda f: (f.license_no, f.plan_year)):
            put("plan_filings", _row(f, ("id",)))
        for u in s.scalars(select(LedgerUnit).order_by(LedgerUnit.unit_id)):
            put("units", _row(u))
        matches = {r.mention_id: r for r in s.scalars(select(MatchRecord))}
        mentions = sorted(s.scalars(select(Mention)), key=lambda m: (
            filings[m.filing_id].license_no, m.plan_year, SECTIONS.index(m.section), m.seq))
        for m in mentions:
            f = filings[m.filing_id]
            put("mentions", {**_row(m, ("id", "filing_id")), "license_no": f.license_no, "file": f.file})
            put("match_records", {**_row(matches[m.id], ("mention_id",)), "license_no": f.license_no,
                                  "plan_year": m.plan_year, "section": m.section, "seq": m.seq})
        for a in s.scalars(select(AcceptanceRecord).order_by(AcceptanceRecord.file, AcceptanceRecord.row)):
            put("acceptance_records", _row(a, ("id",)))
        for o in s.scalars(select(SeasonObservation).order_by(SeasonObservation.unit_id,
                                                              SeasonObservation.season_year)):
            put("season_observations", _row(o, ("id",)))
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class TimelineRow:
    unit_id: str
    plan_year: int
    section: str
    seq: int
    land_class: str
    area_hm2: float | None
    is_temporary: bool
    accepted: bool | None
    method: str
    iou: float | None
    candidates: str
    file: str


def timeline(engine: Engine, license_no: str) -> list[TimelineRow]:
    """Every mention of every unit of one mining right: unit by unit, year by year."""
    with Session(engine) as s:
        q = (select(Mention, MatchRecord, PlanFiling).join(MatchRecord, MatchRecord.mention_id == Mention.id)
             .join(PlanFiling, PlanFiling.id == Mention.filing_id).where(PlanFiling.license_no == license_no))
        rows = [TimelineRow(m.unit_id, m.plan_year, m.section, m.seq, m.land_class, m.area_hm2, m.is_temporary,
                            m.accepted, r.method, r.iou, r.candidates, f.file) for m, r, f in s.execute(q)]
    return sorted(rows, key=lambda t: (t.unit_id, t.plan_year, SECTIONS.index(t.section), t.seq))


def _yes_no(v: bool | None) -> str:
    return "是" if v else ("否" if v is False else "—")


def format_timeline(license_no: str, rows: list[TimelineRow]) -> str:
    """The terminal view: a block per unit, a line per plan row (Chinese, English codes in brackets)."""
    if not rows:
        return f"台账中无采矿权 {license_no} 的单元 (no units in the ledger for {license_no})"
    units = sorted({r.unit_id for r in rows})
    out = [f"采矿权 {license_no}: {len(units)} 个单元 units, {len(rows)} 条计划记录 plan rows"]
    for uid in units:
        out.append(f"单元 unit {uid}")
        for r in (r for r in rows if r.unit_id == uid):
            area = "—" if r.area_hm2 is None else f"{r.area_hm2:.4f} hm²"
            how = LEDGER_MATCH_ZH[r.method] + f" ({r.method}"
            how += "" if r.iou is None else f", IoU {r.iou:.4f}"
            how += f", 候选 candidates {r.candidates})" if r.candidates else ")"
            out.append(f"  {r.plan_year}年度 {SECTION_ZH[r.section]} ({r.section}) 第{r.seq}号"
                       f"  地类 {r.land_class or '—'}  面积 {area}  临时用地 {_yes_no(r.is_temporary)}"
                       f"  完成验收 {_yes_no(r.accepted)}  {how}  [{r.file}]")
    return "\n".join(out)
