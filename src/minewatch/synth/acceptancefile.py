"""The county bureau's acceptance list (验收清单) of the sample and the scenarios, as a CSV in
the layout `minewatch.ledger.acceptance` reads: one 合格 row per unit a plan reports
accepted (是否完成验收 = 是), tied to its unit by 拐点坐标 (plans carry no 标识码)."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from minewatch.plumbing.atomic import atomic_path
from minewatch.promised import coords
from minewatch.promised.models import RESTORED, AnnualPlan

__all__ = ["Accepted", "accepted_rows", "write_acceptance_csv"]

HEADER = ("采矿权证证号", "单元标识码", "拐点坐标", "申请日期", "验收日期", "验收结果",
          "验收合格确认书编号", "验收面积(hm²)")


@dataclass(frozen=True)
class Accepted:
    """One 合格 record."""
    license_no: str
    corner_points: str
    applied_on: date
    accepted_on: date
    certificate_no: str
    area_hm2: float


def accepted_rows(plan: AnnualPlan, applied_on: date, accepted_on: date) -> list[Accepted]:
    """A 合格 record for every restored unit `plan` reports accepted, certificates numbered
    by licence, plan year and 序号 (so the same plans give the same list)."""
    return [Accepted(plan.license_no, u.corner_points or coords.format_corner_points(u.geometry),
                     applied_on, accepted_on, f"验{plan.license_no[-6:]}-{plan.plan_year}-{u.seq:02d}",
                     round(coords.area_hm2(u.geometry), 4))
            for u in plan.section(RESTORED) if u.accepted]


def write_acceptance_csv(rows: list[Accepted], path: Path) -> Path:
    """The list as UTF-8 CSV, rows in the order given."""
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(HEADER)
        for r in rows:
            w.writerow([r.license_no, "", r.corner_points, r.applied_on.isoformat(), r.accepted_on.isoformat(),
                        "合格", r.certificate_no, f"{r.area_hm2:.4f}"])
    return path
