"""Validation of a read annual plan: the rules an inspector acts on.

:func:`minewatch.promised.planreader.read_plan_xlsx` already reports what is wrong with single
cells (unknown land class, unparsable or invalid 拐点坐标, bad numbers). This module adds
the rules that look across cells, across rows and at the registry:

=============================  ========  ==================================================
rule                           severity  what
=============================  ========  ==================================================
AREA_MISMATCH                  error     declared 面积 differs from the ellipsoidal area of
                                         the 拐点坐标 by more than ``area_tolerance``
UNIT_OUTSIDE_BOUNDARY          error     a restored / planned unit that is not temporary
                                         land (临时用地) lies (partly) outside the mining-right
                                         boundary
UNITS_OVERLAP                  error     two units of the same section overlap
RESTORED_PLANNED_OVERLAP       error     a unit restored last year *and accepted* (已验收) is
                                         planned for restoration again this year
NOT_4_DECIMALS                 warning   an area (hm²) or amount (万元) not written with 4
                                         decimals (附表 notes 2 and 3)
FEES_USED_EXCEED_DRAWN         error     上年度实际使用金额 > 实际提取金额
FEES_PLANNED_USE_EXCEEDS_DRAW  error     本年度拟使用金额 > 拟提取金额
PLAN_RECEIVED_LATE             warning   plan for year Y received after 31 March of Y
LICENCE_NOT_REGISTERED         error     采矿权证证号 not in the registry
PLAN_YEAR_OUTSIDE_VALIDITY     error     plan year outside the licence's validity
=============================  ========  ==================================================

Validation never removes units from the plan (the reader's row rule stays as it was):
its errors say that what was filed contradicts itself or the registry.

Where the received date comes from: the table has no field for it (the county bureau
stamps it), so it is an argument, ``received``; else ``plan.submitted``; and
:func:`check_files` / :func:`read_receipts` read it from an optional ``receipts.csv``
beside the plans, UTF-8 with a header::

    license_no,plan_year,received
    C1506222021071110000001,2026,2026-03-28

Without a received date the lateness rule is skipped (no finding).
"""
from __future__ import annotations

import csv
import dataclasses
import math
import re
import unicodedata
from datetime import date
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from shapely.strtree import STRtree

from .coords import area_hm2
from .findings import ERROR, WARNING, Finding
from .models import DAMAGE, PLANNED, RESTORED, SECTIONS, MiningRight
from .package import PlanFormatError
from .planreader import DEFAULT_AREA_TOLERANCE, CellRef, PlanReadResult, read_plan_xlsx
from .table import CAPTIONS, COLUMNS, FEE_LABELS

__all__ = [
    "RULES", "RECEIPTS_FILE", "due_date", "validate_plan",
    "read_receipts", "apply_receipts", "check_file", "check_files",
]

RECEIPTS_FILE = "receipts.csv"
MIN_AREA_DIFF_HM2 = 0.0001          # what 4 decimals can express
OVERLAP_TOLERANCE_HM2 = 0.001       # 10 m²: slivers from coordinates rounded to 1 cm

# rule -> (severity, Chinese name)
RULES = {
    "AREA_MISMATCH": (ERROR, "填报面积与拐点坐标面积不符"),
    "UNIT_OUTSIDE_BOUNDARY": (ERROR, "修复单元超出矿区范围"),
    "UNITS_OVERLAP": (ERROR, "修复单元相互重叠"),
    "RESTORED_PLANNED_OVERLAP": (ERROR, "已验收单元再次列入修复计划"),
    "NOT_4_DECIMALS": (WARNING, "未保留4位小数"),
    "FEES_USED_EXCEED_DRAWN": (ERROR, "实际使用金额超过实际提取金额"),
    "FEES_PLANNED_USE_EXCEEDS_DRAW": (ERROR, "拟使用金额超过拟提取金额"),
    "PLAN_RECEIVED_LATE": (WARNING, "年度计划逾期报送"),
    "LICENCE_NOT_REGISTERED": (ERROR, "采矿权证号不在登记库中"),
    "PLAN_YEAR_OUTSIDE_VALIDITY": (ERROR, "计划年度不在采矿权有效期内"),
}
_LABEL = {s: dict(COLUMNS[s]) for s in SECTIONS}
_CP_LABEL = unicodedata.normalize("NFKC", "范围（拐点坐标）")  # as the reader labels it
_SECTION_ZH = {RESTORED: "上年度修复", DAMAGE: "现状损毁", PLANNED: "本年度计划"}


def due_date(plan_year: int) -> date:
    """The annual plan for year Y is due at the county bureau by 31 March of Y."""
    return date(plan_year, 3, 31)


def _fmt_area(x: float) -> str:
    return f"{x:.4f}"


# ------------------------------------------------------------------------ decimals

def _shown_decimals(value: Any, number_format: str) -> int | None:
    """Decimals the filer wrote / Excel shows; None when it cannot be told."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            return None
        fmt = (number_format or "General").split(";")[0]
        fmt = re.sub(r'"[^"]*"|\\.', "", fmt)
        if fmt.strip().lower() in ("general", "@", ""):
            s = repr(float(value))
            if "e" in s or "E" in s:
                return None
            frac = s.split(".")[1].rstrip("0") if "." in s else ""
            return len(frac)
        m = re.search(r"\.([0#?]+)", fmt)
        shown = len(m.group(1)) if m else 0
        scaled = float(value) * 10 ** 4
        if abs(scaled - round(scaled)) > max(1e-6, abs(scaled) * 1e-12):
            return max(shown, 5)  # more precision stored than 4 decimals
        return shown
    text = unicodedata.normalize("NFKC", str(value)).replace(",", "").strip()
    m = re.match(r"^[+-]?\d*(?:\.(\d*))?", text)
    if not m or not re.match(r"^[+-]?(\d|\.\d)", text):
        return None
    return len(m.group(1) or "")


def _decimal_findings(result: PlanReadResult, add: Callable[[int | None, str, Any, str, str], None]) -> None:
    for (fld, _row), cell in sorted(result.cells.items(), key=lambda kv: (kv[1].row or 0, kv[0][0])):
        if fld != "area_hm2" and fld not in FEE_LABELS:
            continue
        v = cell.value
        if v is None or (isinstance(v, str) and not v.strip()):
            continue
        if isinstance(v, str):
            unit = re.sub(r"[\d.,+\-\s]", "", unicodedata.normalize("NFKC", v)).upper()
            if unit not in ("", "HM2", "公顷", "HA", "万元", "万"):
                continue  # a converted unit (亩, 元 ...) is reported by the reader
        n = _shown_decimals(v, cell.number_format)
        if n is None or n == 4:
            continue
        what = "面积(hm²)" if fld == "area_hm2" else "金额(万元)"
        add(cell.row, cell.label, v, "NOT_4_DECIMALS",
            f"{what}应保留小数点后四位, 此处为{n}位" if n <= 4 else f"{what}应保留小数点后四位, 此处超过四位")


# --------------------------------------------------------------------- validation

def validate_plan(result: PlanReadResult, rights_by_licence: Mapping[str, MiningRight] | None = None,
                  *, area_tolerance: float = DEFAULT_AREA_TOLERANCE, received: date | None = None,
                  overlap_tolerance_hm2: float = OVERLAP_TOLERANCE_HM2) -> list[Finding]:
    """All findings of one read plan file: the reader's plus the cross-cell rules.

    ``rights_by_licence``: the registry (license_no -> MiningRight); None skips the
    registry rules (licence, validity, boundary). ``received``: the date the county
    bureau received the plan (else ``plan.submitted``; None skips the lateness rule).
    The reader's ``AREA_MISMATCH`` warnings for units in the plan are replaced by this
    check at ``area_tolerance``. Returned sorted by row (file-level findings first).
    """
    plan = result.plan
    file = Path(result.file).name if result.file else (Path(plan.source).name if plan else "")
    sheet = result.sheet
    kept_rows = {u.row for u in plan.units} if plan is not None else set()
    findings = [f for f in result.findings
                if not (f.rule == "AREA_MISMATCH" and f.row in kept_rows)]
    if plan is None:
        return findings
    new: list[Finding] = []

    def add(row: int | None, fld: str, value: Any, rule: str, msg: str) -> None:
        sev, name = RULES[rule]
        text = value if isinstance(value, str) else ("" if value is None else _value_text(value))
        new.append(Finding(file=file, sheet=sheet, row=row, field=fld, value=text, rule=rule,
                           severity=sev, message_zh=f"{name}: {msg}"))

    def cell(key: str) -> CellRef:
        return result.cells.get((key, None)) or CellRef(None, key)

    # ---- areas: declared vs computed
    for u in plan.units:
        if u.area_hm2 is None or u.area_hm2 <= 0:
            continue
        computed = area_hm2(u.geometry)
        if abs(computed - u.area_hm2) > max(MIN_AREA_DIFF_HM2, area_tolerance * u.area_hm2):
            c = result.cells.get(("area_hm2", u.row))
            add(u.row, c.label if c else _LABEL[u.section]["area_hm2"], c.value if c else u.area_hm2,
                "AREA_MISMATCH",
                f"填报{_fmt_area(u.area_hm2)}hm², 按拐点坐标计算为{_fmt_area(computed)}hm², "
                f"相差{abs(computed - u.area_hm2) / u.area_hm2:.1%}(容差{area_tolerance:.0%})")

    # ---- overlaps within a section
    cp = _CP_LABEL
    for section in SECTIONS:
        units = sorted(plan.section(section), key=lambda u: (u.row or 0, u.seq))
        if len(units) < 2:
            continue
        tree = STRtree([u.geometry for u in units])
        for j, u in enumerate(units):
            for i in sorted(int(k) for k in tree.query(u.geometry, predicate="intersects")):
                if i >= j:
                    continue
                o = units[i]
                inter = area_hm2(u.geometry.intersection(o.geometry))
                if inter > overlap_tolerance_hm2:
                    add(u.row, cp, u.corner_points, "UNITS_OVERLAP",
                        f"“{CAPTIONS[section]}”第{u.seq}号单元与第{o.seq}号单元(第{o.row}行)重叠"
                        f"{_fmt_area(inter)}hm²")
    # ---- restored and accepted last year, planned again this year
    restored = [u for u in plan.section(RESTORED) if u.accepted]
    for p in sorted(plan.section(PLANNED), key=lambda u: (u.row or 0, u.seq)):
        for o in restored:
            if not p.geometry.intersects(o.geometry):
                continue
            inter = area_hm2(p.geometry.intersection(o.geometry))
            if inter > overlap_tolerance_hm2:
                add(p.row, cp, p.corner_points, "RESTORED_PLANNED_OVERLAP",
                    f"本年度计划第{p.seq}号单元与上年度已修复并通过验收的第{o.seq}号单元(第{o.row}行)"
                    f"重叠{_fmt_area(inter)}hm², 两者矛盾(已验收的土地不应再列入修复计划)")

    # ---- 4 decimals
    _decimal_findings(result, add)

    # ---- fees
    for used, drawn, rule, msg in (
            ("fees_last_year_used", "fees_last_year_drawn", "FEES_USED_EXCEED_DRAWN",
             "上年度实际使用{u}万元, 超过实际提取的{d}万元"),
            ("fees_this_year_planned_use", "fees_this_year_planned_draw", "FEES_PLANNED_USE_EXCEEDS_DRAW",
             "本年度拟使用{u}万元, 超过拟提取的{d}万元")):
        u, d = getattr(plan, used), getattr(plan, drawn)
        if u is not None and d is not None and u > d + 1e-9:
            c = cell(used)
            add(c.row, FEE_LABELS[used], c.value if c.value is not None else u, rule,
                msg.format(u=f"{u:.4f}", d=f"{d:.4f}"))

    # ---- received after 31 March
    title = cell("plan_year")
    received = received or plan.submitted
    if received is not None and received > due_date(plan.plan_year):
        days = (received - due_date(plan.plan_year)).days
        add(title.row, "报送日期", received.isoformat(), "PLAN_RECEIVED_LATE",
            f"{plan.plan_year}年度计划应于{plan.plan_year}年3月31日前报送, {received.isoformat()}收到, "
            f"逾期{days}天")

    # ---- registry
    if rights_by_licence is not None:
        lic = cell("license_no")
        right = rights_by_licence.get(plan.license_no)
        if right is None:
            add(lic.row, "采矿权证证号", plan.license_no, "LICENCE_NOT_REGISTERED",
                f"采矿权证号{plan.license_no}在采矿权登记库中不存在(请核对证号)")
        else:
            if not right.valid_from.year <= plan.plan_year <= right.valid_to.year:
                add(title.row, "标题", title.value if title.value is not None else plan.plan_year,
                    "PLAN_YEAR_OUTSIDE_VALIDITY",
                    f"计划年度{plan.plan_year}不在采矿权有效期{right.valid_from.isoformat()}至"
                    f"{right.valid_to.isoformat()}内")
            boundary = right.boundary
            for u in sorted(plan.units, key=lambda u: (u.row or 0, u.seq)):
                if u.section == DAMAGE or u.is_temporary:
                    continue
                if boundary.covers(u.geometry):
                    continue
                outside = area_hm2(u.geometry.difference(boundary))
                if outside > overlap_tolerance_hm2:
                    add(u.row, cp, u.corner_points, "UNIT_OUTSIDE_BOUNDARY",
                        f"“{CAPTIONS[u.section]}”第{u.seq}号单元有{_fmt_area(outside)}hm²在采矿权范围之外, "
                        f"且未标为临时用地")

    return sorted(findings + new, key=lambda f: (f.row is not None, f.row or 0))


def _value_text(v: Any) -> str:
    if isinstance(v, float) and math.isfinite(v) and v == int(v):
        return str(int(v))
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, date):
        return v.isoformat()
    return str(v).strip()


# ------------------------------------------------------------------------ receipts

def read_receipts(path: str | Path) -> tuple[dict[tuple[str, int], date], list[Finding]]:
    """``receipts.csv`` (license_no, plan_year, received) -> {(licence, year): date}.

    ``path`` is the file or the plans folder that holds it; a missing file gives {}.
    Bad rows become warnings (rule ``BAD_RECEIPT``); of duplicates the earliest date counts.
    """
    p = Path(path)
    if p.is_dir():
        p = p / RECEIPTS_FILE
    elif p.suffix.lower() != ".csv":   # a plan file: its folder's receipts
        p = p.parent / RECEIPTS_FILE
    out: dict[tuple[str, int], date] = {}
    findings: list[Finding] = []
    if not p.is_file():
        return out, findings

    def bad(row: int | None, fld: str, value: str, msg: str) -> None:
        findings.append(Finding(file=p.name, sheet="", row=row, field=fld, value=value,
                                rule="BAD_RECEIPT", severity=WARNING, message_zh=msg))

    try:
        with p.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            cols = [c.strip() for c in (reader.fieldnames or [])]
            missing = [c for c in ("license_no", "plan_year", "received") if c not in cols]
            if missing:
                bad(1, "、".join(missing), "", f"报送登记表缺少列 {missing} / receipts.csv lacks columns")
                return out, findings
            for i, raw in enumerate(reader, start=2):
                rec = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if isinstance(v, str)}
                lic, year, rec_d = rec.get("license_no", ""), rec.get("plan_year", ""), rec.get("received", "")
                if not lic:
                    bad(i, "license_no", "", "采矿权证号为空")
                    continue
                if not re.fullmatch(r"\d{4}", year):
                    bad(i, "plan_year", year, "计划年度应为4位年份")
                    continue
                try:
                    d = date.fromisoformat(rec_d)
                except ValueError:
                    bad(i, "received", rec_d, "收到日期应为YYYY-MM-DD")
                    continue
                key = (lic, int(year))
                if key in out:
                    bad(i, "license_no", lic, f"{lic} {year}年度重复登记, 取较早日期")
                    d = min(d, out[key])
                out[key] = d
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        bad(None, "", "", f"报送登记表无法读取 / receipts.csv unreadable: {type(e).__name__}: {e}")
    return out, findings


def apply_receipts(results: Iterable[PlanReadResult],
                   receipts: Mapping[tuple[str, int], date]) -> list[PlanReadResult]:
    """Results whose plans carry ``submitted`` from the receipts (plans stay frozen)."""
    out = []
    for r in results:
        if r.plan is not None and r.plan.submitted is None:
            d = receipts.get((r.plan.license_no, r.plan.plan_year))
            if d is not None:
                r = dataclasses.replace(r, plan=dataclasses.replace(r.plan, submitted=d))
        out.append(r)
    return out


# -------------------------------------------------------------------------- files

def _file_finding(path: Path, rule: str, msg: str) -> Finding:
    return Finding(file=path.name, sheet="", row=None, field="", value="", rule=rule,
                   severity=ERROR, message_zh=msg)


def check_file(path: str | Path, rights_by_licence: Mapping[str, MiningRight] | None = None, *,
               area_tolerance: float = DEFAULT_AREA_TOLERANCE,
               receipts: Mapping[tuple[str, int], date] | None = None) -> PlanReadResult:
    """Read and validate one file; never raises for what is in the file.

    ``receipts`` None: read ``receipts.csv`` beside the file (if any).
    """
    path = Path(path)
    try:
        res = read_plan_xlsx(path, area_tolerance=area_tolerance)
    except FileNotFoundError:
        return PlanReadResult(None, [_file_finding(path, "FILE_NOT_FOUND", f"{path}: 文件不存在 / no such file")],
                              str(path))
    except PlanFormatError as e:
        return PlanReadResult(None, [_file_finding(path, "NOT_A_PLAN_TABLE", str(e))], str(path))
    except (MemoryError, RecursionError, OSError) as e:
        return PlanReadResult(None, [_file_finding(path, "READ_FAILED",
                                                   f"{path.name}: 文件无法读取 / cannot read: "
                                                   f"{type(e).__name__}: {e}")],
                              str(path))
    if receipts is None:
        receipts, _ = read_receipts(path.parent)
    res = apply_receipts([res], receipts)[0]
    res.findings = validate_plan(res, rights_by_licence, area_tolerance=area_tolerance)
    return res


def check_files(paths: Iterable[str | Path], rights_by_licence: Mapping[str, MiningRight] | None = None,
                *, area_tolerance: float = DEFAULT_AREA_TOLERANCE) -> list[PlanReadResult]:
    """:func:`check_file` for each path; a folder stands for its .xlsx files. Problems of a
    ``receipts.csv`` come as one more result (``plan=None``) for that file."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(f for f in p.iterdir() if f.is_file()
                            and f.suffix.lower() in (".xlsx", ".xlsm") and not f.name.startswith(("~$", ".")))
        else:
            files.append(p)
    out: list[PlanReadResult] = []
    receipts_by_dir: dict[Path, dict] = {}
    for f in files:
        d = f.parent.resolve()
        if d not in receipts_by_dir:
            rec, problems = read_receipts(d)
            receipts_by_dir[d] = rec
            if problems:
                out.append(PlanReadResult(None, problems, str(d / RECEIPTS_FILE)))
        out.append(check_file(f, rights_by_licence, area_tolerance=area_tolerance,
                              receipts=receipts_by_dir[d]))
    return out
