"""Sample plan files for the reader and the validator, made from the bundled sample.

* ``plans_messy/``: the first sample mine's plan the way companies really file it
  (merged cells, full-width digits, "……" placeholder rows, blank rows, areas with
  units, √/× for 是/否, land classes by name only, one unit's 拐点坐标 spread over rows
  as 点号 | X | Y); it reads to the same units as the clean plan.
* ``template/``: the blank 附表 (``年度矿区生态修复情况表_模板.xlsx``: empty header, one
  numbered empty row and one "……" row per section) and a filled example from the first
  sample mine (``…_示例.xlsx``) with its machine-format pair (``…_示例.geojson`` +
  ``…_示例.yaml``, see :mod:`minewatch.promised.machine`).
* ``plans_broken/``: plans with one planted fault per validation rule, the
  ``receipts.csv`` that makes one plan late, and ``faults.yaml`` listing each planted
  fault as (file, rule, row, field).

``python -m minewatch.synth.planfiles sample_scenes`` rewrites both folders; the
same call writes the same bytes (tests check the committed files are up to date).
"""
from __future__ import annotations

import dataclasses
import io
import sys
import unicodedata
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import yaml
from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import MergedCell
from openpyxl.styles import Alignment

from minewatch.plumbing.atomic import FIXED_TIMESTAMP, deterministic_zip
from minewatch.promised.coords import area_hm2, format_corner_points
from minewatch.promised.models import DAMAGE, PLANNED, RESTORED, SECTIONS, AnnualPlan, Unit
from minewatch.promised.planwriter import write_plan_xlsx
from minewatch.promised.table import CAPTIONS, CREATOR, FEE_LABELS, TITLE_SUFFIX

if TYPE_CHECKING:
    from minewatch.synth.sample import MineFrame

__all__ = ["write_messy", "write_broken", "write_templates", "BROKEN_RECEIPTS", "TEMPLATE_STEM"]

FW = str.maketrans("0123456789.,-", "０１２３４５６７８９．，－")
CP = unicodedata.normalize("NFKC", "范围（拐点坐标）")


def _sample() -> ModuleType:
    from minewatch.synth import sample  # the bundled sample's definitions
    return sample


# ============================================================================ messy

def write_messy(out_dir: str | Path) -> Path:
    """The first sample mine's plan, written the messy way."""
    sample = _sample()
    plan = sample.annual_plan(sample.MINES[0])
    from minewatch.promised.landclasses import lookup

    wb = Workbook()
    ws = wb.active
    ws.title = "附表"
    ncol = 9  # 序号 | 点号 | X | Y | 临时用地 | 地类 | 面积 | 质量 | 验收/措施
    wrap = Alignment(wrap_text=True, vertical="center")
    r = 1

    def merge(r1: int, c1: int, r2: int, c2: int, value: object) -> None:
        ws.cell(row=r1, column=c1, value=value).alignment = wrap
        if (r1, c1) != (r2, c2):
            ws.merge_cells(start_row=r1, start_column=c1, end_row=r2, end_column=c2)

    merge(1, 1, 1, ncol, f"{plan.plan_year}{TITLE_SUFFIX}".translate(FW))
    r = 3  # a blank row 2
    for label, value in (("采矿权人名称：", plan.holder), ("采矿权证证号：", plan.license_no),
                         ("采矿权有效期限：", plan.validity), ("矿山名称：", plan.mine_name),
                         ("联系人：", plan.contact_name), ("联系电话：", plan.contact_phone.translate(FW)),
                         ("联系地址：", plan.contact_address)):
        merge(r, 1, r, 2, f" {label} ")
        merge(r, 3, r, ncol, value)
        r += 1

    heads = {
        RESTORED: ["序号", "范围（拐点坐标）", "是否为临时用地", "修复后地类", "面积（公顷）", "质量", "是否完成验收"],
        DAMAGE: ["序号", "范围（拐点坐标）", "问题类型", "面积（公顷）", "损毁程度"],
        PLANNED: ["序号", "范围（拐点坐标）", "是否为临时用地", "目标地类", "面积（公顷）", "质量", "主要工程措施"],
    }
    fees = {RESTORED: ("fees_last_year_drawn", "fees_last_year_used"),
            PLANNED: ("fees_this_year_planned_draw", "fees_this_year_planned_use")}
    first_unit = True
    for section in (RESTORED, DAMAGE, PLANNED):
        merge(r, 1, r, ncol, "  " + CAPTIONS[section] + " ")
        r += 1
        # header over two rows; the coordinate column split into 点号 | X | Y
        h = heads[section]
        merge(r, 1, r + 1, 1, h[0])
        merge(r, 2, r, 4, h[1])
        for c, lab in zip((2, 3, 4), ("点号", "X坐标", "Y坐标")):
            ws.cell(row=r + 1, column=c, value=lab)
        for i, lab in enumerate(h[2:], start=5):
            merge(r, i, r + 1, i, lab)
        r += 2
        for u in plan.section(section):
            lc = lookup(u.land_class) if u.land_class else None
            rest = {
                RESTORED: ["√" if u.is_temporary else "×", lc.name if lc else "", f"{u.area_hm2:.4f}公顷",
                           u.quality, "√" if u.accepted else "×"],
                DAMAGE: [u.problem_type, f"{u.area_hm2:.4f}".translate(FW), u.damage_degree],
                PLANNED: ["否" if not u.is_temporary else "是", lc.label if lc else "", f"{u.area_hm2:.4f}hm²",
                          u.quality, u.measures],
            }[section]
            if first_unit:
                # 拐点坐标 one point per row, the unit's other cells merged down
                first_unit = False
                lines = u.corner_points.splitlines()
                r1, r2 = r, r + len(lines) - 1
                merge(r1, 1, r2, 1, u.seq)
                for i, v in enumerate(rest, start=5):
                    merge(r1, i, r2, i, v)
                for k, line in enumerate(lines):
                    parts = line.split(",")
                    if parts[0] == "*":
                        ws.cell(row=r1 + k, column=2, value="*")
                    else:
                        ws.cell(row=r1 + k, column=2, value=int(parts[0]))
                        ws.cell(row=r1 + k, column=3, value=float(parts[1]))
                        ws.cell(row=r1 + k, column=4, value=float(parts[2]))
                r = r2 + 1
            else:
                ws.cell(row=r, column=1, value=str(u.seq).translate(FW))
                merge(r, 2, r, 4, u.corner_points.replace(",", "，").translate(FW))
                for i, v in enumerate(rest, start=5):
                    ws.cell(row=r, column=i, value=v)
                r += 1
            r += 1  # a blank row between units
        for i in range(2):  # template rows left as they were: "……" and a numbered empty one
            ws.cell(row=r, column=1, value="……" if i == 0 else len(plan.section(section)) + 1)
            merge(r, 2, r, 4, "……" if i == 0 else None)
            r += 1
        if section in fees:
            a, b = fees[section]
            merge(r, 1, r, 3, FEE_LABELS[a] + "：")
            merge(r, 4, r, 5, f"{getattr(plan, a):.4f}万元")
            merge(r, 6, r, 8, FEE_LABELS[b])
            ws.cell(row=r, column=9, value=round(getattr(plan, b), 4)).number_format = "0.0000"
            r += 1
    merge(r, 1, r, ncol, "注：1.表中地类名称及统计口径应与国家公布的第三次全国国土调查和年度国土变更调查成果一致。")
    path = Path(out_dir) / f"messy_{plan.license_no}_{plan.plan_year}.xlsx"
    _save(wb, path)
    return path


def _save(wb: Workbook, path: Path) -> Path:
    wb.properties.creator = CREATOR
    wb.properties.lastModifiedBy = CREATOR
    wb.properties.created = FIXED_TIMESTAMP
    wb.properties.modified = FIXED_TIMESTAMP
    buf = io.BytesIO()
    wb.save(buf)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(deterministic_zip(buf.getvalue()))
    return path


# ========================================================================= template

TEMPLATE_STEM = "年度矿区生态修复情况表"
TEMPLATE_TITLE = "＿＿＿＿" + TITLE_SUFFIX


def write_templates(out_dir: str | Path) -> list[Path]:
    """The blank table, and the first sample mine's plan as .xlsx + .geojson + .yaml."""
    from shapely.geometry import Point

    from minewatch.promised.machine import write_plan_machine
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # blank: laid out by the writer with two placeholder units a section, then emptied
    dummy = tuple(Unit(section=s, seq=k, geometry=Point(0, 0), corner_points="-")
                  for s in SECTIONS for k in (1, 2))
    blank = AnnualPlan(plan_year=0, license_no="", holder="", mine_name="", units=dummy)
    tpath = out_dir / f"{TEMPLATE_STEM}_模板.xlsx"
    write_plan_xlsx(blank, tpath)
    wb = load_workbook(tpath)
    ws = wb.active
    for row in ws.iter_rows():
        for c in row:
            if c.value == f"0{TITLE_SUFFIX}":
                c.value = TEMPLATE_TITLE
            elif c.value == "-":        # a dummy unit's 拐点坐标: the row it sits in
                first = ws.cell(row=c.row, column=1).value == 1
                for c2 in ws[c.row]:
                    if c2.column > 1 and not isinstance(c2, MergedCell):
                        c2.value = None
                if not first:
                    ws.cell(row=c.row, column=1).value = "……"
                    c.value = "……"
    wb.properties.title = TEMPLATE_TITLE
    _save(wb, tpath)

    sample = _sample()
    plan = sample.annual_plan(sample.MINES[0])
    xpath = write_plan_xlsx(plan, out_dir / f"{TEMPLATE_STEM}_示例.xlsx")
    gpath, apath = write_plan_machine(plan, out_dir / f"{TEMPLATE_STEM}_示例.geojson",
                                      out_dir / f"{TEMPLATE_STEM}_示例.yaml")
    return [tpath, xpath, gpath, apath]


# =========================================================================== broken

BROKEN_RECEIPTS = "license_no,plan_year,received\n{lic},2026,2026-04-15\n"


def _unit(frame: MineFrame, section: str, seq: int, rect: tuple[float, float, float, float], **kw: Any) -> Unit:
    g = frame.rect_geo(rect)
    text = format_corner_points(g)
    return Unit(section=section, seq=seq, geometry=g, corner_points=text, area_hm2=round(area_hm2(g), 4), **kw)


def _rows(path: Path) -> dict:
    """(section, seq) -> row and fee field -> row, as laid out by write_plan_xlsx."""
    ws = load_workbook(path).active
    out: dict = {}
    section = None
    caps = {v: k for k, v in CAPTIONS.items()}
    fee_by_label = {v: k for k, v in FEE_LABELS.items()}
    for row in ws.iter_rows():
        a = row[0].value
        if isinstance(a, str) and a in caps:
            section = caps[a]
        elif isinstance(a, int) and section:
            out[(section, a)] = row[0].row
        for c in row:
            if isinstance(c.value, str) and c.value in fee_by_label:
                out[fee_by_label[c.value]] = c.row
            if isinstance(c.value, str) and c.value.endswith(TITLE_SUFFIX):
                out["title"] = c.row
            if c.value == "采矿权证证号":
                out["license_no"] = c.row
    return out


def write_broken(out_dir: str | Path) -> list[dict]:
    """Broken plans, receipts.csv and faults.yaml; returns the faults."""
    sample = _sample()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    m0, m1, m2 = sample.MINES
    frame = sample.MineFrame.of(m0)
    base = sample.annual_plan(m0)
    keep = [u for u in base.units if u.section != PLANNED]
    p1 = next(u for u in base.units if u.section == PLANNED and u.seq == 1)
    planned = [
        dataclasses.replace(p1, seq=1),                                              # clean
        _unit(frame, PLANNED, 2, (400, 100, 600, 300), land_class="0404", quality="合格",
              measures="覆土"),                                                      # land class spoilt below
        _unit(frame, PLANNED, 3, (-300, -700, -100, -600), land_class="0404", measures="覆土"),  # polygon spoilt
        dataclasses.replace(_unit(frame, PLANNED, 4, (500, -600, 700, -400), land_class="0305",
                                  measures="栽植柠条"), area_hm2=8.0),                 # area 2x
        _unit(frame, PLANNED, 5, (900, 500, 1200, 700), land_class="0404", measures="覆土"),  # outside
        _unit(frame, PLANNED, 6, (150, 150, 350, 350), land_class="0404", measures="覆土"),   # overlaps 1
        _unit(frame, PLANNED, 7, (-650, 250, -500, 400), land_class="0305", measures="补植"),  # on accepted restored 1
    ]
    plan_a = dataclasses.replace(base, units=tuple(keep + planned), fees_last_year_drawn=120.5,
                                 fees_last_year_used=150.0, fees_this_year_planned_draw=130.5,
                                 fees_this_year_planned_use=140.0)
    fa = out_dir / f"broken_{m0.license_no}_2026.xlsx"
    write_plan_xlsx(plan_a, fa)
    rows = _rows(fa)
    wb = load_workbook(fa)
    ws = wb.active
    ws.cell(row=rows[(PLANNED, 2)], column=4, value="草坪")
    ws.cell(row=rows[(PLANNED, 3)], column=2, value=_bow_tie(frame))
    fee = ws.cell(row=rows["fees_this_year_planned_draw"], column=4)
    fee.number_format = "General"   # 130.5: one decimal shown, not four
    _save(wb, fa)

    plan_b = dataclasses.replace(sample.annual_plan(m2), license_no=m2.license_no[:-4] + "9999")
    fb = out_dir / f"broken_{plan_b.license_no}_2026.xlsx"
    write_plan_xlsx(plan_b, fb)
    plan_c = dataclasses.replace(sample.annual_plan(m1), plan_year=2036)
    fc = out_dir / f"broken_{m1.license_no}_2036.xlsx"
    write_plan_xlsx(plan_c, fc)
    (out_dir / "receipts.csv").write_text(BROKEN_RECEIPTS.format(lic=m0.license_no), encoding="utf-8")

    rb, rc = _rows(fb), _rows(fc)
    fee_used = FEE_LABELS["fees_last_year_used"]
    fee_use = FEE_LABELS["fees_this_year_planned_use"]
    fee_draw = FEE_LABELS["fees_this_year_planned_draw"]
    faults = [
        dict(file=fa.name, rule="UNKNOWN_LAND_CLASS", row=rows[(PLANNED, 2)], field="目标地类",
             note="目标地类“草坪”不是三调地类"),
        dict(file=fa.name, rule="BAD_CORNER_POINTS", row=rows[(PLANNED, 3)], field=CP,
             note="拐点顺序错误, 范围自相交(蝴蝶形)"),
        dict(file=fa.name, rule="AREA_MISMATCH", row=rows[(PLANNED, 4)], field="面积",
             note="填报8.0000hm², 坐标面积约4hm²"),
        dict(file=fa.name, rule="UNIT_OUTSIDE_BOUNDARY", row=rows[(PLANNED, 5)], field=CP,
             note="单元东侧200 m在矿区范围外, 非临时用地"),
        dict(file=fa.name, rule="UNITS_OVERLAP", row=rows[(PLANNED, 6)], field=CP,
             note="与本年度计划第1号单元重叠"),
        dict(file=fa.name, rule="RESTORED_PLANNED_OVERLAP", row=rows[(PLANNED, 7)], field=CP,
             note="落在上年度已修复并验收的第1号单元上"),
        dict(file=fa.name, rule="NOT_4_DECIMALS", row=rows["fees_this_year_planned_draw"], field=fee_draw,
             note="拟提取金额130.5只有1位小数"),
        dict(file=fa.name, rule="FEES_USED_EXCEED_DRAWN", row=rows["fees_last_year_used"], field=fee_used,
             note="实际使用150 > 实际提取120.5"),
        dict(file=fa.name, rule="FEES_PLANNED_USE_EXCEEDS_DRAW", row=rows["fees_this_year_planned_use"],
             field=fee_use, note="拟使用140 > 拟提取130.5"),
        dict(file=fa.name, rule="PLAN_RECEIVED_LATE", row=rows["title"], field="报送日期",
             note="receipts.csv: 2026-04-15收到"),
        dict(file=fb.name, rule="LICENCE_NOT_REGISTERED", row=rb["license_no"], field="采矿权证证号",
             note="证号末4位改为9999"),
        dict(file=fc.name, rule="PLAN_YEAR_OUTSIDE_VALIDITY", row=rc["title"], field="标题",
             note="2036年度, 采矿权有效期至2035-12-31"),
    ]
    text = ("# Planted faults of sample_scenes/plans_broken (minewatch.synth.planfiles).\n"
            "# `minewatch plan check sample_scenes/plans_broken/*.xlsx --registry sample_scenes/registry.csv`\n"
            "# reports exactly these, each once.\n"
            + yaml.safe_dump({"faults": faults}, allow_unicode=True, sort_keys=False))
    (out_dir / "faults.yaml").write_text(text, encoding="utf-8")
    return faults


def _bow_tie(frame: MineFrame) -> str:
    """The unit's corners with points 3 and 4 swapped: a self-intersecting ring."""
    text = format_corner_points(frame.rect_geo((-300, -700, -100, -600)))
    lines = text.splitlines()
    p3, p4 = lines[2].split(",", 1)[1], lines[3].split(",", 1)[1]
    lines[2], lines[3] = f"3,{p4}", f"4,{p3}"
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0] if argv else "sample_scenes")
    print(write_messy(root / "plans_messy"))
    for p in write_templates(root / "template"):
        print(p)
    for f in write_broken(root / "plans_broken"):
        print(f"{f['file']} row {f['row']} {f['field']}: {f['rule']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
