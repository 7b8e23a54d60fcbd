"""Rules that compare each unit's season statistics with what the plan promised.

Each rule takes the per-unit series table (one row per unit and scene, see
`minewatch.sky.series`) and returns anomalies plus the units it could not judge.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from minewatch.assess.anomaly import Anomaly
from minewatch.assess.thresholds import ThresholdTable
from minewatch.promised.models import PLANNED, RESTORED, AnnualPlan, MiningRight, Unit


@dataclass(frozen=True)
class Season:
    start: date
    end: date

    @classmethod
    def of(cls, year: int, start_mmdd: str, end_mmdd: str) -> "Season":
        sm, sd = (int(x) for x in start_mmdd.split("-"))
        em, ed = (int(x) for x in end_mmdd.split("-"))
        return cls(date(year, sm, sd), date(year, em, ed))

    @property
    def label(self) -> str:
        return f"{self.start.isoformat()}/{self.end.isoformat()}"


@dataclass(frozen=True)
class SeasonValue:
    """A unit's measure over one season: median of clear-date unit means."""
    n_clear: int
    fvc: float | None
    ndvi: float | None
    bsi: float | None
    scenes: tuple[str, ...]


def season_value(series: pd.DataFrame, unit_key: str, season: Season,
                 min_clear_fraction: float) -> SeasonValue:
    s = series[(series.unit == unit_key)]
    d = pd.to_datetime(s.datetime).dt.date
    s = s[(d >= season.start) & (d <= season.end) & (s.clear_fraction >= min_clear_fraction)]
    s = s.dropna(subset=["fvc_mean"])
    if s.empty:
        return SeasonValue(0, None, None, None, ())
    r4 = lambda v: round(float(v), 4)
    return SeasonValue(len(s), r4(s.fvc_mean.median()), r4(s.ndvi_mean.median()),
                       r4(s.bsi_mean.median()), tuple(sorted(s.item_id)))


def unit_key(u: Unit) -> str:
    return f"{u.section}:{u.seq}"


@dataclass(frozen=True)
class Unjudged:
    """A unit the rules could not judge, and why: never silently skipped."""
    license_no: str
    unit: str
    reason: str          # English code
    reason_zh: str
    n_clear: int


def assess_units(right: MiningRight, plan: AnnualPlan, series: pd.DataFrame,
                 thresholds: ThresholdTable, *, as_of: date, season_mmdd: tuple[str, str],
                 min_clear_obs: int, min_clear_fraction: float, region: str,
                 area_of) -> tuple[list[Anomaly], list[Unjudged]]:
    """RESTORATION_SHORTFALL for this year's units, CLAIMED_RESTORATION_NOT_OBSERVED for last year's.

    Both are judged on the plan year's assessment season, and only once it has ended: a
    unit planted in spring cannot be called short in June.
    """
    season = Season.of(plan.plan_year, *season_mmdd)
    anomalies: list[Anomaly] = []
    unjudged: list[Unjudged] = []
    if as_of < season.end:
        for u in plan.section(PLANNED) + plan.section(RESTORED):
            unjudged.append(Unjudged(plan.license_no, unit_key(u), "SEASON_NOT_OVER",
                                     f"评估季({season.label})尚未结束", 0))
        return anomalies, unjudged

    for u in plan.section(PLANNED) + plan.section(RESTORED):
        th = thresholds.lookup(u.land_class, region)
        if th is None or th.measure != "fvc":
            reason = "NO_THRESHOLD" if th is None else "NO_VEGETATION_TARGET"
            unjudged.append(Unjudged(plan.license_no, unit_key(u), reason,
                                     "无适用阈值" if th is None else "目标地类无植被要求", 0))
            continue
        v = season_value(series, unit_key(u), season, min_clear_fraction)
        if v.n_clear < min_clear_obs:
            unjudged.append(Unjudged(plan.license_no, unit_key(u), "INSUFFICIENT_OBSERVATIONS",
                                     f"有效观测不足 ({v.n_clear} < {min_clear_obs})", v.n_clear))
            continue
        if v.fvc >= th.min:
            continue
        kind = "RESTORATION_SHORTFALL" if u.section == PLANNED else "CLAIMED_RESTORATION_NOT_OBSERVED"
        severity = "high" if (kind != "RESTORATION_SHORTFALL" or v.fvc < th.min / 2) else "medium"
        anomalies.append(Anomaly(
            type=kind, severity=severity, license_no=right.license_no, mine_name=right.mine_name,
            plan_year=plan.plan_year, geometry=u.geometry, area_hm2=area_of(u.geometry),
            period=season.label,
            observed={"fvc": v.fvc, "ndvi": v.ndvi, "bsi": v.bsi, "clear_observations": v.n_clear,
                      "statistic": "median of clear-date unit means"},
            expected={"measure": "fvc", "min": th.min, "land_class": th.land_class,
                      "region": th.region, "source": th.source, "provisional": th.provisional},
            evidence_scenes=v.scenes, unit_seq=u.seq, unit_section=u.section,
            target_land_class=u.land_class, key=unit_key(u)))
    return anomalies, unjudged
