"""minewatch.promised.planwriter: the 附表 as the regulation lays it out, same plan -> same bytes."""
from __future__ import annotations

import dataclasses

from openpyxl import load_workbook

from minewatch.promised.coords import format_corner_points
from minewatch.promised.planreader import read_plan_xlsx
from minewatch.promised.planwriter import write_plan_xlsx


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
