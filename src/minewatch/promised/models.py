"""Plain data of what holders promised: mining rights and their annual plans.

Geometries are shapely polygons in CGCS2000 geographic coordinates (EPSG:4490),
x = longitude, y = latitude. Areas are hm², money 万元, both kept as given.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Iterable

from shapely.geometry.base import BaseGeometry


@dataclass(frozen=True)
class MiningRight:
    license_no: str                 # 采矿权证证号
    holder: str                     # 采矿权人名称
    mine_name: str                  # 矿山名称
    valid_from: date
    valid_to: date
    county_code: str                # 6-digit administrative code
    boundary: BaseGeometry          # EPSG:4490 lon/lat
    mineral: str = ""
    mining_method: str = ""
    abnormal_list: bool = False     # 列入异常名录
    seriously_dishonest: bool = False  # 认定为严重失信主体
    # personal data (个人信息): stripped from public-disclosure outputs
    contact_name: str = ""
    contact_phone: str = ""
    contact_address: str = ""


# Sections of the official 附表, in table order.
RESTORED = "restored"   # 上年度矿区生态修复情况
DAMAGE = "damage"       # 矿区现状问题与损毁情况
PLANNED = "planned"     # 本年度矿区生态修复计划
SECTIONS = (RESTORED, DAMAGE, PLANNED)


def in_table_order(units: Iterable[Unit]) -> tuple[Unit, ...]:
    """Units as the 附表 lists them: section by section, then by 序号."""
    return tuple(sorted(units, key=lambda u: (SECTIONS.index(u.section), u.seq)))


@dataclass(frozen=True)
class Unit:
    """One row of a plan table: a restoration unit (修复单元) or a damaged area."""
    section: str                    # RESTORED | DAMAGE | PLANNED
    seq: int                        # 序号
    geometry: BaseGeometry          # 范围(拐点坐标), EPSG:4490 lon/lat
    corner_points: str = ""         # the 拐点坐标 text as filed
    area_hm2: float | None = None   # 面积 as declared
    is_temporary: bool = False      # 是否为临时用地
    land_class: str = ""            # 修复后地类 / 目标地类, 三调 code ("0404")
    quality: str = ""               # 质量
    accepted: bool | None = None    # 是否完成验收 (RESTORED only)
    problem_type: str = ""          # 问题类型 (DAMAGE only)
    damage_degree: str = ""         # 损毁程度 (DAMAGE only)
    measures: str = ""              # 主要工程措施 (PLANNED only)
    row: int | None = None          # sheet row it came from, for error messages


@dataclass(frozen=True)
class AnnualPlan:
    """年度矿区生态修复计划: the official table for one mining right and year."""
    plan_year: int
    license_no: str
    holder: str
    mine_name: str
    validity: str = ""              # 采矿权有效期限 as written
    contact_name: str = ""
    contact_phone: str = ""
    contact_address: str = ""
    units: tuple[Unit, ...] = ()
    fees_last_year_drawn: float | None = None    # 上年度实际提取金额 (万元)
    fees_last_year_used: float | None = None     # 上年度实际使用金额 (万元)
    fees_this_year_planned_draw: float | None = None  # 本年度拟提取金额 (万元)
    fees_this_year_planned_use: float | None = None   # 本年度拟使用金额 (万元)
    submitted: date | None = None   # date received by the county bureau
    source: str = ""                # file it was read from

    def section(self, name: str) -> list[Unit]:
        return [u for u in self.units if u.section == name]
