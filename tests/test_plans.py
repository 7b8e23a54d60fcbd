"""The 附表 annual-plan table: write, read back, read what companies actually file."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from openpyxl import load_workbook
from shapely.geometry import box

from minewatch.promised.coords import area_hm2, format_corner_points, parse_corner_points
from minewatch.promised.findings import format_finding
from minewatch.promised.models import DAMAGE, PLANNED, RESTORED, AnnualPlan, Unit
from minewatch.promised.plans import (
    PlanFormatError, PlanReadResult, read_plan_xlsx, read_plans, write_plan_xlsx,
)

FW = str.maketrans("0123456789.,", "０１２３４５６７８９．，")


def _unit(section, seq, dx, dy=0.0, **kw):
    g = box(117.2 + dx, 39.1 + dy, 117.203 + dx, 39.102 + dy)
    text = format_corner_points(g)
    g = parse_corner_points(text)
    return Unit(section=section, seq=seq, geometry=g, corner_points=text, area_hm2=area_hm2(g), **kw)


@pytest.fixture
def plan() -> AnnualPlan:
    return AnnualPlan(
        plan_year=2026, license_no="C1300002011011120123456", holder="某某矿业有限公司",
        mine_name="某某石灰岩矿", validity="2021年1月1日至2031年1月1日", contact_name="张三",
        contact_phone="0311-12345678", contact_address="河北省某某县某某镇",
        units=(
            _unit(RESTORED, 1, 0.00, land_class="0404", quality="植被覆盖度≥30%", accepted=True),
            _unit(RESTORED, 2, 0.01, land_class="0305", quality="灌木覆盖度≥40%", accepted=None,
                  is_temporary=True),
            _unit(DAMAGE, 1, 0.02, problem_type="挖损", damage_degree="重度"),
            _unit(DAMAGE, 2, 0.03, problem_type="压占", damage_degree="中度"),
            _unit(PLANNED, 1, 0.00, 0.01, land_class="0301", quality="郁闭度≥0.2",
                  measures="削坡、覆土0.5m、栽植侧柏"),
            _unit(PLANNED, 2, 0.01, 0.01, land_class="1104A", is_temporary=True, quality="",
                  measures="清淤"),
        ),
        fees_last_year_drawn=12.3456, fees_last_year_used=10.0,
        fees_this_year_planned_draw=15.5, fees_this_year_planned_use=None,
    )


def _strip(p: AnnualPlan) -> AnnualPlan:
    """Drop what the table does not carry (file name, sheet rows)."""
    return dataclasses.replace(p, source="", units=tuple(dataclasses.replace(u, row=None) for u in p.units))


def test_round_trip(plan, tmp_path):
    path = write_plan_xlsx(plan, tmp_path / "p.xlsx")
    res = read_plan_xlsx(path)
    assert isinstance(res, PlanReadResult)
    assert [f for f in res.findings if f.severity == "error"] == []
    assert res.plan.source == str(path)
    assert all(u.row for u in res.plan.units)
    assert _strip(res.plan) == plan


def test_write_is_deterministic_and_looks_like_the_form(plan, tmp_path):
    a = write_plan_xlsx(plan, tmp_path / "a.xlsx").read_bytes()
    b = write_plan_xlsx(plan, tmp_path / "b.xlsx").read_bytes()
    assert a == b
    wb = load_workbook(tmp_path / "a.xlsx")
    ws = wb.active
    assert ws["A1"].value == "2026年度矿区生态修复情况表"
    assert "A1:G1" in {str(r) for r in ws.merged_cells.ranges}
    assert wb.properties.creator == "minewatch"
    texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    for label in ["采矿权人名称", "采矿权证证号", "采矿权有效期限", "矿山名称", "联系人", "联系电话", "联系地址",
                  "上年度矿区生态修复情况", "矿区现状问题与损毁情况", "本年度矿区生态修复计划",
                  "0404 其他草地", "1104A 养殖坑塘"]:
        assert label in texts
    assert any(t.startswith("注：1.") for t in texts)
    numbers = [c for row in ws.iter_rows() for c in row if isinstance(c.value, float)]
    assert numbers and all(c.number_format == "0.0000" for c in numbers)


def test_units_without_corner_text_are_formatted(plan, tmp_path):
    u = dataclasses.replace(plan.units[0], corner_points="")
    p2 = dataclasses.replace(plan, units=(u,))
    res = read_plan_xlsx(write_plan_xlsx(p2, tmp_path / "x.xlsx"))
    (back,) = res.plan.units
    assert back.corner_points == format_corner_points(u.geometry)
    assert back.geometry.equals_exact(u.geometry, tolerance=1e-7)


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

    rows = {ws.cell(r, 1).value: r for r in range(1, ws.max_row + 1)}
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


def test_messy_variant_still_reads(plan, tmp_path):
    path = write_plan_xlsx(plan, tmp_path / "messy.xlsx")
    _damage(path)
    res = read_plan_xlsx(path)
    assert [format_finding(f) for f in res.findings if f.severity == "error"] == []
    got = _strip(res.plan)
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
