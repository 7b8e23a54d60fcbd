"""assess.rundate: a mine's result key holds what the rules read from the run date, not the date."""
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from shapely.geometry import box
from tests.support.paths import REPO

from minewatch.assess.rundate import run_date_part, season_ends
from minewatch.assess.thresholds import load_thresholds
from minewatch.config import Settings
from minewatch.ledger.history import MineHistory
from minewatch.promised.models import PLANNED, AnnualPlan, MiningRight, Unit

S = Settings(registry=Path("r.csv"), plans=Path("p"))      # season 07-01/09-15, AT_RISK from 06-01
Y = 2026
RIGHT = MiningRight("C1", "holder", "mine", date(2020, 1, 1), date(2030, 1, 1), "990000", box(110, 40, 110.01, 40.01))
PLAN = AnnualPlan(Y, "C1", "holder", "mine",
                  units=(Unit(PLANNED, 1, box(110, 40, 110.001, 40.001), land_class="0301"),))   # FVC target


@pytest.fixture(scope="module")
def th():
    return load_thresholds(REPO / "configs" / "thresholds.yaml")


def part(th, d, plan=PLAN, right=RIGHT, history=None):
    return run_date_part(right, plan, th, S, d, Y, history)


def test_season_ends_are_the_defaults_and_the_threshold_rows_own(th):
    assert season_ends(th, S, Y) == [date(Y, 9, 15)]      # the 西北 row's season is the default one


def test_two_nights_after_every_season_share_a_key(th):
    # 20 and 21 November: every season is over (the season-end rules judge, AT_RISK is done),
    # the right is valid: nothing the rules read moves between them
    assert part(th, date(Y, 11, 20)) == part(th, date(Y, 11, 21))


def test_two_spring_nights_before_at_risk_share_a_key(th):
    # March and May: no season has ended and AT_RISK starts on 1 June: every unit is SEASON_NOT_OVER
    assert part(th, date(Y, 3, 1)) == part(th, date(Y, 5, 31))


def test_the_season_end_splits_keys(th):
    # 14 and 15 September with no plan (no AT_RISK): from the 15th, the season's last day, the
    # loss rules and the season-end unit flags judge (as_of >= season end) for the first time
    assert part(th, date(Y, 9, 14), plan=None) != part(th, date(Y, 9, 15), plan=None)
    assert part(th, date(Y, 9, 15), plan=None) == part(th, date(Y, 10, 1), plan=None)


def test_at_risk_nights_key_on_the_date(th):
    # 10 and 11 July: a planned unit with an FVC target is in its AT_RISK window: the recent
    # window and the days left move with the date, and the flag's period names it
    assert part(th, date(Y, 7, 10)) == ("date", "2026-07-10")
    assert part(th, date(Y, 7, 10)) != part(th, date(Y, 7, 11))
    water = replace(PLAN, units=(replace(PLAN.units[0], land_class="1103"),))    # no FVC target: no AT_RISK
    assert part(th, date(Y, 7, 10), plan=water) == part(th, date(Y, 7, 11), plan=water)


def test_an_expired_right_with_a_ledger_keys_on_the_date(th):
    # RESTORATION_OVERDUE_AT_EXPIRY names the run date in its period once the validity is over
    gone = replace(RIGHT, valid_to=date(Y, 10, 1))
    h = MineHistory("C1", ())
    assert part(th, date(Y, 11, 20), right=gone, history=h) != part(th, date(Y, 11, 21), right=gone, history=h)
    assert part(th, date(Y, 11, 20), right=gone) == part(th, date(Y, 11, 21), right=gone)   # no ledger: no rule
    assert part(th, date(Y, 9, 30), right=gone) != part(th, date(Y, 10, 2), right=gone)
