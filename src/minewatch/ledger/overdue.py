"""Acceptance applications the bureau has not answered in time (60 working days, 验收时限).

The regulation gives the bureau 60 working days from an application (申请日期) to its
acceptance. Working days here are Monday to Friday minus the configured public holidays
(``ledger.holidays``); the makeup Saturdays of the State Council's holiday notice (调休) are
not modelled, so a count can be a day or two off: the list is approximate and says so.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from itertools import islice, takewhile
from typing import Iterable, Iterator

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from minewatch.ledger.schema import AcceptanceRecord

__all__ = ["OverdueApplication", "working_days_after", "due_date", "overdue_applications",
           "format_overdue"]


def _working_days(start: date, holidays: Iterable[date]) -> Iterator[date]:
    """The working days after ``start``, in order, without end."""
    hol = frozenset(holidays)
    d = start
    while True:
        d += timedelta(days=1)
        if d.weekday() < 5 and d not in hol:
            yield d


def working_days_after(start: date, end: date, holidays: Iterable[date] = ()) -> int:
    """Working days in (start, end]: the application day itself does not count."""
    return sum(1 for _ in takewhile(lambda d: d <= end, _working_days(start, holidays)))


def due_date(applied_on: date, working_days: int, holidays: Iterable[date] = ()) -> date:
    """The last day the bureau has: the ``working_days``-th working day after the application."""
    return next(islice(_working_days(applied_on, holidays), working_days - 1, None))


@dataclass(frozen=True)
class OverdueApplication:
    license_no: str
    unit_id: str | None
    unit_ref: str
    applied_on: date
    due_on: date
    working_days: int        # working days since the application, at the run date
    file: str
    row: int


def overdue_applications(engine: Engine, as_of: date, *, working_days: int,
                         holidays: Iterable[date] = ()) -> list[OverdueApplication]:
    """Applications (申请日期 set, no 验收日期) past their due date at ``as_of``, by licence and date."""
    hol = frozenset(holidays)
    with Session(engine) as s:
        q = select(AcceptanceRecord).where(AcceptanceRecord.applied_on.is_not(None),
                                           AcceptanceRecord.accepted_on.is_(None))
        recs = list(s.scalars(q))
    out = []
    for r in recs:
        assert r.applied_on is not None      # the query's condition
        due = due_date(r.applied_on, working_days, hol)
        if as_of > due:
            out.append(OverdueApplication(r.license_no, r.unit_id, r.unit_ref, r.applied_on, due,
                                          working_days_after(r.applied_on, as_of, hol), r.file, r.row))
    return sorted(out, key=lambda o: (o.license_no, o.applied_on, o.file, o.row))


def format_overdue(late: list[OverdueApplication], as_of: date, working_days: int) -> str:
    """The terminal view: one line per overdue application (Chinese, English in brackets)."""
    head = (f"逾期未验收的申请 overdue acceptance applications ({working_days}个工作日 working days, "
            f"截至 as of {as_of.isoformat()}, 按周一至周五扣除节假日估算 approximate): {len(late)}")
    lines = [head]
    for o in late:
        lines.append(f"  单元 unit {o.unit_id or o.unit_ref or '—'}  申请日期 {o.applied_on.isoformat()}  "
                     f"应于 due {o.due_on.isoformat()}  已过 {o.working_days} 个工作日  [{o.file} 第{o.row}行]")
    return "\n".join(lines)
