"""The bureau's acceptance list: records tied to units by 标识码 or 拐点坐标, row-level findings."""
from __future__ import annotations

import csv

import openpyxl
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tests.support.ledger_plans import LICENCE, R, unit, write_plans

from minewatch.ledger.acceptance import COLUMNS, claims_without_record, import_acceptance
from minewatch.ledger.ingest import ingest_paths
from minewatch.ledger.schema import AcceptanceRecord
from minewatch.promised.models import RESTORED

HEAD = list(COLUMNS.values())


def _rows() -> list[list[str]]:
    r_text = unit(RESTORED, 1, R).corner_points
    return [
        [LICENCE, f"{LICENCE}-U0003", "", "2026-03-02", "2026-05-20", "合格", "验收(2026)第7号", "6.7223"],
        [LICENCE, "", r_text, "2025-04-01", "2025-06-01", "不合格", "", "6.7228"],
        [LICENCE, "", "", "2025/13/01", "2025-06-01", "通过", "", "六"],
        [LICENCE, f"{LICENCE}-U0999", "", "2026-01-05", "2025-12-01", "合格", "验收(2026)第9号", ""],
    ]


def _ledger(make_ledger, tmp_path):
    engine = make_ledger()
    ingest_paths(engine, [write_plans(tmp_path / "plans")], iou_min=0.5, related_min=0.25, area_tolerance=0.05)
    return engine


def test_csv_records_findings_and_claims(make_ledger, tmp_path):
    engine = _ledger(make_ledger, tmp_path)
    path = tmp_path / "验收清单.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f).writerows([HEAD, *_rows()])
    rep = import_acceptance(engine, path, iou_min=0.5)
    assert [(r.row, r.unit_id, r.result, r.area_hm2) for r in rep.records] == [
        (2, f"{LICENCE}-U0003", "合格", 6.7223), (3, f"{LICENCE}-U0001", "不合格", 6.7228),   # by 拐点坐标
        (4, None, "通过", None), (5, None, "合格", None)]
    assert [(f.row, f.rule) for f in rep.findings] == [
        (4, "ACCEPTANCE_BAD_DATE"), (4, "ACCEPTANCE_BAD_RESULT"), (4, "ACCEPTANCE_BAD_AREA"),
        (4, "ACCEPTANCE_NO_UNIT"), (5, "ACCEPTANCE_DATE_ORDER"), (5, "ACCEPTANCE_UNKNOWN_UNIT")]
    import_acceptance(engine, path, iou_min=0.5)            # again: replaced, not added
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(AcceptanceRecord)) == 4
    # 2025 reported U0001 accepted, the list says 不合格; 2026's claim for U0003 has its certificate
    claims = claims_without_record(engine)
    assert [(f.rule, f.file, f.value) for f in claims] == [
        ("ACCEPTANCE_CLAIM_WITHOUT_RECORD", f"{LICENCE}_2025.xlsx", "是")]
    assert f"{LICENCE}-U0001" in claims[0].message_zh


def test_xlsx_reads_like_csv_and_a_missing_column_is_named(make_ledger, tmp_path):
    engine = _ledger(make_ledger, tmp_path)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append([h for h in HEAD if h != "验收结果"])
    for r in _rows()[:2]:
        ws.append([v for h, v in zip(HEAD, r) if h != "验收结果"])
    wb.save(tmp_path / "list.xlsx")
    rep = import_acceptance(engine, tmp_path / "list.xlsx", iou_min=0.5)
    assert [(r.row, r.unit_id) for r in rep.records] == [(2, f"{LICENCE}-U0003"), (3, f"{LICENCE}-U0001")]
    assert [(f.row, f.rule, f.field) for f in rep.findings][:1] == [(1, "ACCEPTANCE_MISSING_COLUMN", "验收结果")]


def test_acceptance_files_of_a_folder(tmp_path):
    from minewatch.ledger.acceptance import acceptance_files

    for name in ("b.xlsx", "a.csv", "~$b.xlsx", "notes.txt", ".hidden.csv"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    assert [p.name for p in acceptance_files(tmp_path)] == ["a.csv", "b.xlsx"]
    assert acceptance_files(tmp_path / "a.csv") == [tmp_path / "a.csv"]
