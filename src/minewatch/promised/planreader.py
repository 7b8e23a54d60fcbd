"""Reading the official annual-plan table (附表) from .xlsx as companies really file it.

The reader finds the sections by their captions, not by fixed cell addresses, and turns
every bad cell into a :class:`~minewatch.promised.findings.Finding` instead of an
exception.

Row rule: a row with an *error* finding is left out of the plan, a row with only
*warnings* comes through. A file that is not the table at all, or is unsafe to read,
raises :class:`~minewatch.promised.package.PlanFormatError`.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet
from shapely.geometry.base import BaseGeometry

from minewatch.config import PlanSettings

from .coords import CoordinateError, area_hm2, parse_corner_points
from .findings import ERROR, WARNING, Finding
from .landclasses import group_of_name, lookup
from .models import DAMAGE, PLANNED, RESTORED, AnnualPlan, Unit
from .package import MAX_CELLS, MAX_MERGED_CELLS, PlanFormatError, check_package, not_an_xlsx
from .table import (
    AREA_UNITS,
    CAPTIONS,
    COLUMNS,
    DASHES,
    FEE_LABELS,
    HEADER_LABELS,
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
    nfkc,
    parse_quantity,
    parse_yes_no,
    unit_in_label,
)

__all__ = ["DEFAULT_AREA_TOLERANCE", "CellRef", "PlanReadResult", "read_plan_xlsx", "read_plans"]

# relative (of the declared area); the night passes Settings.plan.area_tolerance, whose default this is
DEFAULT_AREA_TOLERANCE = PlanSettings().area_tolerance

_PLAN_FILE_SUFFIXES = (".xlsx", ".xlsm", ".xls")


@dataclass(frozen=True)
class CellRef:
    """Where a value of the table was read: for rules that need the cell as filed."""
    row: int | None
    label: str
    value: Any = None            # the raw cell value (before unit conversion / rounding)
    number_format: str = ""      # Excel number format of a numeric cell ("0.0000")


@dataclass
class PlanReadResult:
    plan: AnnualPlan | None
    findings: list[Finding] = field(default_factory=list)
    file: str = ""
    sheet: str = ""
    # (field, row) -> cell. Header fields, "plan_year" (the title) and fee fields use
    # row None as key; unit cells use their sheet row, e.g. ("area_hm2", 12).
    cells: dict[tuple[str, int | None], CellRef] = field(default_factory=dict)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def ok(self) -> bool:
        return self.plan is not None and not self.errors


Cells = dict[tuple[str, int | None], CellRef]


# ============================================================================ the grid

class _Grid:
    """A worksheet with merged cells resolved to their anchor.

    Built from the cells that exist in the file (never ``ws.iter_rows`` over the used
    rectangle, which would create millions of cells for a sheet with one value in row
    1 000 000), with merged ranges clipped to the rows and columns that hold values.
    """

    def __init__(self, ws: Worksheet) -> None:
        self.ws = ws
        self.title = ws.title
        self.values: dict[tuple[int, int], Any] = {}
        self.formats: dict[tuple[int, int], str] = {}
        for (r, c), cell in ws._cells.items():  # noqa: SLF001 - only existing cells
            v = cell.value
            if v is not None and not (isinstance(v, str) and not v.strip()):
                self.values[(r, c)] = v
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    self.formats[(r, c)] = cell.number_format or "General"
        self.max_row = max((r for r, _ in self.values), default=0)
        self.max_col = max((c for _, c in self.values), default=0)
        self.anchor: dict[tuple[int, int], tuple[int, int]] = {}
        self.span: dict[tuple[int, int], tuple[int, int]] = {}
        budget = MAX_MERGED_CELLS
        for mr in ws.merged_cells.ranges:
            if (mr.min_row, mr.min_col) not in self.values:
                continue  # an empty merged block reads as empty cells
            r2, c2 = min(mr.max_row, self.max_row), min(mr.max_col, self.max_col)
            budget -= max(0, r2 - mr.min_row + 1) * max(0, c2 - mr.min_col + 1)
            if budget < 0:
                raise PlanFormatError(
                    f"{ws.title}: 合并单元格过多 / too many merged cells (over {MAX_MERGED_CELLS})")
            for rr in range(mr.min_row, r2 + 1):
                for cc in range(mr.min_col, c2 + 1):
                    self.anchor[(rr, cc)] = (mr.min_row, mr.min_col)
                    self.span[(rr, cc)] = (mr.min_col, mr.max_col)
        cols: dict[int, set[int]] = {}
        for r, c in [*self.values, *self.anchor]:
            cols.setdefault(r, set()).add(c)
        self._cols = {r: sorted(cs) for r, cs in cols.items()}
        self.rows = sorted(self._cols)

    def raw(self, r: int, c: int) -> Any:
        return self.values.get(self.anchor.get((r, c), (r, c)))

    def own(self, r: int, c: int) -> Any:
        """The cell's own value: None for a cell covered by a merge anchored elsewhere."""
        return self.values.get((r, c)) if self.anchor.get((r, c), (r, c)) == (r, c) else None

    def number_format(self, r: int, c: int) -> str:
        return self.formats.get(self.anchor.get((r, c), (r, c)), "")

    def merged_from_above(self, r: int, c: int) -> bool:
        a = self.anchor.get((r, c))
        return a is not None and a[0] < r

    def cols_of(self, r: int, c: int) -> tuple[int, int]:
        return self.span.get((r, c), (c, c))

    def rows_between(self, a: int, b: int) -> list[int]:
        """Rows holding a value with a < row < b."""
        i = bisect.bisect_right(self.rows, a)
        j = bisect.bisect_left(self.rows, b)
        return self.rows[i:j]

    def row_cells(self, r: int) -> list[tuple[int, Any]]:
        """(column, value) of each distinct non-empty cell in the row (merged cells once)."""
        out, last = [], 0
        for c in self._cols.get(r, ()):
            if c <= last:
                continue
            c1, c2 = self.cols_of(r, c)
            v = self.raw(r, c)
            if v is not None:
                out.append((c1, v))
            last = c2
        return out

    def cell_right_of(self, r: int, c: int) -> tuple[int, Any]:
        """(column, value) of the first cell right of the label at (r, c); a label there
        means the value is missing: (column, None); (0, None) when the row ends."""
        end = self.cols_of(r, c)[1]
        for c2, v in self.row_cells(r):
            if c2 > end:
                return (c2, None) if is_label(label_key(v)) else (c2, v)
        return (0, None)


class _Recorder:
    """The findings of one sheet, each with the file and sheet it was read from."""

    def __init__(self, file: str, sheet: str) -> None:
        self.file, self.sheet = file, sheet
        self.findings: list[Finding] = []

    def add(self, row: int | None, fld: str, value: Any, rule: str, severity: str, msg: str) -> None:
        self.findings.append(Finding(file=self.file, sheet=self.sheet, row=row, field=fld,
                                     value=cell_text(value), rule=rule, severity=severity,
                                     message_zh=msg))


# ============================================================================ the file

def _open_sheet(path: Path, file: str) -> Worksheet:
    """The worksheet holding the table, after the package guard."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: 文件不存在 / no such file")
    check_package(path, file)
    try:
        wb = load_workbook(path, data_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:  # BadZipFile, InvalidFileException, KeyError, XML errors...
        raise not_an_xlsx(file, e) from None
    return _find_sheet(wb, file)


def _find_sheet(wb: Workbook, file: str) -> Worksheet:
    """The first sheet with a section caption; refuses sheets over MAX_CELLS."""
    for ws in wb.worksheets:
        if len(ws._cells) > MAX_CELLS:  # noqa: SLF001
            raise PlanFormatError(
                f"{file}: 工作表“{ws.title}”单元格过多({len(ws._cells)}个), 不像年度计划表 / sheet "
                f"{ws.title!r} has {len(ws._cells)} cells (limit {MAX_CELLS})")
        for cell in ws._cells.values():  # noqa: SLF001 - never create cells
            v = cell.value
            if isinstance(v, str) and caption_of(label_key(v)):
                return ws
    missing = "、".join(CAPTIONS.values())
    raise PlanFormatError(
        f"{file}: 不是年度矿区生态修复情况表, 未找到栏目({missing}) / not an annual-plan table: "
        f"none of the section captions found in sheets {wb.sheetnames}")


@dataclass
class _Layout:
    """Where the structure of the table was found on the sheet."""
    captions: dict[str, int] = field(default_factory=dict)                  # section -> row
    fee_cells: dict[str, tuple[int, int]] = field(default_factory=dict)     # fee field -> label cell
    header_cells: dict[str, tuple[int, int]] = field(default_factory=dict)  # header field -> label cell
    structural: set[int] = field(default_factory=set)   # rows that end a section's data
    year: int | None = None
    title_row: int | None = None


def _find_layout(g: _Grid, cells: Cells) -> _Layout:
    """Title (and its plan year), captions, fee labels, header labels, notes."""
    lay = _Layout()
    for r in g.rows:
        for c, v in g.row_cells(r):
            k = label_key(v)
            if not k:
                continue
            if lay.year is None:
                m = re.search(r"(\d{4})年度?矿区生态修复(?:情况表|计划)", k)
                if m:
                    lay.year, lay.title_row = int(m.group(1)), r
                    cells[("plan_year", None)] = CellRef(r, "标题", v)
                    lay.structural.add(r)
                    continue
            sec = caption_of(k)
            if sec:
                if sec not in lay.captions:
                    lay.captions[sec] = r
                lay.structural.add(r)
                continue
            fee = fee_of(k)
            if fee:
                lay.fee_cells.setdefault(fee, (r, c))
                lay.structural.add(r)
                continue
            hdr = header_of(k)
            if hdr:
                lay.header_cells.setdefault(hdr, (r, c))
                continue
            if is_note(k):
                lay.structural.add(r)
    return lay


def _plan_year(lay: _Layout, path: Path, rec: _Recorder) -> int | None:
    """The title's plan year, else the file name's (a warning), else None (an error)."""
    if lay.year is not None:
        return lay.year
    m = re.search(r"(20\d{2})", nfkc(path.stem))
    if m:
        year = int(m.group(1))
        rec.add(lay.title_row, "标题", "", "PLAN_YEAR_FROM_FILENAME", WARNING,
                f"标题中没有计划年度, 按文件名取{year}年 / plan year taken from the file name")
        return year
    rec.add(lay.title_row, "标题", "", "MISSING_PLAN_YEAR", ERROR,
            "标题中没有计划年度(应为“XXXX年度矿区生态修复情况表”)")
    return None


def _read_header(g: _Grid, lay: _Layout, rec: _Recorder, cells: Cells) -> dict[str, str]:
    """Holder, licence, validity, mine name and contact: the value right of each label."""
    header: dict[str, str] = {}
    for fname, label, _ in HEADER_LABELS:
        if fname not in lay.header_cells:
            rec.add(None, label, "", "MISSING_HEADER_FIELD", ERROR if fname == "license_no" else WARNING,
                    f"表头缺少“{label}”栏")
            header[fname] = ""
            continue
        r, c = lay.header_cells[fname]
        value = g.cell_right_of(r, c)[1]
        header[fname] = cell_text(value)
        if fname in ("license_no", "contact_phone"):  # full-width digits, stray spaces
            header[fname] = nfkc(header[fname]).translate(DASHES)
            if fname == "license_no":
                header[fname] = re.sub(r"\s+", "", header[fname])
        cells[(fname, None)] = CellRef(r, label, value)
        if not header[fname] and fname in ("license_no", "holder", "mine_name"):
            rec.add(r, label, "", "MISSING_HEADER_VALUE", ERROR if fname == "license_no" else WARNING,
                    f"“{label}”未填写")
    return header


def _read_fees(g: _Grid, lay: _Layout, rec: _Recorder, cells: Cells) -> dict[str, float | None]:
    """The four amounts in 万元 (converted from 元 with a warning); None when not given."""
    fees: dict[str, float | None] = {}
    for fname, label in FEE_LABELS.items():
        fees[fname] = None
        if fname not in lay.fee_cells:
            continue
        r, c = lay.fee_cells[fname]
        vc, v = g.cell_right_of(r, c)
        cells[(fname, None)] = CellRef(r, label, v, g.number_format(r, vc) if vc else "")
        if is_placeholder(v):
            continue
        try:
            amount, own = parse_quantity(v, MONEY_UNITS, unit_in_label(label_key(g.raw(r, c)), MONEY_UNITS))
        except ValueError:
            rec.add(r, label, v, "BAD_MONEY", ERROR, "金额无法识别, 应为以万元为单位的数字")
            continue
        if not own:
            rec.add(r, label, v, "MONEY_UNIT_CONVERTED", WARNING, "金额单位不是万元, 已换算为万元")
        if amount < 0:
            rec.add(r, label, v, "NEGATIVE_MONEY", ERROR, "金额不能为负数")
            continue
        fees[fname] = round(amount, 4)
    return fees


def read_plan_xlsx(path: str | Path, *, area_tolerance: float = DEFAULT_AREA_TOLERANCE) -> PlanReadResult:
    """Read one annual-plan .xlsx into an :class:`AnnualPlan` plus findings.

    ``area_tolerance``: relative difference between the declared 面积 and the ellipsoidal
    area of the 拐点坐标 polygon above which an ``AREA_MISMATCH`` warning is given.
    """
    path = Path(path)
    g = _Grid(_open_sheet(path, path.name))
    rec = _Recorder(path.name, g.title)
    cells: Cells = {}
    lay = _find_layout(g, cells)
    year = _plan_year(lay, path, rec)
    header = _read_header(g, lay, rec, cells)
    fees = _read_fees(g, lay, rec, cells)
    units: list[Unit] = []
    for section in (RESTORED, DAMAGE, PLANNED):
        cap = CAPTIONS[section]
        if section not in lay.captions:
            rec.add(None, cap, "", "MISSING_SECTION", ERROR if section == PLANNED else WARNING,
                    f"缺少“{cap}”栏目")
            continue
        units.extend(_read_section(g, section, lay.captions[section], lay.structural, rec,
                                   area_tolerance, cells))
    plan = None
    if year is not None and header.get("license_no"):
        plan = AnnualPlan(
            plan_year=year, license_no=header["license_no"], holder=header["holder"],
            mine_name=header["mine_name"], validity=header["validity"],
            contact_name=header["contact_name"], contact_phone=header["contact_phone"],
            contact_address=header["contact_address"], units=tuple(units),
            fees_last_year_drawn=fees["fees_last_year_drawn"],
            fees_last_year_used=fees["fees_last_year_used"],
            fees_this_year_planned_draw=fees["fees_this_year_planned_draw"],
            fees_this_year_planned_use=fees["fees_this_year_planned_use"],
            source=str(path))
    return PlanReadResult(plan=plan, findings=rec.findings, file=str(path), sheet=g.title, cells=cells)


def read_plans(folder_or_file: str | Path, *,
               area_tolerance: float = DEFAULT_AREA_TOLERANCE) -> list[PlanReadResult]:
    """Read one file or every .xlsx/.xlsm/.xls in a folder (sorted by file name).

    Never raises for content: a file that is not the table gives a result with
    ``plan=None`` and a ``NOT_A_PLAN_TABLE`` error finding.
    """
    p = Path(folder_or_file)
    if p.is_dir():
        files = sorted((f for f in p.iterdir()
                        if f.is_file() and f.suffix.lower() in _PLAN_FILE_SUFFIXES
                        and not f.name.startswith(("~$", "."))), key=lambda f: f.name)
    else:
        files = [p]
    out = []
    for f in files:
        try:
            out.append(read_plan_xlsx(f, area_tolerance=area_tolerance))
        except PlanFormatError as e:
            out.append(PlanReadResult(plan=None, file=str(f), findings=[Finding(
                file=f.name, sheet="", row=None, field="", value="", rule="NOT_A_PLAN_TABLE",
                severity=ERROR, message_zh=str(e))]))
    return out


# ============================================================================ a section

@dataclass
class _Columns:
    """The column header row of one section: field -> (first col, last col, label as filed)."""
    row: int
    fields: dict[str, tuple[int, int, str]]
    wanted: list[str]          # the section's fields in the 附表
    labels: dict[str, str]     # field -> the 附表's label

    def label_of(self, f: str) -> str:
        return self.fields[f][2] if f in self.fields else self.labels[f]


def _find_columns(g: _Grid, section: str, cap_row: int, end: int, rec: _Recorder) -> _Columns | None:
    """The header row under the caption (the row with 序号) and what each column is;
    None when there is none or it has no 拐点坐标 column (an error each)."""
    cap = CAPTIONS[section]
    header_row = None
    for r in g.rows_between(cap_row, end):
        if any(label_key(v) == "序号" for _, v in g.row_cells(r)):
            header_row = r
            break
    if header_row is None:
        rec.add(cap_row, cap, "", "MISSING_COLUMN_HEADER", ERROR, f"“{cap}”栏目下没有找到列标题行(序号、范围……)")
        return None
    colmap: dict[str, tuple[int, int, str]] = {}
    for c, v in g.row_cells(header_row):
        k = label_key(v)
        f = column_field(k)
        if f and f not in colmap:
            c1, c2 = g.cols_of(header_row, c)
            colmap[f] = (c1, c2, k)
    cols = _Columns(header_row, colmap, [f for f, _ in COLUMNS[section]], dict(COLUMNS[section]))
    for f in cols.wanted:
        if f not in colmap:
            rec.add(header_row, cols.labels[f], "", "MISSING_COLUMN",
                    ERROR if f == "corner_points" else WARNING, f"“{cap}”缺少“{cols.labels[f]}”列")
    return cols if "corner_points" in colmap else None


def _coord_line(g: _Grid, r: int, cp1: int, cp2: int) -> str:
    """This row's own part of the 拐点坐标: one cell, or 点号 | X | Y cells joined."""
    parts = [g.own(r, c) for c in range(cp1, cp2 + 1)]
    parts = [p for p in parts if p is not None]
    if len(parts) == 1:
        p = parts[0]
        return p.strip() if isinstance(p, str) else cell_text(p)
    return ",".join(cell_text(p) for p in parts)


def _single_point(line: str) -> bool:
    return bool(line) and "\n" not in line.strip() and not is_placeholder(line)


def _row_values(g: _Grid, r: int, cols: _Columns) -> dict[str, Any]:
    """field -> the first non-empty value of the field's columns in row r."""
    vals: dict[str, Any] = {}
    for f, (c1, c2, _) in cols.fields.items():
        v = None
        for c in range(c1, c2 + 1):
            v = g.raw(r, c)
            if v is not None:
                break
        vals[f] = v
    return vals


def _group_rows(g: _Grid, cols: _Columns, end: int) -> list[tuple[int, dict[str, Any], list[str]]]:
    """The section's rows grouped into units: (first row, values, 拐点坐标 lines).

    A unit's 拐点坐标 may be spread over several rows, one point per row (its other cells
    merged down, or left empty on the following rows).
    """
    cp1, cp2, _ = cols.fields["corner_points"]
    seq_col = cols.fields["seq"][0] if "seq" in cols.fields else None
    groups: list[tuple[int, dict[str, Any], list[str]]] = []
    for r in g.rows_between(cols.row, end):
        vals = _row_values(g, r, cols)
        if label_key(vals.get("seq")) == "序号":
            continue  # repeated header row
        line = _coord_line(g, r, cp1, cp2)
        others_empty = all(is_placeholder(v) for f, v in vals.items() if f != "corner_points")
        if others_empty and line and not line.startswith(("*", "＊")) \
                and not re.search(r"\d", nfkc(line)) and not is_placeholder(line):
            continue  # sub-header under a split coordinate column: 点号 | X | Y
        if groups and _single_point(line) and all(_single_point(x) for x in groups[-1][2]):
            merged = seq_col is not None and g.merged_from_above(r, seq_col)
            own_empty = all(is_placeholder(g.own(r, c)) for f, (c1, c2, _) in cols.fields.items()
                            if f != "corner_points" for c in range(c1, c2 + 1))
            if merged or own_empty:
                groups[-1][2].append(line)
                continue
        groups.append((r, vals, [line] if line else []))
    return groups


def _read_section(g: _Grid, section: str, cap_row: int, structural: set[int], rec: _Recorder,
                  area_tolerance: float, cells: Cells) -> list[Unit]:
    """The units of one section; a unit with an error finding is left out."""
    end = min([r for r in structural if r > cap_row] + [g.max_row + 1])
    cols = _find_columns(g, section, cap_row, end, rec)
    if cols is None:
        return []
    area_unit = unit_in_label(cols.fields["area_hm2"][2], AREA_UNITS) if "area_hm2" in cols.fields else ""
    out: list[Unit] = []
    count = 0
    for r, vals, lines in _group_rows(g, cols, end):
        if len(lines) > 1:
            vals["corner_points"] = "\n".join(lines)
        filled = {f for f, v in vals.items() if not is_placeholder(v)}
        if not filled or filled == {"seq"}:
            continue  # blank, "……" or numbered-but-empty template row
        if "area_hm2" in cols.fields:
            c1, c2, lab = cols.fields["area_hm2"]
            ac = next((c for c in range(c1, c2 + 1) if g.raw(r, c) is not None), c1)
            cells[("area_hm2", r)] = CellRef(r, lab, g.raw(r, ac), g.number_format(r, ac))
        count += 1
        unit = _read_unit(_Row(r, vals, cols, rec), section, count, area_unit, area_tolerance)
        if unit is not None:
            out.append(unit)
    return out


# ============================================================================ a unit

class _Row:
    """One unit's row: its values, and its findings with their error count."""

    def __init__(self, r: int, vals: dict[str, Any], cols: _Columns, rec: _Recorder) -> None:
        self.r, self.vals, self.cols, self.rec = r, vals, cols, rec
        self.errors = 0

    def has(self, f: str) -> bool:
        """Whether the section has the field and the filed table a column for it."""
        return f in self.cols.wanted and f in self.cols.fields

    def bad(self, f: str, rule: str, msg: str, severity: str = ERROR) -> None:
        self.errors += severity == ERROR
        self.rec.add(self.r, self.cols.label_of(f), self.vals.get(f), rule, severity, msg)

    def text_of(self, f: str) -> str:
        v = self.vals.get(f)
        return "" if f not in self.cols.wanted or is_placeholder(v) else cell_text(v)


def _read_seq(row: _Row, count: int) -> int:
    """序号; the row's place in the section when missing or unreadable (a warning)."""
    sv = row.vals.get("seq")
    if is_placeholder(sv):
        row.bad("seq", "MISSING_SEQ", f"序号未填写, 按顺序记为{count}", WARNING)
        return count
    m = re.match(r"^(\d+)", label_key(cell_text(sv)))
    if m:
        return int(m.group(1))
    row.bad("seq", "BAD_SEQ", f"序号无法识别, 按顺序记为{count}", WARNING)
    return count


def _read_corner_points(row: _Row) -> tuple[str, BaseGeometry | None]:
    """范围（拐点坐标）: the text as filed and its polygon (None when bad or missing)."""
    text = row.vals.get("corner_points")
    if is_placeholder(text):
        row.bad("corner_points", "MISSING_CORNER_POINTS", "范围（拐点坐标）未填写")
        return "", None
    text = str(text).strip() if isinstance(text, str) else cell_text(text)
    try:
        return text, parse_corner_points(text)
    except CoordinateError as e:
        row.bad("corner_points", "BAD_CORNER_POINTS", f"拐点坐标有误: {e}")
        return text, None


def _read_temporary(row: _Row) -> bool:
    """是否为临时用地; 否 when missing (a warning) or unreadable (an error)."""
    if not row.has("is_temporary"):
        return False
    v = row.vals.get("is_temporary")
    if is_placeholder(v):
        row.bad("is_temporary", "MISSING_VALUE", "是否为临时用地未填写, 按“否”处理", WARNING)
        return False
    try:
        return bool(parse_yes_no(v))
    except ValueError:
        row.bad("is_temporary", "BAD_YES_NO", "是否为临时用地应填“是”或“否”")
        return False


def _read_land_class(row: _Row) -> str:
    """修复后地类 / 目标地类 as a 三调 code ("" when missing or not in the catalogue)."""
    if not row.has("land_class"):
        return ""
    v = row.vals.get("land_class")
    if is_placeholder(v):
        row.bad("land_class", "MISSING_LAND_CLASS", "地类未填写(应填三调地类, 如“0404 其他草地”)")
        return ""
    lc = lookup(cell_text(v))
    if lc is None and isinstance(v, (int, float)) and not isinstance(v, bool) and float(v) == int(v):
        lc = lookup(str(int(v)).zfill(4))
        if lc is not None:
            row.bad("land_class", "LAND_CLASS_CODE_AS_NUMBER",
                    f"地类编码被存为数字(前导0丢失), 按“{lc.label}”处理", WARNING)
    if lc is not None:
        return lc.code
    if group_of_name(cell_text(v)):
        row.bad("land_class", "LAND_CLASS_NOT_SPECIFIC", "地类只填了一级类, 应填三调二级地类(如“0103 旱地”)")
    else:
        row.bad("land_class", "UNKNOWN_LAND_CLASS",
                "地类不在三调地类表中(应填三调地类编码和名称, 如“0404 其他草地”)")
    return ""


def _read_area(row: _Row, area_unit: str) -> float | None:
    """面积 in hm² (converted from another unit with a warning), 4 decimals."""
    if "area_hm2" not in row.cols.fields:
        return None
    v = row.vals.get("area_hm2")
    if is_placeholder(v):
        row.bad("area_hm2", "MISSING_AREA", "面积未填写", WARNING)
        return None
    try:
        area, own = parse_quantity(v, AREA_UNITS, area_unit)
    except ValueError:
        row.bad("area_hm2", "BAD_AREA", "面积无法识别, 应为以hm²为单位的数字(保留4位小数)")
        return None
    if not own:
        row.bad("area_hm2", "AREA_UNIT_CONVERTED", "面积单位不是hm², 已换算为hm²", WARNING)
    if area <= 0:
        row.bad("area_hm2", "NON_POSITIVE_AREA", "面积应大于0")
    return round(area, 4)


def _read_accepted(row: _Row) -> bool | None:
    """是否完成验收; None when not given."""
    if not row.has("accepted"):
        return None
    v = row.vals.get("accepted")
    if is_placeholder(v):
        return None
    try:
        return parse_yes_no(v)
    except ValueError:
        row.bad("accepted", "BAD_YES_NO", "是否完成验收应填“是”或“否”")
        return None


def _read_unit(row: _Row, section: str, count: int, area_unit: str, area_tolerance: float) -> Unit | None:
    """One unit from its row, field by field in the table's order; None on any error."""
    seq = _read_seq(row, count)
    text, geom = _read_corner_points(row)
    is_temp = _read_temporary(row)
    land = _read_land_class(row)
    area = _read_area(row, area_unit)
    if geom is not None and area is not None and area > 0:
        computed = area_hm2(geom)
        if abs(computed - area) > max(1e-4, area_tolerance * area):
            row.bad("area_hm2", "AREA_MISMATCH",
                    f"填报面积{area:.4f}hm²与拐点坐标计算面积{computed:.4f}hm²不符", WARNING)
    accepted = _read_accepted(row)
    if row.errors or geom is None:
        return None
    return Unit(
        section=section, seq=seq, geometry=geom, corner_points=text, area_hm2=area,
        is_temporary=is_temp, land_class=land, quality=row.text_of("quality"),
        accepted=accepted, problem_type=row.text_of("problem_type"),
        damage_degree=row.text_of("damage_degree"), measures=row.text_of("measures"), row=row.r)
