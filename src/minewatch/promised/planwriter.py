"""Writing an annual plan as the official 附表 .xlsx, laid out as the regulation shows it.

Same plan -> same bytes (fixed timestamps, deterministic zip), so sample files and test
fixtures can be committed and compared.
"""
from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.worksheet.worksheet import Worksheet

from minewatch.plumbing.atomic import FIXED_TIMESTAMP, deterministic_zip

from .coords import format_corner_points
from .landclasses import lookup
from .models import DAMAGE, PLANNED, RESTORED, AnnualPlan, Unit
from .table import CAPTIONS, COLUMNS, CREATOR, FEE_LABELS, HEADER_LABELS, NCOLS, NOTES, TITLE_SUFFIX

__all__ = ["write_plan_xlsx"]

# the 5 damage columns span the 7 columns of the sheet
_DAMAGE_SPANS = [(1, 1), (2, 3), (4, 4), (5, 5), (6, 7)]
_FEE_ROWS = {
    RESTORED: ("fees_last_year_drawn", "fees_last_year_used"),
    PLANNED: ("fees_this_year_planned_draw", "fees_this_year_planned_use"),
}
# the header block, row by row: (field, first and last column of its value; label left of it)
_HEADER_ROWS = (
    (("holder", 2, NCOLS),),
    (("license_no", 2, 3), ("validity", 5, NCOLS)),
    (("mine_name", 2, NCOLS),),
    (("contact_name", 2, 3), ("contact_phone", 5, NCOLS)),
    (("contact_address", 2, NCOLS),),
)
_THIN = Side(style="thin")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_WRAP_C = Alignment(horizontal="center", vertical="center", wrap_text=True)
_WRAP_L = Alignment(horizontal="left", vertical="center", wrap_text=True)
_ILLEGAL = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


def _yes_no(v: bool | None) -> str:
    return "" if v is None else ("是" if v else "否")


def _land_label(code: str) -> str:
    lc = lookup(code) if code else None
    return lc.label if lc else (code or "")


def _money(v: float | None) -> float | None:
    return None if v is None else round(float(v), 4)


def _put(ws: Worksheet, r: int, c1: int, value: Any, c2: int | None = None, *, label: bool = False,
         number: bool = False, bold: bool = False, border: bool = True) -> None:
    """One (merged) cell of the form: text never a formula, numbers with 4 decimals."""
    c2 = c2 or c1
    if c2 > c1:
        ws.merge_cells(start_row=r, start_column=c1, end_row=r, end_column=c2)
    if isinstance(value, str):
        value = _ILLEGAL.sub("", value)
    cell = ws.cell(row=r, column=c1, value=value)
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"  # never a formula
    if number:
        cell.number_format = "0.0000"
    cell.alignment = _WRAP_C if (label or number or not isinstance(value, str)) else _WRAP_L
    if bold:
        cell.font = Font(bold=True)
    if border:
        for c in range(c1, c2 + 1):
            ws.cell(row=r, column=c).border = _BORDER


def _write_header(ws: Worksheet, plan: AnnualPlan) -> int:
    """Title and the holder/licence/contact block; returns the last row written."""
    r = 1
    _put(ws, r, 1, f"{plan.plan_year}{TITLE_SUFFIX}", NCOLS, label=True, bold=True, border=False)
    ws.cell(row=r, column=1).font = Font(bold=True, size=16)
    ws.row_dimensions[r].height = 30
    labels = {f: label for f, label, _ in HEADER_LABELS}
    for fields in _HEADER_ROWS:
        r += 1
        for fname, c1, c2 in fields:
            _put(ws, r, c1 - 1, labels[fname], label=True)
            _put(ws, r, c1, getattr(plan, fname), c2)
    return r


def _unit_values(u: Unit, text: str) -> dict[str, Any]:
    return {
        "seq": u.seq, "corner_points": text, "is_temporary": _yes_no(u.is_temporary),
        "land_class": _land_label(u.land_class),
        "area_hm2": None if u.area_hm2 is None else round(float(u.area_hm2), 4),
        "quality": u.quality, "accepted": _yes_no(u.accepted),
        "problem_type": u.problem_type, "damage_degree": u.damage_degree,
        "measures": u.measures,
    }


def _write_section(ws: Worksheet, plan: AnnualPlan, section: str, r: int) -> int:
    """Caption, column labels, one row per unit (one empty row when none), the section's
    fee row; returns the last row written."""
    r += 1
    _put(ws, r, 1, CAPTIONS[section], NCOLS, label=True, bold=True)
    r += 1
    cols = COLUMNS[section]
    spans = _DAMAGE_SPANS if section == DAMAGE else [(i, i) for i in range(1, NCOLS + 1)]
    for (_, lab), (c1, c2) in zip(cols, spans):
        _put(ws, r, c1, lab, c2, label=True, bold=True)
    units = plan.section(section)
    if not units:
        r += 1
        for c1, c2 in spans[:len(cols)]:
            _put(ws, r, c1, None, c2)
    for u in units:
        r += 1
        text = u.corner_points or format_corner_points(u.geometry)
        values = _unit_values(u, text)
        for (fname, _), (c1, c2) in zip(cols, spans):
            _put(ws, r, c1, values[fname], c2, number=(fname == "area_hm2"))
        nlines = text.count("\n") + 1
        ws.row_dimensions[r].height = min(409, max(15, 13.5 * nlines))
    if section in _FEE_ROWS:
        a, b = _FEE_ROWS[section]
        r += 1
        _put(ws, r, 1, FEE_LABELS[a], 3, label=True)
        _put(ws, r, 4, _money(getattr(plan, a)), number=True)
        _put(ws, r, 5, FEE_LABELS[b], 6, label=True)
        _put(ws, r, 7, _money(getattr(plan, b)), number=True)
        ws.row_dimensions[r].height = 30
    return r


def write_plan_xlsx(plan: AnnualPlan, path: str | Path) -> Path:
    """Write ``plan`` as the 附表 table. Same plan -> same bytes."""
    path = Path(path)
    wb = Workbook()
    ws = wb.active
    ws.title = "年度矿区生态修复情况表"
    for col, width in zip("ABCDEFG", (8, 44, 12, 20, 14, 12, 24)):
        ws.column_dimensions[col].width = width
    r = _write_header(ws, plan)
    for section in (RESTORED, DAMAGE, PLANNED):
        r = _write_section(ws, plan, section, r)
    for note in NOTES:
        r += 1
        _put(ws, r, 1, note, NCOLS, border=False)

    wb.properties.creator = CREATOR
    wb.properties.lastModifiedBy = CREATOR
    wb.properties.created = FIXED_TIMESTAMP
    wb.properties.modified = FIXED_TIMESTAMP
    wb.properties.title = f"{plan.plan_year}{TITLE_SUFFIX}"
    buf = io.BytesIO()
    wb.save(buf)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(deterministic_zip(buf.getvalue()))
    return path
