"""Every rule, in one list, run on one mine's evidence; then the confidence hold-back.

A rule is a function (evidence, right, plan, thresholds, settings) -> RuleResult. A new
anomaly type is a new rule here (and its label in assess.anomaly.TYPES_ZH); nothing outside
assess/ changes. The list's order is the order of the findings in the outputs.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable, Sequence

from minewatch.assess.anomaly import Anomaly, RuleResult, Unjudged
from minewatch.assess.confidence import hold_back
from minewatch.assess.disturbance_rules import (
    damage_exceeds_declared,
    out_of_boundary_disturbance,
    undeclared_disturbance,
)
from minewatch.assess.evidence import Evidence
from minewatch.assess.history import HISTORY_RULES
from minewatch.assess.parts import partial_restoration
from minewatch.assess.rules import unit_rule
from minewatch.assess.thresholds import ThresholdTable
from minewatch.config import Settings
from minewatch.promised.models import AnnualPlan, MiningRight

Rule = Callable[[Evidence, MiningRight, "AnnualPlan | None", ThresholdTable, Settings], RuleResult]

RULES: tuple[Rule, ...] = (unit_rule, partial_restoration, undeclared_disturbance, out_of_boundary_disturbance,
                           damage_exceeds_declared, *HISTORY_RULES)
# a unit whose mean fails is one finding: its bare part adds nothing (assess.parts)
MEAN_FAILS = frozenset({"RESTORATION_SHORTFALL", "CLAIMED_RESTORATION_NOT_OBSERVED", "TEMPORARY_LAND_NOT_RESTORED",
                        "VEGETATION_DEGRADATION"})


def with_region(findings: Sequence[Anomaly], region: str, season: str) -> list[Anomaly]:
    """Every finding records the mine's region (observed) and a season window (expected): the
    unit rules record their own checked window, the others the mine's window (evidence.Dates)."""
    out = []
    for a in findings:
        obs = a.observed if "region" in a.observed else {**a.observed, "region": region}
        exp = a.expected if "season" in a.expected else {**a.expected, "season": season}
        same = obs is a.observed and exp is a.expected
        out.append(a if same else dataclasses.replace(a, observed=obs, expected=exp))
    return out


def explained(findings: Sequence[Anomaly]) -> list[Anomaly]:
    """The findings less a unit's RESTORED_LAND_REDISTURBED where VEGETATION_DEGRADATION was
    found on it: the loss of cover over the unit is one finding, and the loss test then adds
    nothing; the re-disturbance is reported where part of an accepted unit is dug up while
    the unit as a whole keeps its cover (or cannot be compared). Likewise a unit's
    PARTIAL_RESTORATION where its mean fails (MEAN_FAILS)."""
    degraded = {a.key for a in findings if a.type == "VEGETATION_DEGRADATION"}
    failed = {a.key for a in findings if a.type in MEAN_FAILS}
    return [a for a in findings if not (a.type == "RESTORED_LAND_REDISTURBED" and a.key in degraded)
            and not (a.type == "PARTIAL_RESTORATION" and a.key in failed)]


@dataclass(frozen=True)
class Judgement:
    """One mine's findings: reported, held back under assess.confidence.report_min, unjudged."""
    anomalies: tuple[Anomaly, ...] = ()
    held_back: tuple[Anomaly, ...] = ()
    unjudged: tuple[Unjudged, ...] = ()
    fvc_minimums: dict[str, float] = field(default_factory=dict)   # unit key -> FVC minimum used


def judge(ev: Evidence, right: MiningRight, plan: AnnualPlan | None, thresholds: ThresholdTable,
          s: Settings, rules: Sequence[Rule] = RULES) -> Judgement:
    findings: list[Anomaly] = []
    unjudged: list[Unjudged] = []
    minimums: dict[str, float] = {}
    for rule in rules:
        r = rule(ev, right, plan, thresholds, s)
        findings += r.findings
        unjudged += r.unjudged
        minimums.update(r.fvc_minimums)
    # a unit's part is reported only where its mean was judged (and passed: `explained`)
    unjudged_keys = {u.unit for u in unjudged}
    findings = [a for a in findings if not (a.type == "PARTIAL_RESTORATION" and a.key in unjudged_keys)]
    findings = with_region(findings, thresholds.region_of(right.county_code), ev.dates.season.label)
    reported, held, low = hold_back(explained(findings), s.assess.confidence.report_min)
    return Judgement(tuple(reported), tuple(held), tuple(unjudged + low), minimums)
