"""assess.windows and the unit rule's widening on hand-made series: a wet season with too few
clear dates is judged on the adjacent weeks, within the limit; snow is named as the reason."""
from datetime import date

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box
from tests.support.paths import REPO

from minewatch.assess import windows
from minewatch.assess.rules import assess_units
from minewatch.assess.season import Season
from minewatch.assess.thresholds import load_thresholds
from minewatch.config import AssessSettings
from minewatch.promised.models import AnnualPlan, MiningRight, Unit

SEASON = Season(date(2026, 7, 1), date(2026, 9, 15))
RIGHT = MiningRight("C1", "holder", "mine", date(2020, 1, 1), date(2030, 1, 1), "440000", box(0, 0, 1, 1))
CFG = AssessSettings(season_start="07-01", season_end="09-15", min_clear_obs=3, min_clear_fraction=0.8)


@pytest.fixture(scope="module")
def table():
    return load_thresholds(REPO / "configs" / "thresholds.yaml")


def _series(days: list[str], fvc: float, clear: list[float], snow: list[float] | None = None) -> pd.DataFrame:
    df = pd.DataFrame({"unit": "planned:1", "item_id": [f"S{i:02d}" for i in range(len(days))],
                       "datetime": pd.to_datetime(days), "n_px": 100.0, "clear_px": [100.0 * c for c in clear],
                       "clear_fraction": clear, "ndvi_mean": 0.05 + 0.75 * fvc, "fvc_mean": fvc, "bsi_mean": 0.0,
                       "water_fraction": np.nan})
    if snow is not None:
        df["snow_fraction"] = snow
    return df


def _unit():
    return Unit("planned", 1, box(0, 0, 0.001, 0.001), land_class="0404")


def test_widen_grows_both_sides_and_never_past_the_run_day():
    assert windows.widen(SEASON, 1, 15, date(2026, 11, 1)) == Season(date(2026, 6, 16), date(2026, 9, 30))
    assert windows.widen(SEASON, 2, 15, date(2026, 9, 20)) == Season(date(2026, 6, 1), date(2026, 9, 20))


def test_widened_stops_at_the_first_window_with_enough_dates():
    counts = {SEASON: 1, windows.widen(SEASON, 1, 15, date(2026, 12, 1)): 3}
    w = windows.widened(SEASON, lambda se: counts.get(se, 9), lambda n: n, 3, 15, 2, date(2026, 12, 1))
    assert w.value == 3 and w.widened and len(w.tried) == 2 and w.used.label == "2026-06-16/2026-09-30"


# one clear date in the season (the wet season's only break), two clear dates in late June
DAYS = ["2026-06-10", "2026-06-20", "2026-06-28", "2026-07-10", "2026-08-13", "2026-09-05", "2026-10-05"]
CLEAR = [0.0, 1.0, 1.0, 0.1, 1.0, 0.2, 0.0]


def test_a_cloudy_season_is_judged_on_the_adjacent_weeks_and_records_the_window(table):
    plan = AnnualPlan(2026, "C1", "holder", "mine", units=(_unit(),))
    flags, unj = assess_units(RIGHT, plan, _series(DAYS, 0.10, CLEAR), table, as_of=date(2026, 11, 1), cfg=CFG)
    [f] = flags
    assert f.type == "RESTORATION_SHORTFALL" and not unj
    assert f.observed["clear_observations"] == 3 and f.observed["window"] == "2026-06-16/2026-09-30"
    assert f.period == "2026-06-16/2026-09-30" and len(f.evidence_scenes) == 3


def test_never_from_one_date_and_the_reason_names_the_windows_tried(table):
    plan = AnnualPlan(2026, "C1", "holder", "mine", units=(_unit(),))
    clear = [0.0, 0.0, 0.0, 0.1, 1.0, 0.2, 0.0]           # one clear date in a month either side
    flags, [u] = assess_units(RIGHT, plan, _series(DAYS, 0.10, clear), table, as_of=date(2026, 11, 1), cfg=CFG)
    assert not flags and u.reason == "INSUFFICIENT_OBSERVATIONS" and u.n_clear == 1
    assert "2026-07-01/2026-09-15, 2026-06-16/2026-09-30, 2026-06-01/2026-10-15" in u.reason_zh
    # widening switched off: the season alone
    cfg0 = CFG.model_copy(update={"widen_steps": 0})
    _, [u0] = assess_units(RIGHT, plan, _series(DAYS, 0.10, CLEAR), table, as_of=date(2026, 11, 1), cfg=cfg0)
    assert u0.reason == "INSUFFICIENT_OBSERVATIONS" and u0.n_clear == 1


def test_snow_covered_dates_make_snow_cover_not_a_flag(table):
    plan = AnnualPlan(2026, "C1", "holder", "mine", units=(_unit(),))
    clear = [0.0, 0.0, 0.0, 0.1, 1.0, 0.2, 0.0]
    snow = [0.0, 0.0, 0.0, 0.9, 0.0, 0.8, 1.0]             # the unit under snow on three dates
    flags, [u] = assess_units(RIGHT, plan, _series(DAYS, 0.10, clear, snow), table, as_of=date(2026, 11, 1),
                              cfg=CFG)
    assert not flags and u.reason == "SNOW_COVER" and "积雪/结冰日期 3" in u.reason_zh
    assert windows.snow_dates(_series(DAYS, 0.1, clear, snow), "planned:1", SEASON, 0.8) == 2
