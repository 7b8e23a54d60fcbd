"""minewatch.promised.planreader: read back what the writer wrote, read what companies actually file;
property tests: damaged files end in findings or PlanFormatError, round trips hold."""
from __future__ import annotations

import dataclasses
import io
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from minewatch.assess.planchecks import plan_anomalies
from minewatch.promised.coords import area_hm2, format_corner_points, parse_corner_points
from minewatch.promised.findings import Finding, format_finding
from minewatch.promised.models import DAMAGE, PLANNED, RESTORED, Unit
from minewatch.promised.package import PlanFormatError
from minewatch.promised.planreader import PlanReadResult, read_plan_xlsx, read_plans
from minewatch.promised.planwriter import write_plan_xlsx
from minewatch.promised.table import is_placeholder
from minewatch.promised.validate import validate_plan
from minewatch.synth import sample

FW = str.maketrans("0123456789.,", "０１２３４５６７８９．，")


def test_round_trip(plan, tmp_path, as_tabled):
    path = write_plan_xlsx(plan, tmp_path / "p.xlsx")
    res = read_plan_xlsx(path)
    assert isinstance(res, PlanReadResult)
    assert [f for f in res.findings if f.severity == "error"] == []
    assert res.plan.source == str(path)
    assert all(u.row for u in res.plan.units)
    assert as_tabled(res.plan) == plan


def _damage(path: Path) -> None:
    """What companies do to the form: full-width digits, blank rows, '……' rows, units in areas."""
    wb = load_workbook(path)
    ws = wb.active
    ws["A1"].value = "２０２６年度矿区生态修复情况表"

    def insert_row(idx: int) -> None:
        ws.insert_rows(idx)
        for mr in ws.merged_cells.ranges:  # openpyxl does not move merged ranges
            if mr.min_row >= idx:
                mr.shift(0, 1)

    header = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 4).value == "修复后地类")
    first = header + 1
    # restored row 1: full-width seq and coordinates, area with unit, √ for 是
    ws.cell(first, 1).value = "１"
    ws.cell(first, 2).value = ws.cell(first, 2).value.translate(FW)
    ws.cell(first, 5).value = f"{ws.cell(first, 5).value:.4f} hm²"
    ws.cell(first, 7).value = "√"
    ws.cell(first + 1, 5).value = f"{ws.cell(first + 1, 5).value:.4f}公顷"
    ws.cell(first + 1, 3).value = "Y"
    insert_row(first + 1)  # a blank row between the units
    insert_row(first + 3)  # a "……" row after them
    ws.cell(first + 3, 1).value = "……"
    # planned: "0301乔木林地" without space, full-width area
    ph = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 4).value == "目标地类")
    ws.cell(ph + 1, 4).value = "0301乔木林地"
    ws.cell(ph + 1, 5).value = f"{ws.cell(ph + 1, 5).value:.4f}".translate(FW)
    ws.cell(ph + 2, 3).value = "是"
    # fee as text with unit
    fee = next(r for r in range(1, ws.max_row + 1) if str(ws.cell(r, 1).value).endswith("实际提取金额"))
    ws.cell(fee, 4).value = "１２．３４５６万元"
    wb.save(path)


def test_messy_variant_still_reads(plan, tmp_path, as_tabled):
    path = write_plan_xlsx(plan, tmp_path / "messy.xlsx")
    _damage(path)
    res = read_plan_xlsx(path)
    assert [format_finding(f) for f in res.findings if f.severity == "error"] == []
    got = as_tabled(res.plan)
    assert got.plan_year == 2026
    assert got.fees_last_year_drawn == 12.3456
    assert len(got.units) == len(plan.units)
    for a, b in zip(got.units, plan.units):
        assert a.geometry.equals_exact(b.geometry, tolerance=1e-9)
        assert dataclasses.replace(a, corner_points="", geometry=None) == \
            dataclasses.replace(b, corner_points="", geometry=None)


def test_bad_land_class_gives_finding_with_row_and_field(plan, tmp_path):
    path = write_plan_xlsx(plan, tmp_path / "bad.xlsx")
    wb = load_workbook(path)
    ws = wb.active
    r = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 4).value == "0305 灌木林地")
    ws.cell(r, 4).value = "草坪"
    wb.save(path)
    res = read_plan_xlsx(path)
    bad = [f for f in res.findings if f.rule == "UNKNOWN_LAND_CLASS"]
    assert len(bad) == 1
    f = bad[0]
    assert (f.file, f.row, f.field, f.value, f.severity) == ("bad.xlsx", r, "修复后地类", "草坪", "error")
    assert f.sheet == ws.title
    line = format_finding(f)
    assert "UNKNOWN_LAND_CLASS" in line and f"第{r}行" in line and "草坪" in line
    # the bad row is left out, the good rows of the file still come through
    assert len(res.plan.units) == len(plan.units) - 1
    assert all(u.row != r for u in res.plan.units)


def test_cell_level_problems(plan, tmp_path):
    path = write_plan_xlsx(plan, tmp_path / "cells.xlsx")
    wb = load_workbook(path)
    ws = wb.active
    ph = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 4).value == "目标地类")
    ws.cell(ph + 1, 2).value = "1,39517300.87,4329624.67\n2,39517400.87,4329624.67\n3,39517400.87,4329524.67"
    ws.cell(ph + 2, 4).value = "耕地"
    ws.cell(ph + 2, 5).value = "约两公顷"
    dh = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 4).value == "问题类型")
    ws.cell(dh + 1, 4).value = "挖损"
    ws.cell(dh + 1, 5).value = 404  # not a land class column: area as plain number is fine
    wb.save(path)
    res = read_plan_xlsx(path)
    rules = {(f.row, f.rule) for f in res.findings}
    assert (ph + 1, "BAD_CORNER_POINTS") in rules
    assert (ph + 2, "LAND_CLASS_NOT_SPECIFIC") in rules
    assert (ph + 2, "BAD_AREA") in rules
    assert (dh + 1, "AREA_MISMATCH") in rules  # declared 404 hm² vs ~5.8 from the 拐点坐标
    assert res.plan.section(PLANNED) == []
    assert len(res.plan.section(DAMAGE)) == 2
    swapped = next(f for f in res.findings if f.rule == "BAD_CORNER_POINTS")
    assert "swapped" in swapped.message_zh and swapped.field == "范围(拐点坐标)"


def test_land_class_code_stored_as_number(plan, tmp_path):
    path = write_plan_xlsx(plan, tmp_path / "num.xlsx")
    wb = load_workbook(path)
    ws = wb.active
    r = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 4).value == "0404 其他草地")
    ws.cell(r, 4).value = 404
    wb.save(path)
    res = read_plan_xlsx(path)
    assert res.plan.units[0].land_class == "0404"
    assert any(f.rule == "LAND_CLASS_CODE_AS_NUMBER" and f.severity == "warning" for f in res.findings)


def test_not_a_plan_table(tmp_path):
    from openpyxl import Workbook
    wb = Workbook()
    wb.active["A1"] = "工资表"
    wb.save(tmp_path / "工资表.xlsx")
    with pytest.raises(PlanFormatError, match="工资表.xlsx"):
        read_plan_xlsx(tmp_path / "工资表.xlsx")
    (tmp_path / "scan.xlsx").write_bytes(b"%PDF-1.4 not a workbook")
    with pytest.raises(PlanFormatError, match="scan.xlsx"):
        read_plan_xlsx(tmp_path / "scan.xlsx")


def test_missing_licence_number_gives_no_plan(plan, tmp_path):
    path = write_plan_xlsx(dataclasses.replace(plan, license_no=""), tmp_path / "nolic.xlsx")
    res = read_plan_xlsx(path)
    assert res.plan is None
    assert any(f.rule == "MISSING_HEADER_VALUE" and f.field == "采矿权证证号" for f in res.findings)


def test_read_plans_folder(plan, tmp_path):
    write_plan_xlsx(plan, tmp_path / "b.xlsx")
    write_plan_xlsx(dataclasses.replace(plan, plan_year=2027), tmp_path / "a.xlsx")
    (tmp_path / "c.xlsx").write_bytes(b"junk")
    (tmp_path / "~$b.xlsx").write_bytes(b"lock")
    (tmp_path / "readme.txt").write_text("x")
    results = read_plans(tmp_path)
    assert [Path(r.file).name for r in results] == ["a.xlsx", "b.xlsx", "c.xlsx"]
    assert results[0].plan.plan_year == 2027 and results[1].plan.plan_year == 2026
    assert results[2].plan is None and results[2].findings[0].rule == "NOT_A_PLAN_TABLE"
    assert len(read_plans(tmp_path / "b.xlsx")) == 1


def test_units_in_column_header_and_values(plan, tmp_path):
    path = write_plan_xlsx(plan, tmp_path / "mu.xlsx")
    wb = load_workbook(path)
    ws = wb.active
    ph = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 4).value == "目标地类")
    ws.cell(ph, 5).value = "面积（亩）"
    ws.cell(ph + 1, 5).value = round(plan.units[4].area_hm2 * 15, 4)      # bare number in 亩
    ws.cell(ph + 2, 5).value = f"{plan.units[5].area_hm2 * 1e4:.0f}平方米"  # explicit unit wins
    wb.save(path)
    res = read_plan_xlsx(path)
    got = res.plan.section(PLANNED)
    assert got[0].area_hm2 == pytest.approx(plan.units[4].area_hm2, abs=1e-4)
    assert got[1].area_hm2 == pytest.approx(plan.units[5].area_hm2, abs=1e-4)
    assert sum(f.rule == "AREA_UNIT_CONVERTED" for f in res.findings) == 2
    assert not any(f.rule == "AREA_MISMATCH" for f in res.findings)


# ---------------------------------------------------------------- properties

SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
RIGHTS = {r.license_no: r for r in (sample.mining_right(m) for m in sample.MINES)}
_CLEAN: dict[str, bytes] = {}
BASE = sample.annual_plan(sample.MINES[0])
FRAME = sample.MineFrame.of(sample.MINES[0])


def clean_bytes(tmp_path_factory=None) -> bytes:
    if "b" not in _CLEAN:
        import tempfile
        from pathlib import Path
        with tempfile.TemporaryDirectory() as d:
            _CLEAN["b"] = write_plan_xlsx(sample.annual_plan(sample.MINES[0]), Path(d) / "p.xlsx").read_bytes()
    return _CLEAN["b"]


texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["……", "是", "否", "√", "×", "0404", "草坪", "1,2,3", "*,,,,1", "=1+1", "@SUM(A1)",
                     "１２．５", "12.5亩", "-3", "nan", "inf", "序号", "本年度矿区生态修复计划",
                     "2026年度矿区生态修复情况表", "1,4406642.66,37521308.52\n2,4406742.70,37521308.52"]),
)
values = st.one_of(st.none(), texts, st.integers(-10**9, 10**9),
                   st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                   st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)))
STATS = {"read": 0, "format_error": 0}
ops = st.lists(st.tuples(st.sampled_from(["set", "delete_row", "insert_row", "swap_rows", "unmerge"]),
                         st.integers(1, 40), st.integers(1, 9), values), min_size=1, max_size=8)


def _grid(data: bytes):
    ws = load_workbook(io.BytesIO(data)).active
    cells = {(c.row, c.column): c.value for row in ws.iter_rows() for c in row if c.value is not None}
    merges = [(m.min_row, m.min_col, m.max_row, m.max_col) for m in ws.merged_cells.ranges]
    return cells, merges


def damage(data: bytes, operations) -> bytes:
    """Apply the operations to the sheet's values and merges, write a fresh workbook."""
    from openpyxl import Workbook
    cells, merges = _grid(data)
    cells, merges = dict(cells), list(merges)
    for op, r, c, v in operations:
        if op == "set":
            merges = [m for m in merges if not (m[0] <= r <= m[2] and m[1] <= c <= m[3])]
            if isinstance(v, str):
                v = "".join(ch for ch in v if ch >= " " or ch in "\n\t")
            cells[(r, c)] = v
        elif op in ("delete_row", "insert_row"):
            d = -1 if op == "delete_row" else 1
            moved = {}
            for (rr, cc), val in cells.items():
                if rr == r and d < 0:
                    continue
                moved[(rr + d if rr >= r else rr, cc)] = val
            cells = moved
            merges = [(m[0] + d if m[0] >= r else m[0], m[1], m[2] + d if m[2] >= r else m[2], m[3])
                      for m in merges if not (m[0] <= r <= m[2])]
        elif op == "swap_rows":
            r2 = (r * 7) % 30 + 1
            a = {cc: val for (rr, cc), val in cells.items() if rr == r}
            b = {cc: val for (rr, cc), val in cells.items() if rr == r2}
            cells = {k: val for k, val in cells.items() if k[0] not in (r, r2)}
            cells.update({(r2, cc): val for cc, val in a.items()})
            cells.update({(r, cc): val for cc, val in b.items()})
        elif op == "unmerge" and merges:
            merges.pop(r % len(merges))
    wb = Workbook()
    ws = wb.active
    for (r, c), v in cells.items():
        if r >= 1 and v is not None:
            try:
                ws.cell(row=r, column=c, value=v)
            except (ValueError, TypeError):
                ws.cell(row=r, column=c, value=str(v))
    for m in merges:
        if m[0] >= 1 and m[0] <= m[2] and (m[0], m[1]) != (m[2], m[3]):
            ws.merge_cells(start_row=m[0], start_column=m[1], end_row=m[2], end_column=m[3])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@SETTINGS
@given(operations=ops)
def test_damaged_plan_gives_findings_or_format_error(tmp_path_factory, operations):
    d = tmp_path_factory.mktemp("dmg")
    p = d / "p.xlsx"
    p.write_bytes(damage(clean_bytes(), operations))
    try:
        res = read_plan_xlsx(p)
    except PlanFormatError:
        STATS["format_error"] += 1
        return
    STATS["read"] += 1
    fs = validate_plan(res, RIGHTS, received=date(2026, 4, 2))
    assert all(isinstance(f, Finding) for f in fs)
    for f in fs:
        assert f.rule and f.severity in ("error", "warning") and f.message_zh
    plan_anomalies(RIGHTS.values(), [res], {res.file: fs}, plan_year=2026, as_of=date(2026, 6, 1))


@SETTINGS
@given(junk=st.binary(max_size=300), cut=st.integers(0, 20000))
def test_random_bytes_and_truncation(tmp_path_factory, junk, cut):
    d = tmp_path_factory.mktemp("junk")
    for i, data in enumerate((junk, clean_bytes()[:cut] + junk)):
        p = d / f"{i}.xlsx"
        p.write_bytes(data)
        try:
            read_plan_xlsx(p)
        except PlanFormatError:
            pass


# ------------------------------------------------------------------ round trips

LAND = ["0101", "0103", "0201K", "0301", "0305", "0404", "1104A", "1206", "0602"]
# a cell that is only a placeholder ("_", "无", "……") reads as empty by design: not text that must survive
cell_text = (st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=20).map(str.strip)
             .filter(lambda t: t == "" or not is_placeholder(t)))


@st.composite
def plans(draw):
    frame = FRAME
    n = draw(st.integers(0, 6))
    cells = draw(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 3)), min_size=n, max_size=n, unique=True))
    units, seqs = [], {RESTORED: 0, DAMAGE: 0, PLANNED: 0}
    for (i, j) in cells:
        section = draw(st.sampled_from([RESTORED, DAMAGE, PLANNED]))
        seqs[section] += 1
        x0, y0 = -1000 + i * 400 + 20, -800 + j * 400 + 20
        w, h = draw(st.integers(50, 360)), draw(st.integers(50, 360))
        g = parse_corner_points(format_corner_points(frame.rect_geo((x0, y0, x0 + w, y0 + h))))
        kw = {}
        if section != DAMAGE:
            kw = dict(land_class=draw(st.sampled_from(LAND)), is_temporary=draw(st.booleans()),
                      quality=draw(cell_text))
        if section == RESTORED:
            kw["accepted"] = draw(st.sampled_from([True, False, None]))
        if section == DAMAGE:
            kw = dict(problem_type=draw(st.sampled_from(["挖损", "压占", "塌陷"])),
                      damage_degree=draw(st.sampled_from(["轻度", "中度", "重度"])))
        if section == PLANNED:
            kw["measures"] = draw(cell_text)
        units.append(Unit(section=section, seq=seqs[section], geometry=g,
                          corner_points=format_corner_points(g), area_hm2=round(area_hm2(g), 4), **kw))
    order = {RESTORED: 0, DAMAGE: 1, PLANNED: 2}
    units.sort(key=lambda u: (order[u.section], u.seq))
    money = st.one_of(st.none(), st.integers(0, 10**8).map(lambda k: k / 10**4))
    drawn, planned_draw = draw(money), draw(money)
    return dataclasses.replace(
        BASE, units=tuple(units), holder=draw(cell_text) or "某公司",
        fees_last_year_drawn=drawn,
        fees_last_year_used=None if drawn is None else round(drawn * draw(st.floats(0, 1)), 4),
        fees_this_year_planned_draw=planned_draw,
        fees_this_year_planned_use=None if planned_draw is None else round(planned_draw * draw(st.floats(0, 1)), 4))


@settings(SETTINGS, max_examples=20)
@given(plan=plans())
def test_write_read_round_trip_and_a_consistent_plan_validates_clean(tmp_path_factory, plan):
    p = write_plan_xlsx(plan, tmp_path_factory.mktemp("rt") / "p.xlsx")
    res = read_plan_xlsx(p)
    assert [f for f in res.findings if f.severity == "error"] == []
    got = dataclasses.replace(res.plan, source="", units=tuple(dataclasses.replace(u, row=None)
                                                              for u in res.plan.units))
    want = dataclasses.replace(plan, units=tuple(dataclasses.replace(u, geometry=parse_corner_points(u.corner_points))
                                                 for u in plan.units))
    assert got == want
    fs = validate_plan(res, RIGHTS)
    assert [f for f in fs if f.rule not in ("RESTORED_PLANNED_OVERLAP",)] == [], fs
    # and what was read writes the same bytes again
    assert write_plan_xlsx(res.plan, p.with_name("q.xlsx")).read_bytes() == p.read_bytes()


def test_damage_mostly_reaches_the_rules():
    """The damaged files above were mostly still tables (else the property says little)."""
    if sum(STATS.values()) >= 10:
        assert STATS["read"] > STATS["format_error"], STATS
