"""acceptance_overdue.csv: acceptance applications the bureau has not answered within the
regulation's working days (minewatch.ledger.overdue), for the bureau to chase.

Like spot_check.csv: UTF-8 with a BOM, one header row of ``key|中文`` cells, text a
spreadsheet would run as a formula quoted (:mod:`minewatch.plumbing.cells`). The working
days are Monday-Friday minus ``ledger.holidays``: approximate (no makeup Saturdays).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from minewatch.ledger.overdue import OverdueApplication
from minewatch.plumbing.atomic import write_text
from minewatch.plumbing.cells import spreadsheet_safe_frame

__all__ = ["COLUMNS", "overdue_frame", "write_acceptance_overdue"]

COLUMNS: tuple[tuple[str, str], ...] = (
    ("license_no", "采矿权证证号"), ("mine_name", "矿山名称"), ("unit_id", "单元标识码"),
    ("unit_ref", "清单所填单元"), ("applied_on", "申请日期"), ("due_on", "应验收截止日期"),
    ("working_days", "已过工作日数"), ("file", "验收清单文件"), ("row", "行号"),
)


def overdue_frame(late: list[OverdueApplication], mine_names: dict[str, str]) -> pd.DataFrame:
    rows = [{"license_no": o.license_no, "mine_name": mine_names.get(o.license_no, ""), "unit_id": o.unit_id or "",
             "unit_ref": o.unit_ref, "applied_on": o.applied_on.isoformat(), "due_on": o.due_on.isoformat(),
             "working_days": o.working_days, "file": o.file, "row": o.row} for o in late]
    return pd.DataFrame(rows, columns=[k for k, _ in COLUMNS])


def write_acceptance_overdue(late: list[OverdueApplication], mine_names: dict[str, str], path: str | Path) -> Path:
    out = spreadsheet_safe_frame(overdue_frame(late, mine_names))   # names and refs are other people's text
    out.columns = [f"{k}|{zh}" for k, zh in COLUMNS]
    return write_text(path, "\ufeff" + out.to_csv(index=False, lineterminator="\n"))
