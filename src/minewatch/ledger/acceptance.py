"""验收: the county bureau's acceptance list (CSV or .xlsx) into the ledger, with row-level findings.

Columns (header row 1): 采矿权证证号, 单元标识码 or 拐点坐标 (one is needed to find the unit),
申请日期, 验收日期, 验收结果 (合格/不合格), 验收合格确认书编号, 验收面积(hm²). A row is kept
with whatever could be read; each problem is a finding on its cell. Importing a file again
replaces that file's rows, so the ledger never holds a row twice. A plan row claiming
acceptance (是否完成验收 = 是) for a unit no 合格 record covers is a finding too.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from minewatch.ledger.ingest import known_units
from minewatch.ledger.matching import iou
from minewatch.ledger.schema import AcceptanceRecord, LedgerUnit, Mention, PlanFiling
from minewatch.promised.coords import CoordinateError, parse_corner_points
from minewatch.promised.findings import ERROR, WARNING, Finding
from minewatch.promised.models import RESTORED
from minewatch.promised.table import cell_text

__all__ = ["COLUMNS", "RULE_PREFIX", "AcceptanceReport", "acceptance_files", "read_acceptance", "import_acceptance",
           "claims_without_record"]

# field -> the header as the bureau writes it
COLUMNS = {
    "license_no": "采矿权证证号", "unit_ref": "单元标识码", "corner_points": "拐点坐标",
    "applied_on": "申请日期", "accepted_on": "验收日期", "result": "验收结果",
    "certificate_no": "验收合格确认书编号", "area_hm2": "验收面积(hm²)",
}
RESULTS = ("合格", "不合格")
RULE_PREFIX = "ACCEPTANCE_"      # every finding about an acceptance list or claim


@dataclass
class AcceptanceReport:
    records: list[AcceptanceRecord] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def acceptance_files(path: str | Path) -> list[Path]:
    """The lists under ``path``: the file itself, or a folder's .csv/.xlsx files (name order;
    Excel's ``~$`` lock files left out)."""
    path = Path(path)
    if path.is_file():
        return [path]
    return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in (".csv", ".xlsx")
                  and not p.name.startswith(("~$", ".")))


def _rows(path: Path) -> list[dict[str, Any]]:
    if path.suffix.lower() == ".csv":
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        return df.to_dict("records")
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:   # a read-only workbook keeps its file open until closed
        it = wb.worksheets[0].iter_rows(values_only=True)
        head = [cell_text(h).strip() for h in next(it, ())]
        return [dict(zip(head, r)) for r in it if any(v not in (None, "") for v in r)]
    finally:
        wb.close()


def _date(v: Any) -> date:
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    return date.fromisoformat(cell_text(v).strip().replace("/", "-"))


def read_acceptance(engine: Engine, path: str | Path, *, iou_min: float) -> AcceptanceReport:
    """The records of one file, each tied to its unit where it can be; nothing is written."""
    path = Path(path)
    rep = AcceptanceReport()
    rows = _rows(path)
    missing = [h for k, h in COLUMNS.items() if k not in ("unit_ref", "corner_points")
               and rows and h not in rows[0]]
    with Session(engine) as s:
        for i, raw in enumerate(rows, start=2):
            def bad(fld: str, rule: str, msg: str, severity: str = ERROR, i: int = i,
                    raw: dict[str, Any] = raw) -> None:
                rep.findings.append(Finding(file=path.name, sheet="", row=i, field=COLUMNS[fld],
                                            value=cell_text(raw.get(COLUMNS[fld])), rule=f"ACCEPTANCE_{rule}",
                                            severity=severity, message_zh=msg))
            text = {k: cell_text(raw.get(h)).strip() for k, h in COLUMNS.items()}
            rec = AcceptanceRecord(license_no=text["license_no"], unit_ref=text["unit_ref"],
                                   corner_points=text["corner_points"], result=text["result"],
                                   certificate_no=text["certificate_no"], file=path.name, row=i)
            for k in ("applied_on", "accepted_on"):
                if text[k]:
                    try:
                        setattr(rec, k, _date(raw.get(COLUMNS[k])))
                    except ValueError:
                        bad(k, "BAD_DATE", "日期无法识别，应为YYYY-MM-DD")
            if rec.applied_on and rec.accepted_on and rec.accepted_on < rec.applied_on:
                bad("accepted_on", "DATE_ORDER", "验收日期早于申请日期")
            if text["result"] and text["result"] not in RESULTS:
                bad("result", "BAD_RESULT", "验收结果应为“合格”或“不合格”")
            if text["result"] == "合格" and not text["certificate_no"]:
                bad("certificate_no", "NO_CERTIFICATE", "验收合格但未填验收合格确认书编号")
            if text["area_hm2"]:
                try:
                    rec.area_hm2 = round(float(text["area_hm2"]), 4)
                except ValueError:
                    bad("area_hm2", "BAD_AREA", "验收面积不是数字")
            if not text["license_no"]:
                bad("license_no", "NO_LICENCE", "未填采矿权证证号")
            rec.unit_id = _unit_of(s, rec, iou_min, bad)
            rep.records.append(rec)
    for h in missing:
        rep.findings.insert(0, Finding(file=path.name, sheet="", row=1, field=h, value="",
                                       rule="ACCEPTANCE_MISSING_COLUMN", severity=ERROR,
                                       message_zh=f"验收清单缺少“{h}”列"))
    return rep


def _unit_of(s: Session, rec: AcceptanceRecord, iou_min: float, bad: Any) -> str | None:
    """The ledger unit a record is about: its 标识码, else its 拐点坐标 matched by IoU."""
    if rec.unit_ref:
        u = s.get(LedgerUnit, rec.unit_ref)
        if u is None or u.license_no != rec.license_no:
            bad("unit_ref", "UNKNOWN_UNIT", "台账中该采矿权无此单元标识码")
            return None
        return u.unit_id
    if not rec.corner_points:
        bad("unit_ref", "NO_UNIT", "单元标识码与拐点坐标均未填写，无法对应修复单元")
        return None
    try:
        g = parse_corner_points(rec.corner_points)
    except CoordinateError as e:
        bad("corner_points", "BAD_CORNER_POINTS", f"拐点坐标无法解析：{e}")
        return None
    best = max(((iou(g, k.geometry), k.unit_id) for k in known_units(s, rec.license_no)), default=(0.0, ""))
    if best[0] < iou_min:
        bad("corner_points", "NO_MATCHING_UNIT", f"拐点坐标与台账中任何单元均不重合(最大IoU={best[0]:.4f})",
            WARNING)
        return None
    return best[1]


def import_acceptance(engine: Engine, path: str | Path, *, iou_min: float) -> AcceptanceReport:
    """Read one file and replace its rows in the ledger (one transaction)."""
    rep = read_acceptance(engine, path, iou_min=iou_min)
    with Session(engine, expire_on_commit=False) as s, s.begin():    # the report's records stay readable
        s.execute(delete(AcceptanceRecord).where(AcceptanceRecord.file == Path(path).name))
        s.add_all(rep.records)
    return rep


def claims_without_record(engine: Engine) -> list[Finding]:
    """Plan rows reporting a unit accepted (是否完成验收 = 是) that no 合格 record covers."""
    with Session(engine) as s:
        passed = set(s.scalars(select(AcceptanceRecord.unit_id).where(AcceptanceRecord.result == "合格")))
        q = (select(Mention, PlanFiling.file).join(PlanFiling, PlanFiling.id == Mention.filing_id)
             .where(Mention.section == RESTORED, Mention.accepted.is_(True)))
        out = [Finding(file=file, sheet="", row=m.row, field="是否完成验收", value="是",
                       rule="ACCEPTANCE_CLAIM_WITHOUT_RECORD", severity=WARNING,
                       message_zh=f"{m.plan_year}年度计划申报单元{m.unit_id}已完成验收，但验收清单中无其合格记录")
               for m, file in s.execute(q) if m.unit_id not in passed]
    return sorted(out, key=lambda f: (f.file, f.row or 0))
