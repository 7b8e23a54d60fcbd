"""Plans across years with planted cross-year cases, written as real .xlsx files.

Ground (rectangles, ~300 m x 220 m, east of 117.2°E):
2025  restored 1 R; damage 1 D; planned 1 A, 2 B, 3 C
2026  restored 1 A moved 20 m (carried out, 是否完成验收 是); damage 1 D; planned 1 C (re-numbered
      from 3), 2 and 3 the west and east halves of B (split), 4 E (new, next to C)
2027  planned 1 west half of B, 2 east half of B (listed again), 3 C and E as one unit (merged)
"""
from __future__ import annotations

from pathlib import Path

from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from minewatch.promised.coords import area_hm2, format_corner_points, parse_corner_points
from minewatch.promised.models import DAMAGE, PLANNED, RESTORED, AnnualPlan, Unit
from minewatch.promised.planwriter import write_plan_xlsx

LICENCE = "C1300002011011120123456"
W, H = 0.0035, 0.002          # one unit's size in degrees
M = 0.00023                   # ~20 m east at 39°N


def ground(col: float, row: float = 0.0, width: float = 1.0) -> BaseGeometry:
    """A rectangle on the grid: column ``col`` (units of W, with gaps), row ``row``."""
    x, y = 117.2 + col * W * 1.5, 39.1 + row * H * 1.5
    return box(x, y, x + width * W, y + H)


A, B, C, D, R = ground(0), ground(1), ground(2), ground(0, 2, 3.0), ground(0, -1.5)
E = box(C.bounds[2], C.bounds[1], C.bounds[2] + W, C.bounds[3])          # touching C on its east side
B_WEST = box(B.bounds[0], B.bounds[1], (B.bounds[0] + B.bounds[2]) / 2, B.bounds[3])
B_EAST = box((B.bounds[0] + B.bounds[2]) / 2, B.bounds[1], B.bounds[2], B.bounds[3])
A_MOVED = box(A.bounds[0] + M, A.bounds[1], A.bounds[2] + M, A.bounds[3])
C_AND_E = box(C.bounds[0], C.bounds[1], E.bounds[2], C.bounds[3])


def unit(section: str, seq: int, g: BaseGeometry, **kw: object) -> Unit:
    text = format_corner_points(g)
    g = parse_corner_points(text)            # what a reader gets back from the filed text
    return Unit(section=section, seq=seq, geometry=g, corner_points=text, area_hm2=area_hm2(g), **kw)


def plans() -> list[AnnualPlan]:
    head = dict(license_no=LICENCE, holder="某某矿业有限公司", mine_name="某某石灰岩矿",
                validity="2021年1月1日至2031年1月1日")
    y2025 = AnnualPlan(plan_year=2025, **head, units=(
        unit(RESTORED, 1, R, land_class="0404", quality="植被覆盖度≥30%", accepted=True),
        unit(DAMAGE, 1, D, problem_type="挖损", damage_degree="重度"),
        unit(PLANNED, 1, A, land_class="0404", quality="植被覆盖度≥50%", measures="覆土、撒播草籽"),
        unit(PLANNED, 2, B, land_class="0305", quality="灌木覆盖度≥40%", measures="栽植灌木"),
        unit(PLANNED, 3, C, land_class="0301", quality="郁闭度≥0.2", measures="栽植侧柏")))
    y2026 = AnnualPlan(plan_year=2026, **head, units=(
        unit(RESTORED, 1, A_MOVED, land_class="0404", quality="植被覆盖度≥50%", accepted=True),
        unit(DAMAGE, 1, D, problem_type="挖损", damage_degree="重度"),
        unit(PLANNED, 1, C, land_class="0301", quality="郁闭度≥0.2", measures="栽植侧柏"),
        unit(PLANNED, 2, B_WEST, land_class="0305", quality="灌木覆盖度≥40%", measures="栽植灌木"),
        unit(PLANNED, 3, B_EAST, land_class="0305", quality="灌木覆盖度≥40%", measures="栽植灌木"),
        unit(PLANNED, 4, E, land_class="0404", quality="植被覆盖度≥50%", measures="撒播草籽")))
    y2027 = AnnualPlan(plan_year=2027, **head, units=(
        unit(PLANNED, 1, B_WEST, land_class="0305", quality="灌木覆盖度≥40%", measures="栽植灌木"),
        unit(PLANNED, 2, B_EAST, land_class="0305", quality="灌木覆盖度≥40%", measures="栽植灌木"),
        unit(PLANNED, 3, C_AND_E, land_class="0301", quality="郁闭度≥0.2", measures="栽植侧柏")))
    return [y2025, y2026, y2027]


def write_plans(folder: Path) -> Path:
    """The three years as .xlsx files in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for p in plans():
        write_plan_xlsx(p, folder / f"{p.license_no}_{p.plan_year}.xlsx")
    return folder
