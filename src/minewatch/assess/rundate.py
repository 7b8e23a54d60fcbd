"""What the rules read from the run date (``as_of``), so a mine's result is keyed on that
and not on the date itself (`job.result_key`): a new night with no new scene reuses it.

The scenes up to ``as_of`` reach the key through the search. Beyond them the rules use
``as_of`` only as follows (every use in `assess`):

- whether each assessment season has ended (``as_of >= season end``): the season-end unit
  flags and SEASON_NOT_OVER (`rules.assess_units`, per threshold season), the loss rules
  (`disturbance_rules.loss_judged`, the default season) and the accepted units the plan omits
  (`history.omitted_degradation`): one yes/no per season end;
- AT_RISK while a season is open (from ``assess.at_risk_from`` to the season's end, for this
  plan's planned units with an FVC target): the recent-days window, last year's ring around
  the same day and the days left all move with the date, and its period names it: the
  date itself;
- PLAN_NOT_EXECUTED (a unit planned last year that this plan drops) names ``as_of`` in its
  period: the date itself when the ledger tracks such a unit;
- RESTORATION_OVERDUE_AT_EXPIRY: whether the right's validity ended before ``as_of``; once
  it has and the ledger knows the mine, its period and expected value name the date: the
  date itself.
"""
from __future__ import annotations

from datetime import date

from minewatch.assess.history import DROPPED, tracked_units
from minewatch.assess.season import Season
from minewatch.assess.thresholds import ThresholdTable
from minewatch.config import Settings
from minewatch.ledger.history import MineHistory
from minewatch.promised.models import PLANNED, AnnualPlan, MiningRight

__all__ = ["season_ends", "run_date_part"]


def season_ends(thresholds: ThresholdTable, s: Settings, plan_year: int) -> list[date]:
    """Every season end a rule can compare ``as_of`` with: the default season's and each
    threshold row's own season (a superset of the plan's units': it only splits keys)."""
    a = s.assess
    seasons = {(a.season_start, a.season_end)} | {r.season_mmdd for r in thresholds.rows if r.season_mmdd}
    return sorted({Season.of(plan_year, *mmdd).end for mmdd in seasons})


def _at_risk_open(right: MiningRight, plan: AnnualPlan | None, thresholds: ThresholdTable, s: Settings,
                  as_of: date, plan_year: int) -> bool:
    """Whether some planned unit is in its AT_RISK window on ``as_of`` (`rules._at_risk`)."""
    a = s.assess
    if plan is None:
        return False
    start = Season.of(plan_year, a.at_risk_from, "12-31").start
    for u in plan.section(PLANNED):
        th = thresholds.lookup(u.land_class, a.region, county_code=right.county_code) if u.land_class else None
        if th is None or th.measure != "fvc":
            continue
        end = Season.of(plan_year, *(th.season_mmdd or (a.season_start, a.season_end))).end
        if start <= as_of < end:
            return True
    return False


def run_date_part(right: MiningRight, plan: AnnualPlan | None, thresholds: ThresholdTable, s: Settings,
                  as_of: date, plan_year: int, history: MineHistory | None) -> tuple:
    """The part of a mine's result key that comes from ``as_of`` (module docstring): the date
    itself where a rule's output names or moves with it, else which season ends and the
    right's expiry lie behind it."""
    tracked = tracked_units(history, plan_year, s.ledger.management_years)
    expired = right.valid_to < as_of
    if (_at_risk_open(right, plan, thresholds, s, as_of, plan_year)
            or any(t.kind == DROPPED for t in tracked.values())
            or (expired and history is not None)):
        return ("date", as_of.isoformat())
    return ("passed", tuple((e.isoformat(), as_of >= e) for e in season_ends(thresholds, s, plan_year)),
            ("expired", expired))
