"""The official annual-plan table (附表 "***年度矿区生态修复情况表"): its layout and how
its cell values are parsed.

Both the writer and the reader use these: the captions, column labels, fee and header
labels and notes as the regulation's 附表 lays them out, the label matching the reader
uses to find them again in what companies file, and the parsers of 是/否 and quantities
with units.
"""
from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime
from typing import Any

from .models import DAMAGE, PLANNED, RESTORED

__all__ = [
    "TITLE_SUFFIX", "CAPTIONS", "COLUMNS", "FEE_LABELS", "FEE_KEYS", "HEADER_LABELS", "NOTES", "CREATOR",
    "NCOLS", "AREA_UNITS", "MONEY_UNITS", "DASHES",
    "nfkc", "label_key", "cell_text", "is_placeholder", "caption_of", "fee_of", "header_of", "is_note",
    "is_label", "column_field", "parse_yes_no", "parse_quantity", "unit_in_label",
]

TITLE_SUFFIX = "年度矿区生态修复情况表"
CAPTIONS = {
    RESTORED: "上年度矿区生态修复情况",
    DAMAGE: "矿区现状问题与损毁情况",
    PLANNED: "本年度矿区生态修复计划",
}
# column labels per section, as in the 附表 (field name, label)
COLUMNS = {
    RESTORED: [("seq", "序号"), ("corner_points", "范围（拐点坐标）"), ("is_temporary", "是否为临时用地"),
               ("land_class", "修复后地类"), ("area_hm2", "面积"), ("quality", "质量"),
               ("accepted", "是否完成验收")],
    DAMAGE: [("seq", "序号"), ("corner_points", "范围（拐点坐标）"), ("problem_type", "问题类型"),
             ("area_hm2", "面积"), ("damage_degree", "损毁程度")],
    PLANNED: [("seq", "序号"), ("corner_points", "范围（拐点坐标）"), ("is_temporary", "是否为临时用地"),
              ("land_class", "目标地类"), ("area_hm2", "面积"), ("quality", "质量"),
              ("measures", "主要工程措施")],
}
FEE_LABELS = {
    "fees_last_year_drawn": "上年度矿区生态修复费用实际提取金额",
    "fees_last_year_used": "上年度矿区生态修复费用实际使用金额",
    "fees_this_year_planned_draw": "本年度矿区生态修复费用拟提取金额",
    "fees_this_year_planned_use": "本年度矿区生态修复费用拟使用金额",
}
FEE_KEYS = {  # what identifies a fee label once normalised
    "fees_last_year_drawn": "实际提取金额",
    "fees_last_year_used": "实际使用金额",
    "fees_this_year_planned_draw": "拟提取金额",
    "fees_this_year_planned_use": "拟使用金额",
}
HEADER_LABELS = [  # (field, label written, labels accepted)
    ("holder", "采矿权人名称", ("采矿权人名称", "采矿人名称", "采矿权人")),
    ("license_no", "采矿权证证号", ("采矿权证证号", "采矿许可证证号", "采矿许可证号", "采矿权证号", "许可证号")),
    ("validity", "采矿权有效期限", ("采矿权有效期限", "有效期限", "采矿许可证有效期限")),
    ("mine_name", "矿山名称", ("矿山名称",)),
    ("contact_name", "联系人", ("联系人",)),
    ("contact_phone", "联系电话", ("联系电话", "电话")),
    ("contact_address", "联系地址", ("联系地址", "地址")),
]
NOTES = [
    "注：1.表中地类名称及统计口径应与国家公布的第三次全国国土调查和年度国土变更调查成果一致。",
    "2.各地类面积单位为hm2，保留小数点后四位。",
    "3.各类金额单位为万元，保留小数点后四位。",
]
CREATOR = "minewatch"
NCOLS = 7

AREA_UNITS = {  # factor to hm², and whether it is the regulation's unit
    "": (1.0, True), "HM2": (1.0, True), "公顷": (1.0, True), "HA": (1.0, True),
    "M2": (1e-4, False), "平方米": (1e-4, False), "亩": (1 / 15, False),
    "KM2": (100.0, False), "平方公里": (100.0, False), "平方千米": (100.0, False),
}
MONEY_UNITS = {"": (1.0, True), "万元": (1.0, True), "万": (1.0, True), "元": (1e-4, False)}
DASHES = str.maketrans({"－": "-", "—": "-", "–": "-", "−": "-"})

_PLACEHOLDER = re.compile(r"^[.…。·\-—_/\\~～]*$|^(无|略|空)$")
_TRUE = {"是", "√", "✓", "✔", "Y", "YES", "TRUE", "1", "对", "已完成", "已验收", "完成"}
_FALSE = {"否", "×", "✗", "✘", "X", "N", "NO", "FALSE", "0", "不是", "未完成", "未验收"}


def nfkc(s: str) -> str:
    """Full-width digits and punctuation as ASCII (NFKC)."""
    return unicodedata.normalize("NFKC", s)


def label_key(v: Any) -> str:
    """Normalised label text: NFKC, no whitespace, no trailing colon."""
    if v is None:
        return ""
    s = re.sub(r"\s+", "", nfkc(str(v)))
    return s.rstrip(":")


def cell_text(v: Any) -> str:
    """Cell value as text the way a person reads it (1.0 -> "1", dates ISO)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, float):
        if math.isfinite(v) and v == int(v):
            return str(int(v))
        return repr(v)
    if isinstance(v, datetime):
        return v.date().isoformat() if v.time() == datetime.min.time() else v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    return str(v).strip()


def is_placeholder(v: Any) -> bool:
    """Empty, or what people write for nothing: "……", "-", "/", "无"."""
    return v is None or bool(_PLACEHOLDER.match(label_key(v)))


def caption_of(key: str) -> str | None:
    """The section whose caption the normalised text is, or None."""
    for section, cap in CAPTIONS.items():
        if cap in key and "费用" not in key and len(key) <= len(cap) + 8:
            return section
    return None


def fee_of(key: str) -> str | None:
    """The fee field whose label the normalised text is, or None."""
    for fname, k in FEE_KEYS.items():
        if k in key and len(key) <= 40:
            return fname
    return None


def header_of(key: str) -> str | None:
    """The header field whose label the normalised text is, or None."""
    for fname, _, accepted in HEADER_LABELS:
        if key in accepted:
            return fname
    return None


def is_note(key: str) -> bool:
    """Whether the normalised text is one of the 附表's notes (注：1. ...)."""
    return key == "注" or bool(re.match(r"^注:|^\d[.、]?(表中|各地类|各类金额)", key))


def is_label(key: str) -> bool:
    """A caption, fee label or header label: never a value."""
    return bool(caption_of(key) or fee_of(key) or header_of(key))


def column_field(key: str) -> str | None:
    """The unit field a column header stands for, by the words companies use."""
    if "序号" in key:
        return "seq"
    if "范围" in key or "拐点" in key:
        return "corner_points"
    if "临时用地" in key:
        return "is_temporary"
    if "地类" in key:
        return "land_class"
    if key.startswith("面积"):
        return "area_hm2"
    if "质量" in key:
        return "quality"
    if "验收" in key:
        return "accepted"
    if "问题类型" in key:
        return "problem_type"
    if "损毁程度" in key:
        return "damage_degree"
    if "措施" in key:
        return "measures"
    return None


def parse_yes_no(v: Any) -> bool | None:
    """是/否 as filed (√/×, Y/N, 已验收 ...); ValueError when it is neither."""
    if isinstance(v, bool):
        return v
    k = label_key(v).upper()
    if k in _TRUE:
        return True
    if k in _FALSE:
        return False
    raise ValueError(k)


def parse_quantity(v: Any, units: dict[str, tuple[float, bool]],
                   default_unit: str = "") -> tuple[float, bool]:
    """(value in the table unit, whether the unit was the table's own).

    ``default_unit`` applies to bare numbers (the unit written in the column header).
    """
    if isinstance(v, bool):
        raise ValueError(v)
    if isinstance(v, (int, float)):
        if not math.isfinite(v):
            raise ValueError(v)
        factor, own = units[default_unit]
        return float(v) * factor, own
    k = label_key(v).replace(",", "").upper()
    m = re.fullmatch(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+))(.*)", k)
    if not m or m.group(2) not in units:
        raise ValueError(k)
    factor, own = units[m.group(2) or default_unit]
    return float(m.group(1)) * factor, own


def unit_in_label(key: str, units: dict[str, tuple[float, bool]]) -> str:
    """Unit written in a column/field label, e.g. "面积(亩)" -> "亩"; "" when none/unknown."""
    m = re.search(r"\(([^()]*)\)", key)
    u = m.group(1).upper() if m else ""
    return u if u in units else ""
