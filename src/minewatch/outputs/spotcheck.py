"""Provincial spot-check list (双随机抽查 support): mining rights ranked by a risk score.

The regulation asks for yearly provincial spot checks and a higher frequency for holders on
the abnormal list (异常名录) or judged seriously dishonest (严重失信主体). The score is
minewatch's own ranking, not a formula from the regulation:

    finding weight  w(a) = SEVERITY_WEIGHT[severity] x (area_hm2 + AREA_FLOOR_HM2)
    risk_score      = multiplier x (BASE + sum of w(a) over the mine's active findings
                                   + OUTSTANDING_WEIGHT x outstanding_hm2
                                   + OVERDUE_WEIGHT x n_overdue_acceptance)
    multiplier      = 1 + ABNORMAL_LIST_BONUS x [异常名录] + DISHONEST_BONUS x [严重失信主体]

From the unit ledger (when the night has one): ``outstanding_hm2`` is the hm² of the mine's
units still damaged or planned, not restored (outputs.unit_history.outstanding_hm2), and
``n_overdue_acceptance`` its acceptance applications past the 60 working days
(ledger.overdue): restoration owed and acceptance pending both raise the score
(defaults 0.5 per hm², 2.0 per application: an overdue application weighs like a medium
finding of no area).

Area makes large findings count; AREA_FLOOR_HM2 makes every finding count even when it
has no area (PLAN_MISSING), so many small findings add up; BASE keeps flagged holders
without findings above clean ones. Findings with lifecycle status ``resolved`` are not
counted. Ties are broken by licence number, so the order is reproducible.

Files: the CSV is UTF-8 with a BOM (Excel in a Chinese locale opens it correctly) and a
single header row whose cells are ``key|中文`` (e.g. ``license_no|采矿权证证号``):
machines split on ``|``, people read the Chinese. Booleans are ``true``/``false``.
The XLSX has Chinese headers on sheet 抽查清单 and the keys, meanings and the formula on
sheet 字段说明. Both are written atomically. Text that a spreadsheet would run as a
formula (a holder named ``=HYPERLINK(..)``) gets a leading ``'`` in both
(:mod:`minewatch.plumbing.cells`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

import pandas as pd

from minewatch.labels import FIELDS
from minewatch.plumbing.atomic import write_text, write_workbook
from minewatch.plumbing.cells import spreadsheet_safe, spreadsheet_safe_frame
from minewatch.promised.models import MiningRight

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet


@dataclass(frozen=True)
class RiskWeights:
    severity: tuple[tuple[str, float], ...] = (("high", 3.0), ("medium", 2.0), ("low", 1.0))
    area_floor_hm2: float = 1.0
    base: float = 1.0
    abnormal_list_bonus: float = 1.0
    dishonest_bonus: float = 1.0
    outstanding_weight: float = 0.5      # per hm² damaged or planned, not restored
    overdue_weight: float = 2.0          # per acceptance application past the working-day limit
    source: str = "minewatch default ranking (not from the regulation); tune per province"

    def severity_weight(self, s: str) -> float:
        return dict(self.severity).get(s, 1.0)


DEFAULT_WEIGHTS = RiskWeights()

COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("rank", "排序", "1 = highest risk"),
    ("license_no", "采矿权证证号", "Mining licence number"),
    ("holder", "采矿权人名称", "Holder of the mining right"),
    ("mine_name", "矿山名称", "Mine name"),
    ("county_code", "县级行政区划代码", "6-digit administrative code"),
    ("risk_score", "风险分值", "multiplier x (base + sum of severity weight x (area_hm2 + floor))"),
    ("multiplier", "信用系数", "1 + bonus for 异常名录 + bonus for 严重失信主体"),
    ("abnormal_list", "列入异常名录", "On the abnormal list"),
    ("seriously_dishonest", "严重失信主体", "Judged seriously dishonest"),
    ("n_anomalies", "异常数", "Active findings (not resolved)"),
    ("n_high", "高", "Findings of high severity"),
    ("n_medium", "中", "Findings of medium severity"),
    ("n_low", "低", "Findings of low severity"),
    ("area_hm2", "异常面积(hm²)", "Sum of the findings' areas, 4 decimals"),
    ("types_zh", "异常类型", "Finding types, Chinese"),
    ("types", "异常类型代码", "Finding type codes"),
    ("outstanding_hm2", "未修复面积(hm²)", "Ledger: hm² of units damaged or planned, not restored, 4 decimals"),
    ("n_overdue_acceptance", "逾期未验收申请数", "Ledger: acceptance applications past the working-day limit"),
    ("unit_ids", "异常单元标识码", "Ledger unit ids (标识码) of the active findings"),
    ("reasons_zh", "抽查理由", "Why the mine is on the list, for the inspector"),
)
KEYS = [c[0] for c in COLUMNS]


def spot_check_list(anomalies_fc: dict, rights: list[MiningRight],
                    weights: RiskWeights = DEFAULT_WEIGHTS, *, outstanding: Mapping[str, float] | None = None,
                    overdue: Mapping[str, int] | None = None) -> pd.DataFrame:
    """One row per mining right (and per licence that has findings but no registry entry), ranked.
    `outstanding` (licence -> hm²) and `overdue` (licence -> applications) come from the ledger."""
    outstanding, overdue = outstanding or {}, overdue or {}
    by_lic: dict[str, list[dict]] = {}
    for f in anomalies_fc.get("features", []):
        p = f["properties"]
        if p.get("status") == "resolved":
            continue
        by_lic.setdefault(p["license_no"], []).append(p)
    reg = {r.license_no: r for r in rights}
    rows = []
    for lic in sorted(set(reg) | set(by_lic) | {k for k, v in outstanding.items() if v} | set(overdue)):
        r = reg.get(lic)
        finds = by_lic.get(lic, [])
        abnormal = bool(r and r.abnormal_list)
        dishonest = bool(r and r.seriously_dishonest)
        mult = 1.0 + weights.abnormal_list_bonus * abnormal + weights.dishonest_bonus * dishonest
        total = sum(weights.severity_weight(p.get("severity", "")) *
                    (float(p.get("area_hm2") or 0.0) + weights.area_floor_hm2) for p in finds)
        owed, late = round(outstanding.get(lic, 0.0), 4), overdue.get(lic, 0)
        total += weights.outstanding_weight * owed + weights.overdue_weight * late
        score = mult * (weights.base + total)
        types = sorted({p["type"] for p in finds})
        types_zh: list[str] = []
        for t in types:
            zh = next((p["type_zh"] for p in finds if p["type"] == t and p.get("type_zh")), t)
            types_zh.append(zh)
        n_sev = {s: sum(1 for p in finds if p.get("severity") == s) for s in ("high", "medium", "low")}
        area = round(sum(float(p.get("area_hm2") or 0.0) for p in finds), 4)
        reasons = []
        if finds:
            reasons.append(f"遥感发现异常{len(finds)}处（高{n_sev['high']}、中{n_sev['medium']}、低{n_sev['low']}），"
                           f"面积{area:.4f} hm²")
        if owed:
            reasons.append(f"损毁或计划修复而未修复{owed:.4f} hm²")
        if late:
            reasons.append(f"验收申请逾期未验收{late}件")
        if abnormal:
            reasons.append("列入异常名录，提高抽查频次")
        if dishonest:
            reasons.append("认定为严重失信主体，提高抽查频次")
        if r is None:
            reasons.append("采矿权登记信息中无此证号")
        rows.append({
            "license_no": lic, "holder": r.holder if r else "", "mine_name": r.mine_name if r else
            (finds[0].get("mine_name", "") if finds else ""), "county_code": r.county_code if r else "",
            "risk_score": round(score, 4), "multiplier": round(mult, 4), "abnormal_list": abnormal,
            "seriously_dishonest": dishonest, "n_anomalies": len(finds), "n_high": n_sev["high"],
            "n_medium": n_sev["medium"], "n_low": n_sev["low"], "area_hm2": area,
            "types_zh": "；".join(types_zh), "types": ";".join(types),
            "outstanding_hm2": owed, "n_overdue_acceptance": late,
            "unit_ids": ";".join(sorted({p["unit_id"] for p in finds if p.get("unit_id")})),
            "reasons_zh": "；".join(reasons) or "常规抽查",
        })
    df = pd.DataFrame(rows, columns=[k for k in KEYS if k != "rank"])
    df = df.sort_values(["risk_score", "license_no"], ascending=[False, True], kind="mergesort").reset_index(drop=True)
    df.insert(0, "rank", range(1, len(df) + 1))
    return df


def _csv_text(df: pd.DataFrame) -> str:
    zh = {k: z for k, z, _ in COLUMNS}
    out = spreadsheet_safe_frame(df[KEYS])      # holder and mine names are the companies' text
    for c in ("abnormal_list", "seriously_dishonest"):
        out[c] = out[c].map({True: "true", False: "false"})
    out.columns = [f"{k}|{zh[k]}" for k in KEYS]
    return out.to_csv(index=False, lineterminator="\n", float_format=None)


def read_spot_check_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV written by write_spot_check back with its English keys."""
    df = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    df.columns = [c.split("|", 1)[0] for c in df.columns]
    for c in ("rank", "n_anomalies", "n_high", "n_medium", "n_low", "n_overdue_acceptance"):
        df[c] = df[c].astype(int)
    for c in ("risk_score", "multiplier", "area_hm2", "outstanding_hm2"):
        df[c] = df[c].astype(float)
    for c in ("abnormal_list", "seriously_dishonest"):
        df[c] = df[c].map({"true": True, "false": False})
    return df


def write_spot_check(df: pd.DataFrame, csv_path: str | Path | None, xlsx_path: str | Path | None,
                     weights: RiskWeights = DEFAULT_WEIGHTS) -> list[Path]:
    written = []
    if csv_path is not None:
        written.append(write_text(csv_path, "\ufeff" + _csv_text(df)))
    if xlsx_path is not None:
        written.append(_write_xlsx(df, Path(xlsx_path), weights))
    return written


def _print_setup(ws: Worksheet, title: str) -> None:
    """A4 landscape, all columns on one page width, the title row on every page, page numbers."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0          # as many pages down as the rows need
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:1"
    ws.print_options.gridLines = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.oddHeader.center.text = f"矿山生态修复遥感核查 {title}"
    ws.oddFooter.center.text = "第 &P 页 / 共 &N 页"


def _write_xlsx(df: pd.DataFrame, path: Path, weights: RiskWeights) -> Path:
    from datetime import datetime

    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    wb = Workbook()
    wb.properties.creator = "minewatch"
    wb.properties.created = wb.properties.modified = datetime(2000, 1, 1)
    ws = wb.active
    ws.title = "抽查清单"
    ws.append([z for _, z, _ in COLUMNS])
    for row in df[KEYS].itertuples(index=False):
        vals = []
        for k, v in zip(KEYS, row):
            if k in ("abnormal_list", "seriously_dishonest"):
                v = "是" if v else "否"
            elif isinstance(v, float) and math.isnan(v):
                v = None
            vals.append(spreadsheet_safe(v))     # ws.append turns "=..." text into a live formula
        ws.append(vals)
    head_fill = PatternFill("solid", fgColor="E8EDF4")
    for c in ws[1]:
        c.font = Font(bold=True)
        c.fill = head_fill
        c.alignment = Alignment(wrap_text=True, vertical="top")
    widths = {"license_no": 26, "holder": 24, "mine_name": 18, "types_zh": 30, "reasons_zh": 50, "types": 30,
              "unit_ids": 30}
    for i, k in enumerate(KEYS, 1):
        ws.column_dimensions[ws.cell(1, i).column_letter].width = widths.get(k, 11)
        if k in ("risk_score", "multiplier"):
            for cell in ws.iter_cols(min_col=i, max_col=i, min_row=2):
                for c in cell:
                    c.number_format = "0.0000"
        if k in ("area_hm2", "outstanding_hm2"):
            for cell in ws.iter_cols(min_col=i, max_col=i, min_row=2):
                for c in cell:
                    c.number_format = "0.0000"
    ws.freeze_panes = "C2"
    ws.auto_filter.ref = ws.dimensions
    _print_setup(ws, f"{ws.title}")


    doc = wb.create_sheet("字段说明")
    doc.append(["key", "中文", "meaning"])
    for k, z, m in COLUMNS:
        doc.append([k, z, m])
    doc.append([])
    doc.append(["risk_score", "计算方法",
                f"multiplier x ({weights.base} + Σ severity_weight x (area_hm2 + {weights.area_floor_hm2}) "
                f"+ {weights.outstanding_weight} x outstanding_hm2 + {weights.overdue_weight} x n_overdue_acceptance); "
                f"severity_weight {dict(weights.severity)}; multiplier = 1 + {weights.abnormal_list_bonus} x 异常名录 "
                f"+ {weights.dishonest_bonus} x 严重失信主体; source: {weights.source}"])
    for col, w in zip("ABC", (22, 18, 90)):
        doc.column_dimensions[col].width = w
    _print_setup(doc, doc.title)

    # the anomalies' observed/expected fields as the reports show them (labels.FIELDS)
    fields = wb.create_sheet("异常字段说明")
    fields.append(["中文名称", "单位", "含义", "字段代码"])
    for k, lab in FIELDS.items():
        fields.append([lab.zh, lab.unit, lab.rule, k])
    for c in fields[1]:
        c.font = Font(bold=True)
    for col, w in zip("ABCD", (22, 8, 70, 26)):
        fields.column_dimensions[col].width = w
    _print_setup(fields, fields.title)

    return write_workbook(path, wb)
