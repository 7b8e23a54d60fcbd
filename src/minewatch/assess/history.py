"""The rules only history can decide (全流程跟踪), on the ledger's snapshot of a mine (`Evidence.history`).

- VEGETATION_DEGRADATION for an accepted unit the current plan omits, within the 管护期
  (``ledger.management_years`` after acceptance): against its own cover at acceptance (the
  ledger's season observation for the acceptance year if stored, else the first season from
  the acceptance year on that the window holds) and the reference ring as now, by the same
  test as a listed unit (`assess.rules.degradation`);
- PLAN_NOT_EXECUTED: a unit planned for Y-1 that plan Y neither reports restored nor plans
  again (nor lists split or merged), with the area promised and its FVC now against the
  target class's bar;
- RESTORED_LAND_REDISTURBED: a restored and accepted unit (this plan's, or an omitted one in
  its 管护期) with a same-season loss patch inside it (the disturbance loss test); a unit
  flagged VEGETATION_DEGRADATION keeps that one finding (`assess.judge.explained`);
- RESTORATION_OVERDUE_AT_EXPIRY: the right's validity ended before as_of and the ledger still
  holds units whose latest row is damage or planned: the outstanding area.

A finding about a unit the current plan does not list keys on the row it rests on,
``section:seq@year`` (`MentionRecord.key`). `ledger_findings` gives the plan findings that
need the ledger alone (LEDGER_RESTORED_NOT_PLANNED, LEDGER_UNIT_CHANGED); `season_rows`
what the night writes back to the ledger.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from shapely.ops import unary_union

from minewatch.assess.anomaly import Anomaly, RuleResult, Unjudged
from minewatch.assess.disturbance_rules import loss_anomaly, loss_judged, loss_patches_in
from minewatch.assess.evidence import Evidence
from minewatch.assess.reference import REFERENCE
from minewatch.assess.rules import SeasonValue, degradation, reference_of, season_value, unit_key, unit_season
from minewatch.assess.season import Season
from minewatch.assess.thresholds import ThresholdTable
from minewatch.config import Settings
from minewatch.ledger.history import MentionRecord, MineHistory, SeasonRow, UnitHistory
from minewatch.promised.coords import area_hm2
from minewatch.promised.findings import WARNING, Finding
from minewatch.promised.models import DAMAGE, PLANNED, RESTORED, AnnualPlan, MiningRight

__all__ = ["ACCEPTED", "DROPPED", "Tracked", "tracked_units", "omitted_degradation", "plan_not_executed",
           "restored_land_redisturbed", "overdue_at_expiry", "ledger_findings", "season_rows", "HISTORY_RULES",
           "LEDGER_RULES"]

ACCEPTED = "accepted"      # an accepted unit the current plan omits, in its 管护期
DROPPED = "dropped"        # planned last year, neither restored nor planned again this year


@dataclass(frozen=True)
class Tracked:
    """A unit the current plan does not list that the rules measure, on the row it rests on."""
    kind: str                       # ACCEPTED | DROPPED
    unit: UnitHistory
    mention: MentionRecord
    acceptance_year: int | None = None
    acceptance_source: str = ""     # record | plan

    @property
    def key(self) -> str:
        return self.mention.key


def _continued(h: MineHistory, year: int) -> set[str]:
    """Units a plan of ``year`` lists, or names as what a split or merged row came from."""
    out: set[str] = set()
    for u in h.units:
        for m in u.in_year(year):
            out.add(u.unit_id)
            out.update(m.candidates)
    return out


def tracked_units(h: MineHistory | None, plan_year: int, management_years: int) -> dict[str, Tracked]:
    """Unit key -> the units the pipeline measures beside the plan's (keys `MentionRecord.key`)."""
    if h is None:
        return {}
    listed = _continued(h, plan_year)
    out: dict[str, Tracked] = {}
    for u in h.units:
        if u.unit_id in listed or not u.before(plan_year):
            continue
        acc = u.acceptance(plan_year)
        if acc is not None and acc[0] < plan_year <= acc[0] + management_years:
            year, claim = acc
            m = claim if claim is not None else u.before(plan_year)[-1]
            source = "record" if any(a.accepted_on and a.accepted_on.year == year and a.result == "合格"
                                     for a in u.acceptances) else "plan"
            out[m.key] = Tracked(ACCEPTED, u, m, year, source)
            continue
        if plan_year in h.years:
            last = [m for m in u.in_year(plan_year - 1) if m.section == PLANNED]
            if last and not any(m.section in (RESTORED, PLANNED) for m in u.mentions if m.year >= plan_year):
                out[last[-1].key] = Tracked(DROPPED, u, last[-1])
    return dict(sorted(out.items()))


def _tracked(ev: Evidence, s: Settings) -> dict[str, Tracked]:
    return {k: t for k, t in tracked_units(ev.history, ev.plan_year, s.ledger.management_years).items()
            if k in ev.units_utm}


def _anomaly(kind: str, severity: str, right: MiningRight, ev: Evidence, t: Tracked, period: str, observed: dict,
             expected: dict, scenes: tuple[str, ...], confidence: str, notes: str) -> Anomaly:
    m = t.mention
    return Anomaly(type=kind, severity=severity, license_no=right.license_no, mine_name=right.mine_name,
                   plan_year=ev.plan_year, geometry=m.geometry, area_hm2=round(area_hm2(m.geometry), 4),
                   period=period, observed=observed, expected=expected, evidence_scenes=scenes, unit_seq=m.seq,
                   unit_section=m.section, target_land_class=m.land_class or None, key=t.key, notes_zh=notes,
                   confidence=confidence, unit_id=t.unit.unit_id)


def _stored(u: UnitHistory, year: int) -> tuple[SeasonValue, float | None] | None:
    o = u.season(year)
    if o is None or o.fvc is None:
        return None
    return SeasonValue(o.clear_obs, o.fvc, None, None, ()), o.reference_fvc


def omitted_degradation(ev: Evidence, right: MiningRight, plan: AnnualPlan | None, thresholds: ThresholdTable,
                        s: Settings) -> RuleResult:
    """VEGETATION_DEGRADATION of accepted units the plan omits (module docstring)."""
    cfg = s.assess
    found: list[Anomaly] = []
    unjudged: list[Unjudged] = []
    for key, t in _tracked(ev, s).items():
        if t.kind != ACCEPTED:
            continue
        m = t.mention
        th = thresholds.lookup(m.land_class, cfg.region, county_code=right.county_code) if m.land_class else None
        if th is None or th.measure != "fvc":
            continue    # water or no target: nothing to degrade from
        us = unit_season(right, th, thresholds, ev.series, ev.plan_year, ev.as_of, cfg)   # the unit rules' window
        season = us.now.season
        if ev.as_of < season.end:
            unjudged.append(Unjudged(right.license_no, key, "SEASON_NOT_OVER", f"评估季({season.label})尚未结束", 0))
            continue
        v = season_value(ev.series, key, season, cfg.min_clear_fraction)
        if v.n_clear < cfg.min_clear_obs:
            unjudged.append(Unjudged(right.license_no, key, "INSUFFICIENT_OBSERVATIONS",
                                     f"有效观测不足 ({v.n_clear} < {cfg.min_clear_obs})", v.n_clear))
            continue
        ref = reference_of(ev.series, season, cfg.reference.min_clear_fraction, cfg.reference.min_factor,
                           cfg.min_clear_obs, us.base.season)
        assert t.acceptance_year is not None   # ACCEPTED units have one
        before = _before(ev, t, key, season, s)
        if before is None:
            unjudged.append(Unjudged(right.license_no, key, "NO_ACCEPTANCE_SEASON",
                                     "无验收当年或其后的评估季观测, 无法对比", v.n_clear))
            continue
        b, ref_b, b_season, source = before
        observed = {"fvc": v.fvc, "ndvi": v.ndvi, "bsi": v.bsi, "clear_observations": v.n_clear,
                    "statistic": "median of clear-date unit means", "reference_fvc": ref.now,
                    "acceptance_year": t.acceptance_year, "acceptance_source": t.acceptance_source,
                    "previous_source": source}
        expected = {"measure": th.measure, "min": th.min, "land_class": th.land_class, "region": th.region,
                    "source": th.source, "provisional": th.provisional,
                    "management_years": s.ledger.management_years, **us.record()}
        d = degradation(th, v, ref.now, b, ref_b, b_season.label, cfg, observed, expected)
        if d is not None:
            found.append(_anomaly("VEGETATION_DEGRADATION", "high", right, ev, t, f"{b_season.start}/{season.end}",
                                  d.observed, d.expected, d.scenes, d.confidence,
                                  f"已验收修复单元({t.unit.unit_id}, {t.acceptance_year}年验收)本年度计划未再列入, "
                                  f"植被覆盖度较验收时明显下降（已扣除周边自然植被年际变化）, 处于管护期内"))
    return RuleResult(tuple(found), tuple(unjudged))


def _before(ev: Evidence, t: Tracked, key: str, season: Season, s: Settings
            ) -> tuple[SeasonValue, float | None, Season, str] | None:
    """The cover the unit is compared with: the stored acceptance-year season, else the first
    season from the acceptance year on that the window has enough clear dates for."""
    cfg = s.assess
    year = t.acceptance_year
    assert year is not None
    stored = _stored(t.unit, year)
    if stored is not None:
        return stored[0], stored[1], season.shifted(year - season.start.year), "ledger"
    for y in range(year, ev.plan_year):
        sy = season.shifted(y - season.start.year)
        v = season_value(ev.series, key, sy, cfg.min_clear_fraction)
        if v.n_clear >= cfg.min_clear_obs:
            r = season_value(ev.series, REFERENCE, sy, cfg.reference.min_clear_fraction) \
                if ev.reference is not None else None
            ref_b = r.fvc if r is not None and r.n_clear >= cfg.min_clear_obs else None
            return v, ref_b, sy, "window"
    return None


def plan_not_executed(ev: Evidence, right: MiningRight, plan: AnnualPlan | None, thresholds: ThresholdTable,
                      s: Settings) -> RuleResult:
    """PLAN_NOT_EXECUTED (module docstring); judged as soon as plan Y is filed."""
    cfg = s.assess
    found = []
    for key, t in _tracked(ev, s).items():
        if t.kind != DROPPED:
            continue
        m = t.mention
        th = thresholds.lookup(m.land_class, cfg.region, county_code=right.county_code) if m.land_class else None
        us = unit_season(right, th, thresholds, ev.series, ev.plan_year, ev.as_of, cfg)   # the unit rules' window
        season = us.now.season
        measure = th.measure if th is not None and th.measure in ("fvc", "water") else "fvc"
        v = season_value(ev.series, key, season, cfg.min_clear_fraction, measure)
        ref = reference_of(ev.series, season, cfg.reference.min_clear_fraction, cfg.reference.min_factor,
                           cfg.min_clear_obs, us.base.season)
        judged = v.n_clear >= cfg.min_clear_obs
        value = (v.water if measure == "water" else v.fvc) if judged else None
        bar = None
        if th is not None and th.measure in ("fvc", "water"):
            bar = th.min if th.measure == "water" else round(th.min * ref.factor, 4)
        meets = None if value is None or bar is None else bool(value >= bar)
        observed = {"planned_year": m.year, "promised_area_hm2": m.area_hm2, "fvc": v.fvc if judged else None,
                    "clear_observations": v.n_clear, "reference_fvc": ref.now, "meets_target": meets,
                    "unit_id": t.unit.unit_id}
        if measure == "water":
            observed["water_fraction"] = v.water if judged else None
        expected = {"rule": "a unit planned for year Y-1 is reported restored or planned again in plan Y",
                    "land_class": m.land_class, "measure": th.measure if th is not None else None,
                    "min": th.min if th is not None else None, "min_adjusted": bar, **us.record()}
        severity = "medium" if meets else "high"
        what = ("影像显示已达到目标地类要求, 但计划未申报" if meets else
                "影像显示尚未达到目标地类要求" if meets is False else "影像观测不足, 无法判断现状")
        found.append(_anomaly("PLAN_NOT_EXECUTED", severity, right, ev, t, f"{m.year}-01-01/{ev.as_of}",
                              observed, expected, v.scenes if judged else (), "high",
                              f"{m.year}年度计划修复单元{t.unit.unit_id}(第{m.seq}号, {m.area_hm2}hm²), "
                              f"{ev.plan_year}年度计划未申报修复也未继续列入; {what}"))
    return RuleResult(tuple(found))


def restored_land_redisturbed(ev: Evidence, right: MiningRight, plan: AnnualPlan | None,
                              thresholds: ThresholdTable, s: Settings) -> RuleResult:
    """RESTORED_LAND_REDISTURBED: loss patches inside restored, accepted units (module docstring)."""
    if not loss_judged(ev):
        return RuleResult()
    units: list[tuple[str, dict[str, Any]]] = []
    h = ev.history
    for u in (plan.section(RESTORED) if plan else ()):
        if u.accepted and unit_key(u) in ev.unit_footprints:
            uid = h.unit_of(plan.plan_year, u.section, u.seq) if h is not None and plan is not None else None
            units.append((unit_key(u), dict(key=unit_key(u), unit_section=u.section, unit_seq=u.seq,
                                            target_land_class=u.land_class or None, unit_id=uid)))
    for key, t in _tracked(ev, s).items():
        if t.kind == ACCEPTED:
            m = t.mention
            units.append((key, dict(key=key, unit_section=m.section, unit_seq=m.seq,
                                    target_land_class=m.land_class or None, unit_id=t.unit.unit_id)))
    found = []
    for key, fields in units:
        for p in loss_patches_in(ev, ev.unit_footprints[key], s):
            found.append(loss_anomaly("RESTORED_LAND_REDISTURBED", p, ev, right, s,
                                      "no vegetation loss on land restored and accepted",
                                      f"已修复并验收的单元{fields['unit_id'] or key}内出现新的植被损毁, "
                                      f"疑似违法占用或再次开采", **fields))
    return RuleResult(tuple(found))


def overdue_at_expiry(ev: Evidence, right: MiningRight, plan: AnnualPlan | None, thresholds: ThresholdTable,
                      s: Settings) -> RuleResult:
    """RESTORATION_OVERDUE_AT_EXPIRY: validity over, ledger units still damaged or planned."""
    h = ev.history
    if h is None or right.valid_to >= ev.as_of:
        return RuleResult()
    retired = {c for u in h.units for m in u.mentions for c in m.candidates}
    open_units = [(u, u.mentions[-1]) for u in h.units
                  if u.mentions[-1].section in (DAMAGE, PLANNED) and u.unit_id not in retired]
    if not open_units:
        return RuleResult()
    area = round(sum(m.area_hm2 if m.area_hm2 is not None else area_hm2(m.geometry) for _, m in open_units), 4)
    geom = unary_union([m.geometry for _, m in open_units])
    return RuleResult((Anomaly(
        type="RESTORATION_OVERDUE_AT_EXPIRY", severity="high", license_no=right.license_no,
        mine_name=right.mine_name, plan_year=ev.plan_year, geometry=geom, area_hm2=round(area_hm2(geom), 4),
        period=f"{right.valid_to.isoformat()}/{ev.as_of.isoformat()}",
        observed={"outstanding_hm2": area, "outstanding_units": len(open_units),
                  "unit_ids": [u.unit_id for u, _ in open_units], "valid_to": right.valid_to.isoformat()},
        expected={"rule": "every damaged or planned unit reported restored by the end of the right's validity",
                  "outstanding_hm2": 0.0, "as_of": ev.as_of.isoformat()},
        evidence_scenes=(), key="overdue",
        notes_zh=f"采矿权有效期已于{right.valid_to.isoformat()}届满, 台账中仍有{len(open_units)}个单元"
                 f"共{area:.4f}hm²未申报修复"),))


LEDGER_RULES = ("LEDGER_RESTORED_NOT_PLANNED", "LEDGER_UNIT_CHANGED")
HISTORY_RULES = (omitted_degradation, plan_not_executed, restored_land_redisturbed, overdue_at_expiry)


def _finding(m: MentionRecord, rule: str, field: str, value: str, msg: str) -> Finding:
    return Finding(file=Path(m.file).name, sheet="", row=m.row, field=field, value=value, rule=rule,
                   severity=WARNING, message_zh=msg)


def ledger_findings(h: MineHistory, *, area_tolerance: float) -> list[Finding]:
    """Plan findings from the ledger alone, for the plan reviewer (not inspector flags).

    LEDGER_RESTORED_NOT_PLANNED: a row of plan Y reports a unit restored that no earlier plan
    planned or declared damaged (only when the ledger has an earlier plan of the right, and
    the row is not the split or merge of an earlier unit). LEDGER_UNIT_CHANGED: from one year
    to the next a unit's planned or restored area differs by more than ``area_tolerance``
    (relative) or its target class changes."""
    out: list[Finding] = []
    first = h.years[0] if h.years else None
    for u in h.units:
        for i, m in enumerate(u.mentions):
            earlier = [e for e in u.mentions[:i] if e.year < m.year]
            if (m.section == RESTORED and first is not None and m.year > first and not m.candidates
                    and not any(e.section in (PLANNED, DAMAGE) for e in earlier)):
                out.append(_finding(m, LEDGER_RULES[0], "序号", str(m.seq),
                                    f"{m.year}年度计划申报第{m.seq}号单元({u.unit_id})已修复, "
                                    f"但往年计划既未列入修复计划也未申报为损毁, 请核实"))
            if m.section == DAMAGE:
                continue
            prev = [e for e in earlier if e.section in (PLANNED, RESTORED)]
            if not prev or prev[-1].year != max(e.year for e in earlier):
                continue
            p = prev[-1]
            if p.land_class and m.land_class and p.land_class != m.land_class:
                out.append(_finding(m, LEDGER_RULES[1], "修复后地类", m.land_class,
                                    f"单元{u.unit_id}目标地类由{p.year}年度的{p.land_class}变为{m.land_class}, "
                                    f"未见方案修编, 请说明原因"))
            if p.area_hm2 and m.area_hm2 is not None and abs(m.area_hm2 - p.area_hm2) / p.area_hm2 > area_tolerance:
                out.append(_finding(m, LEDGER_RULES[1], "面积(hm²)", f"{m.area_hm2:.4f}",
                                    f"单元{u.unit_id}面积由{p.year}年度的{p.area_hm2:.4f}hm²变为{m.area_hm2:.4f}hm², "
                                    f"超出容差{area_tolerance:.0%}, 未见方案修编, 请说明原因"))
    return sorted(out, key=lambda f: (f.file, f.row or 0, f.rule, f.field))


def season_rows(ev: Evidence, plan: AnnualPlan | None, s: Settings) -> list[SeasonRow]:
    """This season's measures of every measured unit the ledger knows (plan units through the
    ledger's lookup, tracked units by their rows), for `ledger.history.record_seasons`."""
    h = ev.history
    if h is None:
        return []
    cfg = s.assess
    season = ev.dates.season
    lookup = h.lookup()
    ids: dict[str, str] = {}
    for u in (plan.units if plan else ()):
        uid = lookup.get((ev.plan_year, u.section, u.seq))
        if uid is not None:
            ids[unit_key(u)] = uid
    ids.update({k: t.unit.unit_id for k, t in _tracked(ev, s).items()})
    ref = season_value(ev.series, REFERENCE, season, cfg.reference.min_clear_fraction) \
        if ev.reference is not None else None
    ref_fvc = ref.fvc if ref is not None and ref.n_clear else None
    rows: dict[str, SeasonRow] = {}
    for key, uid in sorted(ids.items()):
        if key not in ev.units_utm or uid in rows:
            continue
        v = season_value(ev.series, key, season, cfg.min_clear_fraction)
        fvc = None if v.fvc is None or not np.isfinite(v.fvc) else v.fvc
        rows[uid] = SeasonRow(uid, season.start.year, fvc, ref_fvc, v.n_clear, v.last)
    return list(rows.values())
