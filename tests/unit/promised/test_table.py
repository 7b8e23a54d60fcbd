"""minewatch.promised.table: label matching and the parsers of what companies write in cells."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from minewatch.promised.models import DAMAGE, PLANNED, RESTORED
from minewatch.promised.table import (
    AREA_UNITS,
    MONEY_UNITS,
    caption_of,
    cell_text,
    column_field,
    fee_of,
    header_of,
    is_label,
    is_note,
    is_placeholder,
    label_key,
    parse_quantity,
    parse_yes_no,
    unit_in_label,
)


def test_label_key_normalises_width_space_and_colon():
    assert label_key(" 采矿权人 名称： ") == "采矿权人名称"
    assert label_key("面积（ｈｍ２）") == "面积(hm2)"
    assert label_key(None) == ""


def test_cell_text_reads_as_a_person_does():
    assert cell_text(1.0) == "1"
    assert cell_text(2.5) == "2.5"
    assert cell_text(True) == "是"
    assert cell_text(datetime(2026, 3, 28)) == "2026-03-28"
    assert cell_text(datetime(2026, 3, 28, 9, 30)) == "2026-03-28T09:30:00"
    assert cell_text(date(2026, 3, 28)) == "2026-03-28"
    assert cell_text("  x ") == "x"


@pytest.mark.parametrize("v", [None, "", "……", "-", "/", "无", "略", "——"])
def test_placeholders(v):
    assert is_placeholder(v)


def test_labels_are_found_by_their_words():
    assert caption_of("一、上年度矿区生态修复情况") == RESTORED
    assert caption_of("矿区现状问题与损毁情况") == DAMAGE
    assert caption_of("本年度矿区生态修复计划") == PLANNED
    assert caption_of("本年度矿区生态修复计划费用") is None          # a fee label, not the caption
    assert fee_of("上年度矿区生态修复费用实际使用金额(万元)") == "fees_last_year_used"
    assert header_of("采矿许可证号") == "license_no"
    assert is_label("联系电话") and not is_label("0311-12345678")
    assert is_note("注:1.表中地类名称") and is_note("3.各类金额单位为万元") and not is_note("备注栏")
    assert [column_field(k) for k in ("序号", "范围(拐点坐标)", "修复后地类", "面积(亩)", "主要工程措施")] == \
        ["seq", "corner_points", "land_class", "area_hm2", "measures"]


def test_yes_no():
    assert [parse_yes_no(v) for v in ("是", "√", "Y", "已验收", "否", "×", "no", True)] == \
        [True, True, True, True, False, False, False, True]
    with pytest.raises(ValueError):
        parse_yes_no("也许")


def test_quantities_with_units():
    assert parse_quantity(1.5, AREA_UNITS) == (1.5, True)
    assert parse_quantity(15, AREA_UNITS, "亩") == (1.0, False)
    assert parse_quantity("20000平方米", AREA_UNITS) == (2.0, False)
    assert parse_quantity("1,234.5 hm2", AREA_UNITS) == (1234.5, True)
    assert parse_quantity("１２．３４５６万元", MONEY_UNITS) == (12.3456, True)
    assert parse_quantity("50000元", MONEY_UNITS) == (5.0, False)
    for bad in ("约两公顷", float("nan"), True, "3英亩"):
        with pytest.raises(ValueError):
            parse_quantity(bad, AREA_UNITS)
    assert unit_in_label("面积(亩)", AREA_UNITS) == "亩"
    assert unit_in_label("面积(英亩)", AREA_UNITS) == ""
