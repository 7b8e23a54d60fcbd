"""The official annual-plan table (附表 "***年度矿区生态修复情况表") as .xlsx.

Writing produces the table as the regulation's 附表 lays it out; reading finds the
sections by their captions, not by fixed cell addresses, and turns every bad cell into a
:class:`~minewatch.promised.findings.Finding` instead of an exception.

Row rule of the reader: a row with an *error* finding is left out of the plan, a row with
only *warnings* comes through. A file that is not the table at all raises
:class:`PlanFormatError`.
"""
from __future__ import annotations

import bisect
import io
import math
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Border, Font, Side

from minewatch.plumbing.atomic import FIXED_TIMESTAMP, deterministic_zip

from .coords import CoordinateError, area_hm2, format_corner_points, parse_corner_points
from .findings import ERROR, WARNING, Finding
from .landclasses import group_of_name, lookup
from .models import DAMAGE, PLANNED, RESTORED, AnnualPlan, Unit

__all__ = [
    "PlanFormatError", "PlanReadResult", "write_plan_xlsx", "read_plan_xlsx", "read_plans",
    "TITLE_SUFFIX", "CAPTIONS", "COLUMNS",
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
# in the writer the 5 damage columns span the 7 columns of the sheet
_DAMAGE_SPANS = [(1, 1), (2, 3), (4, 4), (5, 5), (6, 7)]
FEE_LABELS = {
    "fees_last_year_drawn": "上年度矿区生态修复费用实际提取金额",
    "fees_last_year_used": "上年度矿区生态修复费用实际使用金额",
    "fees_this_year_planned_draw": "本年度矿区生态修复费用拟提取金额",
    "fees_this_year_planned_use": "本年度矿区生态修复费用拟使用金额",
}
_FEE_KEYS = {  # what identifies a fee label once normalised
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


# Limits that keep a hostile or broken file bounded in time and memory. A real annual
# plan is a few hundred kB unpacked and a few thousand cells.
MAX_FILE_BYTES = 20 * 1024 * 1024          # the .xlsx itself
MAX_UNPACKED_BYTES = 40 * 1024 * 1024      # sum of the declared sizes of all zip members
MAX_MEMBERS = 2000
MAX_CELLS = 100_000                        # cells present in one worksheet
MAX_MERGED_CELLS = 1_000_000               # cells covered by merges (clipped to the data)


class PlanFormatError(ValueError):
    """The file is not an annual-plan table at all (not .xlsx, or no section captions),
    or it is unsafe to read (zip bomb, XML entity declarations, too many cells)."""


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


# ============================================================================ writer

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


def write_plan_xlsx(plan: AnnualPlan, path: str | Path) -> Path:
    """Write ``plan`` as the 附表 table. Same plan -> same bytes."""
    path = Path(path)
    wb = Workbook()
    ws = wb.active
    ws.title = "年度矿区生态修复情况表"
    for col, width in zip("ABCDEFG", (8, 44, 12, 20, 14, 12, 24)):
        ws.column_dimensions[col].width = width

    def put(r: int, c1: int, value: Any, c2: int | None = None, *, label: bool = False,
            number: bool = False, bold: bool = False, border: bool = True) -> None:
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

    def money(v: float | None) -> float | None:
        return None if v is None else round(float(v), 4)

    r = 1
    put(r, 1, f"{plan.plan_year}{TITLE_SUFFIX}", NCOLS, label=True, bold=True, border=False)
    ws.cell(row=r, column=1).font = Font(bold=True, size=16)
    ws.row_dimensions[r].height = 30
    hv = {f: getattr(plan, f) for f, _, _ in HEADER_LABELS}
    r += 1
    put(r, 1, "采矿权人名称", label=True)
    put(r, 2, hv["holder"], NCOLS)
    r += 1
    put(r, 1, "采矿权证证号", label=True)
    put(r, 2, hv["license_no"], 3)
    put(r, 4, "采矿权有效期限", label=True)
    put(r, 5, hv["validity"], NCOLS)
    r += 1
    put(r, 1, "矿山名称", label=True)
    put(r, 2, hv["mine_name"], NCOLS)
    r += 1
    put(r, 1, "联系人", label=True)
    put(r, 2, hv["contact_name"], 3)
    put(r, 4, "联系电话", label=True)
    put(r, 5, hv["contact_phone"], NCOLS)
    r += 1
    put(r, 1, "联系地址", label=True)
    put(r, 2, hv["contact_address"], NCOLS)

    fee_rows = {
        RESTORED: ("fees_last_year_drawn", "fees_last_year_used"),
        PLANNED: ("fees_this_year_planned_draw", "fees_this_year_planned_use"),
    }
    for section in (RESTORED, DAMAGE, PLANNED):
        r += 1
        put(r, 1, CAPTIONS[section], NCOLS, label=True, bold=True)
        r += 1
        cols = COLUMNS[section]
        spans = _DAMAGE_SPANS if section == DAMAGE else [(i, i) for i in range(1, NCOLS + 1)]
        for (fname, lab), (c1, c2) in zip(cols, spans):
            put(r, c1, lab, c2, label=True, bold=True)
        units = plan.section(section)
        if not units:
            r += 1
            for c1, c2 in spans[:len(cols)]:
                put(r, c1, None, c2)
        for u in units:
            r += 1
            text = u.corner_points or format_corner_points(u.geometry)
            values = {
                "seq": u.seq, "corner_points": text, "is_temporary": _yes_no(u.is_temporary),
                "land_class": _land_label(u.land_class),
                "area_hm2": None if u.area_hm2 is None else round(float(u.area_hm2), 4),
                "quality": u.quality, "accepted": _yes_no(u.accepted),
                "problem_type": u.problem_type, "damage_degree": u.damage_degree,
                "measures": u.measures,
            }
            for (fname, _), (c1, c2) in zip(cols, spans):
                put(r, c1, values[fname], c2, number=(fname == "area_hm2"))
            nlines = text.count("\n") + 1
            ws.row_dimensions[r].height = min(409, max(15, 13.5 * nlines))
        if section in fee_rows:
            a, b = fee_rows[section]
            r += 1
            put(r, 1, FEE_LABELS[a], 3, label=True)
            put(r, 4, money(getattr(plan, a)), number=True)
            put(r, 5, FEE_LABELS[b], 6, label=True)
            put(r, 7, money(getattr(plan, b)), number=True)
            ws.row_dimensions[r].height = 30
    for note in NOTES:
        r += 1
        put(r, 1, note, NCOLS, border=False)

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


# ============================================================================ reader

_DASHES = str.maketrans({"－": "-", "—": "-", "–": "-", "−": "-"})


def _nfkc(s: str) -> str:
    return unicodedata.normalize("NFKC", s)


def _key(v: Any) -> str:
    """Normalised label text: NFKC, no whitespace, no trailing colon."""
    if v is None:
        return ""
    s = re.sub(r"\s+", "", _nfkc(str(v)))
    return s.rstrip(":")


def _cell_text(v: Any) -> str:
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


_PLACEHOLDER = re.compile(r"^[.…。·\-—_/\\~～]*$|^(无|略|空)$")


def _is_placeholder(v: Any) -> bool:
    return v is None or bool(_PLACEHOLDER.match(_key(v)))


class _Grid:
    """A worksheet with merged cells resolved to their anchor.

    Built from the cells that exist in the file (never ``ws.iter_rows`` over the used
    rectangle, which would create millions of cells for a sheet with one value in row
    1 000 000), with merged ranges clipped to the rows and columns that hold values.
    """

    def __init__(self, ws) -> None:
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


def _caption_of(key: str) -> str | None:
    for section, cap in CAPTIONS.items():
        if cap in key and "费用" not in key and len(key) <= len(cap) + 8:
            return section
    return None


def _fee_of(key: str) -> str | None:
    for fname, k in _FEE_KEYS.items():
        if k in key and len(key) <= 40:
            return fname
    return None


def _header_of(key: str) -> str | None:
    for fname, _, accepted in HEADER_LABELS:
        if key in accepted:
            return fname
    return None


def _is_note(key: str) -> bool:
    return key == "注" or bool(re.match(r"^注:|^\d[.、]?(表中|各地类|各类金额)", key))


def _is_label(key: str) -> bool:
    return bool(_caption_of(key) or _fee_of(key) or _header_of(key))


def _column_field(key: str) -> str | None:
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


_TRUE = {"是", "√", "✓", "✔", "Y", "YES", "TRUE", "1", "对", "已完成", "已验收", "完成"}
_FALSE = {"否", "×", "✗", "✘", "X", "N", "NO", "FALSE", "0", "不是", "未完成", "未验收"}


def _parse_bool(v: Any) -> bool | None:
    if isinstance(v, bool):
        return v
    k = _key(v).upper()
    if k in _TRUE:
        return True
    if k in _FALSE:
        return False
    raise ValueError(k)


_AREA_UNITS = {  # factor to hm², and whether it is the regulation's unit
    "": (1.0, True), "HM2": (1.0, True), "公顷": (1.0, True), "HA": (1.0, True),
    "M2": (1e-4, False), "平方米": (1e-4, False), "亩": (1 / 15, False),
    "KM2": (100.0, False), "平方公里": (100.0, False), "平方千米": (100.0, False),
}
_MONEY_UNITS = {"": (1.0, True), "万元": (1.0, True), "万": (1.0, True), "元": (1e-4, False)}


def _parse_quantity(v: Any, units: dict[str, tuple[float, bool]],
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
    k = _key(v).replace(",", "").upper()
    m = re.fullmatch(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+))(.*)", k)
    if not m or m.group(2) not in units:
        raise ValueError(k)
    factor, own = units[m.group(2) or default_unit]
    return float(m.group(1)) * factor, own


def _unit_in_label(key: str, units: dict[str, tuple[float, bool]]) -> str:
    """Unit written in a column/field label, e.g. "面积(亩)" -> "亩"; "" when none/unknown."""
    m = re.search(r"\(([^()]*)\)", key)
    u = m.group(1).upper() if m else ""
    return u if u in units else ""


def _find_sheet(wb, file: str):
    for ws in wb.worksheets:
        if len(ws._cells) > MAX_CELLS:  # noqa: SLF001
            raise PlanFormatError(
                f"{file}: 工作表“{ws.title}”单元格过多({len(ws._cells)}个), 不像年度计划表 / sheet "
                f"{ws.title!r} has {len(ws._cells)} cells (limit {MAX_CELLS})")
        for cell in ws._cells.values():  # noqa: SLF001 - never create cells
            v = cell.value
            if isinstance(v, str) and _caption_of(_key(v)):
                return ws
    missing = "、".join(CAPTIONS.values())
    raise PlanFormatError(
        f"{file}: 不是年度矿区生态修复情况表, 未找到栏目({missing}) / not an annual-plan table: "
        f"none of the section captions found in sheets {wb.sheetnames}")


_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_CELL_TAG = re.compile(rb"<(?:\w+:)?c[\s>/]")


def _check_package(path: Path, file: str) -> None:
    """Refuse zip bombs and XML with DTDs before any XML parser sees the file."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise PlanFormatError(f"{file}: 文件过大({size}字节) / file too large ({size} bytes, "
                              f"limit {MAX_FILE_BYTES})")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise PlanFormatError(
            f"{file}: 不是有效的xlsx文件(如为.xls请另存为.xlsx) / not a readable .xlsx file: "
            f"{type(e).__name__}: {e}") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise PlanFormatError(f"{file}: xlsx压缩包内文件过多 / too many zip members ({len(infos)})")
        total = sum(i.file_size for i in infos)
        if total > MAX_UNPACKED_BYTES:
            raise PlanFormatError(
                f"{file}: 解压后过大({total}字节), 疑似压缩炸弹 / unpacks to {total} bytes "
                f"(limit {MAX_UNPACKED_BYTES}): refused as a possible zip bomb")
        for info in infos:
            if not info.filename.lower().endswith((".xml", ".rels", ".vml")):
                continue
            try:
                sheet = info.filename.lower().startswith("xl/worksheets/")
                with zf.open(info) as fh:
                    tail = b""
                    n_cells = 0
                    while chunk := fh.read(1 << 16):
                        if _DTD.search(tail + chunk):
                            raise PlanFormatError(
                                f"{file}: {info.filename} 含有XML实体/DTD声明, 拒绝读取 / contains "
                                f"an XML DTD or entity declaration (refused: entity expansion)")
                        if sheet:
                            n_cells += len(_CELL_TAG.findall(chunk))
                            if n_cells > MAX_CELLS:
                                raise PlanFormatError(
                                    f"{file}: 工作表单元格过多(超过{MAX_CELLS}个), 不像年度计划表 / "
                                    f"{info.filename} has more than {MAX_CELLS} cells")
                        tail = chunk[-16:]
            except PlanFormatError:
                raise
            except Exception as e:  # bad CRC, unsupported compression, truncated member
                raise PlanFormatError(f"{file}: xlsx压缩包损坏 / damaged .xlsx member "
                                      f"{info.filename}: {type(e).__name__}: {e}") from None


def read_plan_xlsx(path: str | Path, *, area_tolerance: float = 0.05) -> PlanReadResult:
    """Read one annual-plan .xlsx into an :class:`AnnualPlan` plus findings.

    ``area_tolerance``: relative difference between the declared 面积 and the ellipsoidal
    area of the 拐点坐标 polygon above which an ``AREA_MISMATCH`` warning is given.
    """
    path = Path(path)
    file = path.name
    if not path.is_file():
        raise FileNotFoundError(f"{path}: 文件不存在 / no such file")
    _check_package(path, file)
    try:
        wb = load_workbook(path, data_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:  # BadZipFile, InvalidFileException, KeyError, XML errors...
        raise PlanFormatError(
            f"{file}: 不是有效的xlsx文件(如为.xls请另存为.xlsx) / not a readable .xlsx file: "
            f"{type(e).__name__}: {e}") from None
    ws = _find_sheet(wb, file)
    g = _Grid(ws)
    findings: list[Finding] = []

    def add(row: int | None, fld: str, value: Any, rule: str, severity: str, msg: str) -> None:
        findings.append(Finding(file=file, sheet=g.title, row=row, field=fld,
                                value=_cell_text(value), rule=rule, severity=severity,
                                message_zh=msg))

    # ---- structure: title, captions, fee labels, header labels, notes
    captions: dict[str, int] = {}
    fee_cells: dict[str, tuple[int, int]] = {}
    header_cells: dict[str, tuple[int, int]] = {}
    structural: set[int] = set()
    year: int | None = None
    title_row = None
    cells: dict[tuple[str, int | None], CellRef] = {}
    for r in g.rows:
        for c, v in g.row_cells(r):
            k = _key(v)
            if not k:
                continue
            if year is None:
                m = re.search(r"(\d{4})年度?矿区生态修复(?:情况表|计划)", k)
                if m:
                    year, title_row = int(m.group(1)), r
                    cells[("plan_year", None)] = CellRef(r, "标题", v)
                    structural.add(r)
                    continue
            sec = _caption_of(k)
            if sec:
                if sec not in captions:
                    captions[sec] = r
                structural.add(r)
                continue
            fee = _fee_of(k)
            if fee:
                fee_cells.setdefault(fee, (r, c))
                structural.add(r)
                continue
            hdr = _header_of(k)
            if hdr:
                header_cells.setdefault(hdr, (r, c))
                continue
            if _is_note(k):
                structural.add(r)
    if year is None:
        m = re.search(r"(20\d{2})", _nfkc(path.stem))
        if m:
            year = int(m.group(1))
            add(title_row, "标题", "", "PLAN_YEAR_FROM_FILENAME", WARNING,
                f"标题中没有计划年度, 按文件名取{year}年 / plan year taken from the file name")
        else:
            add(title_row, "标题", "", "MISSING_PLAN_YEAR", ERROR,
                "标题中没有计划年度(应为“XXXX年度矿区生态修复情况表”)")

    def cell_right_of(r: int, c: int) -> tuple[int, Any]:
        end = g.cols_of(r, c)[1]
        for c2, v in g.row_cells(r):
            if c2 > end:
                return (c2, None) if _is_label(_key(v)) else (c2, v)
        return (0, None)

    def value_right_of(r: int, c: int) -> Any:
        return cell_right_of(r, c)[1]

    # ---- header block
    header: dict[str, str] = {}
    for fname, label, _ in HEADER_LABELS:
        if fname not in header_cells:
            add(None, label, "", "MISSING_HEADER_FIELD", ERROR if fname == "license_no" else WARNING,
                f"表头缺少“{label}”栏")
            header[fname] = ""
            continue
        r, c = header_cells[fname]
        header[fname] = _cell_text(value_right_of(r, c))
        if fname in ("license_no", "contact_phone"):  # full-width digits, stray spaces
            header[fname] = _nfkc(header[fname]).translate(_DASHES)
            if fname == "license_no":
                header[fname] = re.sub(r"\s+", "", header[fname])
        cells[(fname, None)] = CellRef(r, label, value_right_of(r, c))
        if not header[fname] and fname in ("license_no", "holder", "mine_name"):
            add(r, label, "", "MISSING_HEADER_VALUE", ERROR if fname == "license_no" else WARNING,
                f"“{label}”未填写")

    # ---- fees
    fees: dict[str, float | None] = {}
    for fname, label in FEE_LABELS.items():
        if fname not in fee_cells:
            fees[fname] = None
            continue
        r, c = fee_cells[fname]
        vc, v = cell_right_of(r, c)
        cells[(fname, None)] = CellRef(r, label, v, g.number_format(r, vc) if vc else "")
        if _is_placeholder(v):
            fees[fname] = None
            continue
        try:
            amount, own = _parse_quantity(v, _MONEY_UNITS,
                                          _unit_in_label(_key(g.raw(r, c)), _MONEY_UNITS))
        except ValueError:
            add(r, label, v, "BAD_MONEY", ERROR, "金额无法识别, 应为以万元为单位的数字")
            fees[fname] = None
            continue
        if not own:
            add(r, label, v, "MONEY_UNIT_CONVERTED", WARNING, "金额单位不是万元, 已换算为万元")
        if amount < 0:
            add(r, label, v, "NEGATIVE_MONEY", ERROR, "金额不能为负数")
            fees[fname] = None
            continue
        fees[fname] = round(amount, 4)

    # ---- sections
    units: list[Unit] = []
    for section in (RESTORED, DAMAGE, PLANNED):
        cap = CAPTIONS[section]
        if section not in captions:
            add(None, cap, "", "MISSING_SECTION", ERROR if section == PLANNED else WARNING,
                f"缺少“{cap}”栏目")
            continue
        units.extend(_read_section(g, section, captions[section], structural, add, area_tolerance,
                                   cells))

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
    return PlanReadResult(plan=plan, findings=findings, file=str(path), sheet=g.title, cells=cells)


def _read_section(g: _Grid, section: str, cap_row: int, structural: set[int], add,
                  area_tolerance: float, cells: dict | None = None) -> list[Unit]:
    cap = CAPTIONS[section]
    cells = {} if cells is None else cells
    end = min([r for r in structural if r > cap_row] + [g.max_row + 1])
    header_row = None
    for r in g.rows_between(cap_row, end):
        if any(_key(v) == "序号" for _, v in g.row_cells(r)):
            header_row = r
            break
    if header_row is None:
        add(cap_row, cap, "", "MISSING_COLUMN_HEADER", ERROR, f"“{cap}”栏目下没有找到列标题行(序号、范围……)")
        return []
    colmap: dict[str, tuple[int, int, str]] = {}
    for c, v in g.row_cells(header_row):
        k = _key(v)
        f = _column_field(k)
        if f and f not in colmap:
            c1, c2 = g.cols_of(header_row, c)
            colmap[f] = (c1, c2, k)
    wanted = [f for f, _ in COLUMNS[section]]
    labels = dict(COLUMNS[section])
    for f in wanted:
        if f not in colmap:
            add(header_row, labels[f], "", "MISSING_COLUMN",
                ERROR if f == "corner_points" else WARNING, f"“{cap}”缺少“{labels[f]}”列")
    if "corner_points" not in colmap:
        return []

    def label_of(f: str) -> str:
        return colmap[f][2] if f in colmap else labels[f]

    area_unit = _unit_in_label(colmap["area_hm2"][2], _AREA_UNITS) if "area_hm2" in colmap else ""
    cp1, cp2, _ = colmap["corner_points"]
    seq_col = colmap["seq"][0] if "seq" in colmap else None

    def coord_line(r: int) -> str:
        """This row's own part of the 拐点坐标: one cell, or 点号 | X | Y cells joined."""
        parts = [g.own(r, c) for c in range(cp1, cp2 + 1)]
        parts = [p for p in parts if p is not None]
        if len(parts) == 1:
            p = parts[0]
            return p.strip() if isinstance(p, str) else _cell_text(p)
        return ",".join(_cell_text(p) for p in parts)

    def single_point(line: str) -> bool:
        return bool(line) and "\n" not in line.strip() and not _is_placeholder(line)

    # Group the rows into units. A unit's 拐点坐标 may be spread over several rows, one
    # point per row (its other cells merged down, or left empty on the following rows).
    groups: list[tuple[int, dict[str, Any], list[str]]] = []
    for r in g.rows_between(header_row, end):
        vals: dict[str, Any] = {}
        for f, (c1, c2, _) in colmap.items():
            v = None
            for c in range(c1, c2 + 1):
                v = g.raw(r, c)
                if v is not None:
                    break
            vals[f] = v
        if _key(vals.get("seq")) == "序号":
            continue  # repeated header row
        line = coord_line(r)
        others_empty = all(_is_placeholder(v) for f, v in vals.items() if f != "corner_points")
        if others_empty and line and not line.startswith(("*", "＊")) \
                and not re.search(r"\d", _nfkc(line)) and not _is_placeholder(line):
            continue  # sub-header under a split coordinate column: 点号 | X | Y
        if groups and single_point(line) and all(single_point(x) for x in groups[-1][2]):
            merged = seq_col is not None and g.merged_from_above(r, seq_col)
            own_empty = all(_is_placeholder(g.own(r, c)) for f, (c1, c2, _) in colmap.items()
                            if f != "corner_points" for c in range(c1, c2 + 1))
            if merged or own_empty:
                groups[-1][2].append(line)
                continue
        groups.append((r, vals, [line] if line else []))

    out: list[Unit] = []
    count = 0
    for r, vals, lines in groups:
        if len(lines) > 1:
            vals["corner_points"] = "\n".join(lines)
        filled = {f for f, v in vals.items() if not _is_placeholder(v)}
        if not filled or filled == {"seq"}:
            continue  # blank, "……" or numbered-but-empty template row
        if "area_hm2" in colmap:
            c1, c2, lab = colmap["area_hm2"]
            ac = next((c for c in range(c1, c2 + 1) if g.raw(r, c) is not None), c1)
            cells[("area_hm2", r)] = CellRef(r, lab, g.raw(r, ac), g.number_format(r, ac))
        count += 1
        errors = 0

        def bad(f: str, rule: str, msg: str, severity: str = ERROR) -> None:
            nonlocal errors
            errors += severity == ERROR
            add(r, label_of(f), vals.get(f), rule, severity, msg)

        # 序号
        seq = count
        sv = vals.get("seq")
        if _is_placeholder(sv):
            bad("seq", "MISSING_SEQ", f"序号未填写, 按顺序记为{count}", WARNING)
        else:
            m = re.match(r"^(\d+)", _key(_cell_text(sv)))
            if m:
                seq = int(m.group(1))
            else:
                bad("seq", "BAD_SEQ", f"序号无法识别, 按顺序记为{count}", WARNING)
        # 范围（拐点坐标）
        text = vals.get("corner_points")
        geom = None
        if _is_placeholder(text):
            bad("corner_points", "MISSING_CORNER_POINTS", "范围（拐点坐标）未填写")
            text = ""
        else:
            text = str(text).strip() if isinstance(text, str) else _cell_text(text)
            try:
                geom = parse_corner_points(text)
            except CoordinateError as e:
                bad("corner_points", "BAD_CORNER_POINTS", f"拐点坐标有误: {e}")
        # 是否为临时用地
        is_temp = False
        if "is_temporary" in wanted and "is_temporary" in colmap:
            v = vals.get("is_temporary")
            if _is_placeholder(v):
                bad("is_temporary", "MISSING_VALUE", "是否为临时用地未填写, 按“否”处理", WARNING)
            else:
                try:
                    is_temp = bool(_parse_bool(v))
                except ValueError:
                    bad("is_temporary", "BAD_YES_NO", "是否为临时用地应填“是”或“否”")
        # 地类
        land = ""
        if "land_class" in wanted and "land_class" in colmap:
            v = vals.get("land_class")
            if _is_placeholder(v):
                bad("land_class", "MISSING_LAND_CLASS", "地类未填写(应填三调地类, 如“0404 其他草地”)")
            else:
                lc = lookup(_cell_text(v))
                if lc is None and isinstance(v, (int, float)) and not isinstance(v, bool) \
                        and float(v) == int(v):
                    lc = lookup(str(int(v)).zfill(4))
                    if lc is not None:
                        bad("land_class", "LAND_CLASS_CODE_AS_NUMBER",
                            f"地类编码被存为数字(前导0丢失), 按“{lc.label}”处理", WARNING)
                if lc is not None:
                    land = lc.code
                elif group_of_name(_cell_text(v)):
                    bad("land_class", "LAND_CLASS_NOT_SPECIFIC",
                        "地类只填了一级类, 应填三调二级地类(如“0103 旱地”)")
                else:
                    bad("land_class", "UNKNOWN_LAND_CLASS",
                        "地类不在三调地类表中(应填三调地类编码和名称, 如“0404 其他草地”)")
        # 面积
        area = None
        v = vals.get("area_hm2")
        if "area_hm2" in colmap:
            if _is_placeholder(v):
                bad("area_hm2", "MISSING_AREA", "面积未填写", WARNING)
            else:
                try:
                    area, own = _parse_quantity(v, _AREA_UNITS, area_unit)
                    if not own:
                        bad("area_hm2", "AREA_UNIT_CONVERTED", "面积单位不是hm², 已换算为hm²", WARNING)
                    if area <= 0:
                        bad("area_hm2", "NON_POSITIVE_AREA", "面积应大于0")
                    area = round(area, 4)
                except ValueError:
                    bad("area_hm2", "BAD_AREA", "面积无法识别, 应为以hm²为单位的数字(保留4位小数)")
        if geom is not None and area is not None and area > 0:
            computed = area_hm2(geom)
            if abs(computed - area) > max(1e-4, area_tolerance * area):
                bad("area_hm2", "AREA_MISMATCH",
                    f"填报面积{area:.4f}hm²与拐点坐标计算面积{computed:.4f}hm²不符", WARNING)
        # 是否完成验收
        accepted = None
        if "accepted" in wanted and "accepted" in colmap:
            v = vals.get("accepted")
            if not _is_placeholder(v):
                try:
                    accepted = _parse_bool(v)
                except ValueError:
                    bad("accepted", "BAD_YES_NO", "是否完成验收应填“是”或“否”")

        def text_of(f: str) -> str:
            return "" if f not in wanted or _is_placeholder(vals.get(f)) else _cell_text(vals.get(f))

        if errors or geom is None:
            continue
        out.append(Unit(
            section=section, seq=seq, geometry=geom, corner_points=text, area_hm2=area,
            is_temporary=is_temp, land_class=land, quality=text_of("quality"),
            accepted=accepted, problem_type=text_of("problem_type"),
            damage_degree=text_of("damage_degree"), measures=text_of("measures"), row=r))
    return out


def read_plans(folder_or_file: str | Path) -> list[PlanReadResult]:
    """Read one file or every .xlsx/.xlsm/.xls in a folder (sorted by file name).

    Never raises for content: a file that is not the table gives a result with
    ``plan=None`` and a ``NOT_A_PLAN_TABLE`` error finding.
    """
    p = Path(folder_or_file)
    if p.is_dir():
        files = sorted((f for f in p.iterdir()
                        if f.is_file() and f.suffix.lower() in (".xlsx", ".xlsm", ".xls")
                        and not f.name.startswith(("~$", "."))), key=lambda f: f.name)
    else:
        files = [p]
    out = []
    for f in files:
        try:
            out.append(read_plan_xlsx(f))
        except PlanFormatError as e:
            out.append(PlanReadResult(plan=None, file=str(f), findings=[Finding(
                file=f.name, sheet="", row=None, field="", value="", rule="NOT_A_PLAN_TABLE",
                severity=ERROR, message_zh=str(e))]))
    return out
