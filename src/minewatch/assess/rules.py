"""Rules that compare each unit's season statistics with what the plan promised.

Each rule takes the per-unit series table (one row per unit and scene, see
`minewatch.sky.series`; assess.evidence adds the natural-vegetation reference ring as unit
``reference`` and a ``water_fraction`` column) and returns anomalies plus the units it
could not judge. The rules, in docs/assessment.md:

- threshold: (region, 三调 class) row of the threshold table (assess/thresholds.py);
- season value: median over the season's clear dates (unit clear share >= min_clear_fraction)
  of the unit mean; at least ``min_clear_obs`` dates or the unit is unjudged
  (INSUFFICIENT_OBSERVATIONS, never a flag);
- reference normalisation (fvc): expected = threshold x min(1, ref_now / ref_base), floored
  at ``reference.min_factor``; ref_now = the ring's season median this year, ref_base = the
  larger of that and last year's. A unit is flagged only when it is below the absolute
  threshold AND its cover relative to the ring (unit / ref_now) is below threshold / ref_base;
  a drought or late spring that lowers the ring lowers the bar in proportion;
- RESTORATION_SHORTFALL: this year's unit (planned section) below expected at season end;
- AT_RISK: before the season ends (from ``at_risk_from``), a planned unit whose most
  optimistic projection cannot reach expected: max(now x the ring's remaining seasonal gain
  last year, now + its own recent slope x days left) < expected;
- CLAIMED_RESTORATION_NOT_OBSERVED: last year's restored unit below expected;
- VEGETATION_DEGRADATION: an accepted (验收) restored unit that met the bar last season and
  fell by >= degradation_fvc_drop FVC and by >= degradation_rel_drop in unit/reference;
- TEMPORARY_LAND_NOT_RESTORED: a temporary-land unit (是否为临时用地) whose season FVC is
  still under ``temporary_bare_fvc`` (bare) where the other types would apply;
- water targets (e.g. 1104 坑塘水面): share of clear pixels with MNDWI > 0 below the row's value.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from minewatch.assess import windows
from minewatch.assess.anomaly import Anomaly, RuleResult, Unjudged
from minewatch.assess.confidence import classify
from minewatch.assess.evidence import Evidence
from minewatch.assess.reference import REFERENCE
from minewatch.assess.season import Season
from minewatch.assess.thresholds import Threshold, ThresholdTable
from minewatch.config import AssessSettings, Settings
from minewatch.labels import UNJUDGED_ZH
from minewatch.promised.coords import area_hm2
from minewatch.promised.models import PLANNED, RESTORED, AnnualPlan, MiningRight, Unit


@dataclass(frozen=True)
class SeasonValue:
    """A unit's measure over one season: median of clear-date unit means."""
    n_clear: int
    fvc: float | None
    ndvi: float | None
    bsi: float | None
    scenes: tuple[str, ...]
    water: float | None = None
    values: tuple[float, ...] = ()       # per-date fvc (or water share), date order
    last: date | None = None             # the last clear date used


def _r4(v: Any) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), 4)


def _clear_rows(series: pd.DataFrame, unit_key: str, start: date, end: date,
                min_clear_fraction: float) -> pd.DataFrame:
    s = series[(series.unit == unit_key)]
    d = pd.to_datetime(s.datetime).dt.date
    s = s[(d >= start) & (d <= end) & (s.clear_fraction >= min_clear_fraction)]
    return s.dropna(subset=["fvc_mean"]).sort_values("datetime")


def season_value(series: pd.DataFrame, unit_key: str, season: Season,
                 min_clear_fraction: float, measure: str = "fvc") -> SeasonValue:
    s = _clear_rows(series, unit_key, season.start, season.end, min_clear_fraction)
    if s.empty:
        return SeasonValue(0, None, None, None, ())
    water = None
    if "water_fraction" in s.columns and s.water_fraction.notna().any():
        water = _r4(s.water_fraction.median())
    col = "water_fraction" if measure == "water" and water is not None else "fvc_mean"
    return SeasonValue(len(s), _r4(s.fvc_mean.median()), _r4(s.ndvi_mean.median()),
                       _r4(s.bsi_mean.median()) if s.bsi_mean.notna().any() else None,
                       tuple(sorted(s.item_id)), water, tuple(float(v) for v in s[col]),
                       pd.Timestamp(s.datetime.iloc[-1]).date())


def unit_key(u: Unit) -> str:
    return f"{u.section}:{u.seq}"


@dataclass(frozen=True)
class Reference:
    """The ring's season medians: this season, the baseline season, and the adjustment."""
    now: float | None
    base: float | None
    n_now: int
    scenes: tuple[str, ...]
    min_factor: float = 0.4

    @property
    def factor(self) -> float:
        """Multiplier on an absolute fvc threshold: min(1, now / max(base, now)), floored."""
        if not self.now or not self.base:
            return 1.0
        return float(np.clip(self.now / max(self.base, self.now), self.min_factor, 1.0))


def reference_of(series: pd.DataFrame, season: Season, min_clear_fraction: float,
                 min_factor: float, min_obs: int) -> Reference:
    if series is None or REFERENCE not in set(series.unit):
        return Reference(None, None, 0, (), min_factor)
    now = season_value(series, REFERENCE, season, min_clear_fraction)
    base = season_value(series, REFERENCE, season.shifted(-1), min_clear_fraction)
    ok = lambda v: v.fvc if v.n_clear >= min_obs else None
    return Reference(ok(now), ok(base), now.n_clear, now.scenes, min_factor)


def fvc_minimums(right: MiningRight, plan: AnnualPlan, thresholds: ThresholdTable,
                 region: str) -> dict[str, float]:
    """Unit key -> the FVC minimum its threshold row sets (drawn in the reports)."""
    out = {}
    for u in plan.units:
        th = thresholds.lookup(u.land_class, region, county_code=right.county_code) if u.land_class else None
        if th is not None and th.measure == "fvc":
            out[unit_key(u)] = th.min
    return out


def unit_rule(ev: Evidence, right: MiningRight, plan: AnnualPlan | None, thresholds: ThresholdTable,
              s: Settings) -> RuleResult:
    """The unit flags (module docstring) on the evidence's per-unit series; nothing without a plan."""
    if plan is None:
        return RuleResult()
    flags, unjudged = assess_units(right, plan, ev.series, thresholds, as_of=ev.as_of, cfg=s.assess)
    return RuleResult(tuple(flags), tuple(unjudged), fvc_minimums(right, plan, thresholds, s.assess.region))


def assess_units(right: MiningRight, plan: AnnualPlan, series: pd.DataFrame,
                 thresholds: ThresholdTable, *, as_of: date,
                 cfg: AssessSettings) -> tuple[list[Anomaly], list[Unjudged]]:
    """Unit flags for this year's and last year's units (module docstring). Season-end types
    are judged only once the season has ended: a unit planted in spring is not short in June.
    `cfg` gives the season, observation minimums, region, reference, AT_RISK, degradation and
    confidence settings.
    """
    season_mmdd = (cfg.season_start, cfg.season_end)
    min_clear_obs, min_clear_fraction, region = cfg.min_clear_obs, cfg.min_clear_fraction, cfg.region
    anomalies: list[Anomaly] = []
    unjudged: list[Unjudged] = []
    conf = cfg.confidence
    for u in plan.section(PLANNED) + plan.section(RESTORED):
        key = unit_key(u)
        th = thresholds.lookup(u.land_class, region, county_code=right.county_code) if u.land_class else None
        if th is None or th.measure not in ("fvc", "water"):
            reason = "NO_THRESHOLD" if th is None else "NO_VEGETATION_TARGET"
            unjudged.append(Unjudged(plan.license_no, key, reason,
                                     "无适用阈值" if th is None else "目标地类无植被/水面要求", 0))
            continue
        season = Season.of(plan.plan_year, *(th.season_mmdd or season_mmdd))
        ref = reference_of(series, season, cfg.reference.min_clear_fraction, cfg.reference.min_factor,
                           min_clear_obs) if th.measure == "fvc" else Reference(None, None, 0, ())

        # u and key bound as defaults: make is built per unit and must not see a later iteration's
        def make(kind: str, severity: str, observed: dict, expected: dict, scenes: Iterable[str], confidence: str,
                 notes: str = "", period: str = season.label, *, u: Unit = u, key: str = key) -> Anomaly:
            return Anomaly(type=kind, severity=severity, license_no=right.license_no,
                           mine_name=right.mine_name, plan_year=plan.plan_year, geometry=u.geometry,
                           area_hm2=area_hm2(u.geometry), period=period, observed=observed,
                           expected=expected, evidence_scenes=tuple(scenes), unit_seq=u.seq,
                           unit_section=u.section, target_land_class=u.land_class, key=key,
                           notes_zh=notes, confidence=confidence)

        if as_of < season.end:
            a = _at_risk(u, th, series, season, as_of, ref, cfg, make) \
                if u.section == PLANNED else None
            if a is not None:
                anomalies.append(a)
            else:
                unjudged.append(Unjudged(plan.license_no, key, "SEASON_NOT_OVER",
                                         f"评估季({season.label})尚未结束", 0))
            continue

        # persistent cloud: the season widened into the adjacent weeks (assess/windows.py)
        w = windows.widened(season, lambda se, key=key, th=th: season_value(series, key, se, min_clear_fraction,
                                                                           th.measure),
                            lambda x: x.n_clear, min_clear_obs, cfg.widen_days, cfg.widen_steps, as_of)
        v, window = w.value, w.used
        snow = windows.snow_dates(series, key, window, min_clear_fraction)
        if v.n_clear < min_clear_obs:
            unjudged.append(_short(plan.license_no, key, v.n_clear, snow, min_clear_obs, w.tried_text))
            continue
        if w.widened and th.measure == "fvc":   # the ring over the same window as the unit
            ref = reference_of(series, window, cfg.reference.min_clear_fraction, cfg.reference.min_factor,
                               min_clear_obs)
        assert v.fvc is not None   # clear rows have an fvc_mean (_clear_rows drops NaN), so a median
        observed = {"fvc": v.fvc, "ndvi": v.ndvi, "bsi": v.bsi, "clear_observations": v.n_clear,
                    "statistic": "median of clear-date unit means", "window": window.label,
                    "snow_dates": snow}
        expected = {"measure": th.measure, "min": th.min, "land_class": th.land_class,
                    "region": th.region, "source": th.source, "provisional": th.provisional}
        if th.measure == "water":
            observed["water_fraction"] = v.water
            value, bar, margin_min = v.water, th.min, conf.water_margin
        else:
            bar = round(th.min * ref.factor, 4)
            value, margin_min = v.fvc, conf.fvc_margin
            observed["reference_fvc"] = _r4(ref.now)
            observed["relative_to_reference"] = _r4(v.fvc / ref.now) if ref.now else None
            expected.update({"min_adjusted": bar, "reference_factor": round(ref.factor, 4),
                             "reference_fvc_baseline": _r4(ref.base),
                             "relative_min": _r4(th.min / max(ref.base, ref.now)) if ref.now and ref.base else None,
                             "rule": "flag if fvc < min AND fvc/reference < min/reference_baseline "
                                     "(= fvc < min x reference_factor)"})

        # VEGETATION_DEGRADATION: accepted, met the bar last season, fell back
        if u.section == RESTORED and u.accepted and th.measure == "fvc":
            a = _degradation(u, th, series, season, v, ref, cfg, make, observed, expected)
            if a is not None:
                anomalies.append(a)
                continue
        if value is None or value >= bar:
            continue
        margin = bar - value
        agree = float(np.mean([x < bar for x in v.values])) if v.values else 0.0
        confidence = classify(v.n_clear, agree, margin, min_obs=min_clear_obs, margin_min=margin_min,
                              agree_high=conf.agree_high, agree_highest=conf.agree_highest)
        observed["agreeing_dates"] = round(agree, 4)
        if u.is_temporary and th.measure == "fvc" and v.fvc < cfg.temporary_bare_fvc:
            kind = "TEMPORARY_LAND_NOT_RESTORED"
            expected["bare_fvc_max"] = cfg.temporary_bare_fvc
            notes = "临时用地在计划修复后仍为裸地，需督促复垦"
        elif u.section == PLANNED:
            kind, notes = "RESTORATION_SHORTFALL", ""
        else:
            kind, notes = "CLAIMED_RESTORATION_NOT_OBSERVED", ""
        severity = "high" if (kind != "RESTORATION_SHORTFALL" or value < bar / 2) else "medium"
        anomalies.append(make(kind, severity, observed, expected, v.scenes, confidence, notes, window.label))
    return anomalies, unjudged


def _short(license_no: str, key: str, n_clear: int, snow: int, min_obs: int, tried: str) -> Unjudged:
    """A unit short of clear dates in every window tried: SNOW_COVER when its snow-covered dates
    would have made up the count (snow, not cloud, kept it from being judged), else
    INSUFFICIENT_OBSERVATIONS; the text names the count, the snow dates and the windows."""
    if snow and n_clear + snow >= min_obs:
        return Unjudged(license_no, key, "SNOW_COVER",
                        f"{UNJUDGED_ZH['SNOW_COVER']}: 晴空观测 {n_clear} < {min_obs}, 积雪/结冰日期 {snow} "
                        f"(已尝试窗口 {tried})", n_clear)
    return Unjudged(license_no, key, "INSUFFICIENT_OBSERVATIONS",
                    f"有效观测不足 ({n_clear} < {min_obs}; 积雪/结冰日期 {snow}; 已尝试窗口 {tried})", n_clear)


@dataclass(frozen=True)
class Degradation:
    """A fall of an accepted unit's cover: what the finding reports."""
    observed: dict[str, Any]
    expected: dict[str, Any]
    confidence: str
    scenes: tuple[str, ...]


def degradation(th: Threshold, v: SeasonValue, ref_now: float | None, before: SeasonValue,
                ref_before: float | None, before_period: str, cfg: AssessSettings, observed: dict[str, Any],
                expected: dict[str, Any]) -> Degradation | None:
    """VEGETATION_DEGRADATION's test: the unit met the bar in the season it is compared with
    (`before`, the ring then `ref_before`) and fell by >= degradation_fvc_drop FVC and by >=
    degradation_rel_drop relative to the ring (None when it did not)."""
    min_obs = cfg.min_clear_obs
    if before.n_clear < min_obs or before.fvc is None or before.fvc < th.min or v.fvc is None:
        return None
    drop = before.fvc - v.fvc
    rel_now = v.fvc / ref_now if ref_now else None
    rel_prev = before.fvc / ref_before if ref_before else None
    rel_drop = (rel_prev - rel_now) if rel_now is not None and rel_prev is not None else None
    if drop < cfg.degradation_fvc_drop or (rel_drop is not None and rel_drop < cfg.degradation_rel_drop):
        return None
    margin = drop - cfg.degradation_fvc_drop
    agree = float(np.mean([x <= before.fvc - cfg.degradation_fvc_drop for x in v.values])) if v.values else 0.0
    confidence = classify(min(v.n_clear, before.n_clear), agree, margin + cfg.confidence.fvc_margin,
                          min_obs=min_obs, margin_min=cfg.confidence.fvc_margin,
                          agree_high=cfg.confidence.agree_high, agree_highest=cfg.confidence.agree_highest)
    observed = {**observed, "fvc_previous_season": before.fvc, "fvc_drop": round(drop, 4),
                "relative_previous": _r4(rel_prev), "relative_now": _r4(rel_now),
                "relative_drop": _r4(rel_drop), "previous_clear_observations": before.n_clear,
                "agreeing_dates": round(agree, 4)}
    expected = {**expected, "rule": "accepted unit keeps its cover: fvc drop < degradation_fvc_drop "
                                    "or drop relative to the reference ring < degradation_rel_drop",
                "degradation_fvc_drop": cfg.degradation_fvc_drop,
                "degradation_rel_drop": cfg.degradation_rel_drop,
                "previous_period": before_period}
    return Degradation(observed, expected, confidence, tuple(sorted(v.scenes + before.scenes)))


def _degradation(u: Unit, th: Threshold, series: pd.DataFrame, season: Season, v: SeasonValue, ref: Reference,
                 cfg: AssessSettings, make: Callable[..., Anomaly], observed: dict[str, Any],
                 expected: dict[str, Any]) -> Anomaly | None:
    prev_season = season.shifted(-1)
    p = season_value(series, unit_key(u), prev_season, cfg.min_clear_fraction)
    d = degradation(th, v, ref.now, p, ref.base, prev_season.label, cfg, observed, expected)
    if d is None:
        return None
    return make("VEGETATION_DEGRADATION", "high", d.observed, d.expected, d.scenes,
                d.confidence, "已验收修复单元植被覆盖度较上一年度明显下降（已扣除周边自然植被年际变化）",
                period=f"{prev_season.start}/{season.end}")


def _at_risk(u: Unit, th: Threshold, series: pd.DataFrame, season: Season, as_of: date, ref: Reference,
             cfg: AssessSettings, make: Callable[..., Anomaly]) -> Anomaly | None:
    """AT_RISK or None (None: still reachable, or not enough to say)."""
    min_obs, min_clear_fraction = cfg.min_clear_obs, cfg.min_clear_fraction
    if th.measure != "fvc" or as_of < Season.of(season.start.year, cfg.at_risk_from, "12-31").start:
        return None
    recent = _clear_rows(series, unit_key(u), as_of - timedelta(days=cfg.recent_days), as_of,
                         min_clear_fraction)
    if len(recent) < min_obs or series is None or REFERENCE not in set(series.unit):
        return None
    now = float(recent.fvc_mean.median())
    days = (pd.to_datetime(recent.datetime) - pd.Timestamp(as_of)).dt.days.to_numpy(float)
    slope = max(0.0, float(np.polyfit(days, recent.fvc_mean.to_numpy(float), 1)[0])) if np.ptp(days) > 0 else 0.0
    # the ring last year: its value around today's day of year and its best until the season's end
    last = as_of.replace(year=as_of.year - 1)
    rc = cfg.reference.min_clear_fraction
    around = _clear_rows(series, REFERENCE, last - timedelta(days=15), last + timedelta(days=15), rc)
    ahead = _clear_rows(series, REFERENCE, last, season.end.replace(year=season.end.year - 1), rc)
    now_ring = _clear_rows(series, REFERENCE, as_of - timedelta(days=cfg.recent_days), as_of, rc)
    if around.empty or ahead.empty or now_ring.empty:
        return None
    ring_then = float(around.fvc_mean.median())
    gain = max(1.0, float(ahead.fvc_mean.max()) / ring_then) if ring_then > 0 else 1.0
    factor = float(np.clip(float(now_ring.fvc_mean.median()) / ring_then, cfg.reference.min_factor, 1.0)) \
        if ring_then > 0 else 1.0
    bar = th.min * factor
    days_left = (season.end - as_of).days
    best = max(now * gain, now + slope * days_left)
    if best >= bar:
        return None
    agree = float(np.mean(recent.fvc_mean.to_numpy(float) * gain < bar))
    confidence = classify(len(recent), agree, bar - best, min_obs=min_obs, margin_min=cfg.confidence.fvc_margin,
                          agree_high=cfg.confidence.agree_high, agree_highest=cfg.confidence.agree_highest)
    observed = {"fvc": _r4(now), "slope_fvc_per_day": _r4(slope), "projected_best_fvc": _r4(best),
                "reference_gain_remaining": _r4(gain), "reference_factor": _r4(factor),
                "clear_observations": len(recent), "agreeing_dates": round(agree, 4),
                "statistic": f"median of clear-date unit means in the last {cfg.recent_days} days"}
    expected = {"measure": "fvc", "min": th.min, "min_adjusted": _r4(bar), "land_class": th.land_class,
                "region": th.region, "source": th.source, "provisional": th.provisional,
                "season": season.label, "days_left": days_left,
                "rule": "max(fvc x reference ring's remaining gain last year, fvc + slope x days left) "
                        ">= min x reference_factor"}
    return make("AT_RISK", "medium", observed, expected, tuple(sorted(recent.item_id)), confidence,
                "按周边自然植被物候和本单元近期趋势，本评估季末难以达到目标覆盖度",
                period=f"{(as_of - timedelta(days=cfg.recent_days)).isoformat()}/{as_of.isoformat()}")
