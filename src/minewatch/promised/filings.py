"""Which filing counts when a holder filed more than one plan for the same licence and year.

The regulation's logic: a holder may correct a filed plan, and the bureau keeps the one it
received last, so a later filing supersedes an earlier one. The order, latest first:

1. the receipt date (``plan.submitted``: the machine format's own date, else receipts.csv);
   a filing with no date counts as received before every dated one;
2. a file name that marks a revision (修订, 更正, 修改, 变更, 补正, 重报, revised, revision,
   rev, v2 ...) over one that does not, a higher revision number over a lower one;
3. the file name, the later in sort order (``_2`` after ``_1``), so the choice never
   depends on the order the folder lists files in.

Every other filing of that licence and year gets a ``PLAN_SUPERSEDED`` warning naming the
filing that replaced it: it stays in the plan-check report, but its data no longer make
anomalies (so one licence and year gives one set of ids). Files that gave no plan are not
filings here (they are ``PLAN_UNREADABLE`` in the night).
"""
from __future__ import annotations

import dataclasses
import re
from datetime import date
from pathlib import Path
from typing import Iterable

from minewatch.promised.findings import WARNING, Finding
from minewatch.promised.planreader import PlanReadResult

__all__ = ["SUPERSEDED", "mark_superseded", "is_superseded", "filing_rank"]

SUPERSEDED = "PLAN_SUPERSEDED"
_REVISION = re.compile(r"(?:修订|更正|修改|变更|补正|重报|revised|revision|rev)[\s_\-.]*(\d*)|(?<![a-z])v(\d+)",
                       re.IGNORECASE)


def _revision(name: str) -> tuple[int, int]:
    """(1 if the name marks a revision else 0, the highest revision number it gives)."""
    marks = _REVISION.findall(Path(name).stem)
    if not marks:
        return (0, 0)
    return (1, max(int(a or b or 1) for a, b in marks))


def filing_rank(res: PlanReadResult) -> tuple[date, tuple[int, int], str]:
    """Sort key of one filing: the larger, the later (the one that counts)."""
    name = Path(res.file).name
    received = res.plan.submitted if res.plan is not None and res.plan.submitted else date.min
    return (received, _revision(name), name)


def is_superseded(res: PlanReadResult) -> bool:
    return any(f.rule == SUPERSEDED for f in res.findings)


def mark_superseded(results: Iterable[PlanReadResult]) -> list[PlanReadResult]:
    """The results in their order, each filing that a later one replaced carrying a
    ``PLAN_SUPERSEDED`` warning (the inputs are not modified)."""
    results = list(results)
    groups: dict[tuple[str, int], list[int]] = {}
    for i, r in enumerate(results):
        if r.plan is not None:
            groups.setdefault((r.plan.license_no, r.plan.plan_year), []).append(i)
    out = list(results)
    for (lic, year), idx in groups.items():
        if len(idx) < 2:
            continue
        ranked = sorted(idx, key=lambda i: filing_rank(results[i]))
        winner = results[ranked[-1]]
        win_name = Path(winner.file).name
        win_date = winner.plan.submitted.isoformat() if winner.plan.submitted else "未登记"
        for i in ranked[:-1]:
            r = results[i]
            name = Path(r.file).name
            got = r.plan.submitted.isoformat() if r.plan.submitted else "未登记"
            note = Finding(file=name, sheet=r.sheet, row=None, field="", value=name, rule=SUPERSEDED,
                           severity=WARNING,
                           message_zh=f"{lic} {year}年度另有报送 {win_name} (收到日期{win_date}), 本文件"
                                      f"(收到日期{got})已被取代, 不再据以核查 / superseded by {win_name}")
            out[i] = dataclasses.replace(r, findings=[*r.findings, note])
    return out
