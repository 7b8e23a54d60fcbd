"""Fixtures of the promised tests: a small hand-made plan and the table's view of a plan."""
from __future__ import annotations

import dataclasses
from typing import Callable

import pytest
from shapely.geometry import box

from minewatch.promised.coords import area_hm2, format_corner_points, parse_corner_points
from minewatch.promised.models import DAMAGE, PLANNED, RESTORED, AnnualPlan, Unit


def _unit(section: str, seq: int, dx: float, dy: float = 0.0, **kw) -> Unit:
    g = box(117.2 + dx, 39.1 + dy, 117.203 + dx, 39.102 + dy)
    text = format_corner_points(g)
    g = parse_corner_points(text)
    return Unit(section=section, seq=seq, geometry=g, corner_points=text, area_hm2=area_hm2(g), **kw)


@pytest.fixture
def plan() -> AnnualPlan:
    return AnnualPlan(
        plan_year=2026, license_no="C1300002011011120123456", holder="某某矿业有限公司",
        mine_name="某某石灰岩矿", validity="2021年1月1日至2031年1月1日", contact_name="张三",
        contact_phone="0311-12345678", contact_address="河北省某某县某某镇",
        units=(
            _unit(RESTORED, 1, 0.00, land_class="0404", quality="植被覆盖度≥30%", accepted=True),
            _unit(RESTORED, 2, 0.01, land_class="0305", quality="灌木覆盖度≥40%", accepted=None,
                  is_temporary=True),
            _unit(DAMAGE, 1, 0.02, problem_type="挖损", damage_degree="重度"),
            _unit(DAMAGE, 2, 0.03, problem_type="压占", damage_degree="中度"),
            _unit(PLANNED, 1, 0.00, 0.01, land_class="0301", quality="郁闭度≥0.2",
                  measures="削坡、覆土0.5m、栽植侧柏"),
            _unit(PLANNED, 2, 0.01, 0.01, land_class="1104A", is_temporary=True, quality="",
                  measures="清淤"),
        ),
        fees_last_year_drawn=12.3456, fees_last_year_used=10.0,
        fees_this_year_planned_draw=15.5, fees_this_year_planned_use=None,
    )


def _strip(p: AnnualPlan) -> AnnualPlan:
    """Drop what the table does not carry (file name, sheet rows)."""
    return dataclasses.replace(p, source="", units=tuple(dataclasses.replace(u, row=None) for u in p.units))


@pytest.fixture
def as_tabled() -> Callable[[AnnualPlan], AnnualPlan]:
    """The plan without what the table does not carry (file name, sheet rows)."""
    return _strip
