"""The season window checked against the reference ring's own peak (assess.season), on
synthetic ring series, and what a flag records of it (assess.rules)."""
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box
from tests.support.paths import REPO

from minewatch.assess.rules import assess_units, mine_record
from minewatch.assess.season import Season, checked_season, ring_peak
from minewatch.assess.thresholds import load_thresholds
from minewatch.config import AssessSettings
from minewatch.promised.models import PLANNED, AnnualPlan, MiningRight, Unit

NOMINAL = Season(date(2026, 7, 1), date(2026, 9, 15))
KW = dict(tolerance_days=10, max_shift_days=30, peak_share=0.9, min_obs=4)


def _ring(peak: date, start: date = date(2026, 4, 1), end: date = date(2026, 10, 31), step: int = 5,
          top: float = 0.7, width: int = 40) -> tuple[list[date], list[float]]:
    """A triangular green-up and senescence around `peak` (FVC `top`, falling to 0.1 `width` days away)."""
    days = [start + timedelta(days=i) for i in range(0, (end - start).days + 1, step)]
    return days, [max(0.1, top * (1 - abs((d - peak).days) / width)) for d in days]


def test_ring_peak_is_the_middle_of_the_plateau():
    days = [date(2026, 6, 1) + timedelta(days=5 * i) for i in range(20)]
    flat = [0.2, 0.4, 0.6] + [0.7] * 14 + [0.5, 0.3, 0.2]    # a flat top from 06-16 to 08-20
    assert ring_peak(days, flat, 0.9) == date(2026, 7, 18)
    assert ring_peak([], [], 0.9) is None and ring_peak(days[:2], [0.0, 0.0], 0.9) is None
    assert ring_peak(days, [0.62, 0.6, 0.61] * 6 + [0.6, 0.62], 0.9) is None     # evergreen: no season
    assert ring_peak(days, list(np.linspace(0.1, 0.7, 20)), 0.9) == days[-1]    # still rising: at the edge


@pytest.mark.parametrize("peak, shift, note", [
    (date(2026, 8, 5), 0, "checked"),            # inside the window
    (date(2026, 9, 22), 0, "checked"),           # 7 days outside: within the tolerance
    (date(2026, 10, 5), 20, "shifted"),          # a late year: 20 days outside -> 20 days later
    (date(2026, 6, 15), -16, "shifted"),         # an early year: 16 days before the start
])
def test_the_window_follows_the_rings_peak(peak, shift, note):
    days, values = _ring(peak)
    c = checked_season(NOMINAL, days, values, date(2026, 11, 1), **KW)
    assert (c.shift_days, c.note, c.nominal) == (shift, note, NOMINAL)
    assert c.season == Season(NOMINAL.start + timedelta(days=shift), NOMINAL.end + timedelta(days=shift))
    assert c.peak is not None and abs((c.peak - peak).days) <= 3
    if shift:
        assert c.season.start <= c.peak <= c.season.end


def test_the_shift_is_bounded_and_needs_the_season_over_and_enough_dates():
    days, values = _ring(date(2026, 12, 20), end=date(2026, 12, 31), width=120)   # peak far beyond: capped
    c = checked_season(NOMINAL, days, values, date(2026, 12, 31), **KW)
    # still rising on the last date looked at (10-13, within 30 days of the end): the peak is there
    assert (c.peak, c.shift_days) == (date(2026, 10, 13), 28)
    c = checked_season(NOMINAL, days, values, date(2026, 12, 31), **{**KW, "max_shift_days": 15})
    assert (c.peak, c.shift_days) == (date(2026, 9, 28), 13)     # only dates up to end + 15 days are looked at
    days, values = _ring(date(2026, 10, 5))
    c = checked_season(NOMINAL, days, values, date(2026, 8, 20), **KW)
    assert (c.season, c.shift_days, c.note) == (NOMINAL, 0, "season not over")
    c = checked_season(NOMINAL, days[::12], values[::12], date(2026, 11, 1), **KW)
    assert c.season == NOMINAL and c.note.startswith("too few clear reference dates")
    assert c.record()["season"] == "2026-07-01/2026-09-15" and c.record()["reference_peak"] is None


def _frame(unit: str, days: list[date], values: list[float]) -> pd.DataFrame:
    t = pd.to_datetime(days)
    return pd.DataFrame({"unit": unit, "item_id": [f"S{unit[:3]}{d:%Y%m%d}" for d in t], "datetime": t,
                         "n_px": 100, "clear_px": 100, "clear_fraction": 1.0,
                         "ndvi_mean": np.array(values) * 0.7 + 0.1, "fvc_mean": values, "bsi_mean": 0.0})


def test_a_flag_is_judged_in_the_shifted_window_and_records_it():
    table = load_thresholds(REPO / "configs" / "thresholds.yaml")
    d25, v25 = _ring(date(2025, 8, 5), date(2025, 4, 1), date(2025, 10, 31))     # a normal baseline year
    d26, v26 = _ring(date(2026, 10, 5))                                          # a late plan year
    bare = [date(2025, 4, 1) + timedelta(days=5 * i) for i in range(116)]
    series = pd.concat([_frame("reference", d25 + d26, v25 + v26), _frame("planned:1", bare, [0.03] * len(bare))])
    right = MiningRight("C1", "h", "m", date(2020, 1, 1), date(2030, 1, 1), "150622", box(0, 0, 1, 1))
    plan = AnnualPlan(2026, "C1", "h", "m", units=(Unit(PLANNED, 1, box(0, 0, 1, 1), land_class="0404"),))
    [f], _ = assess_units(right, plan, series, table, as_of=date(2026, 11, 1), cfg=AssessSettings())
    assert f.type == "RESTORATION_SHORTFALL" and f.observed["region"] == "loess"
    assert f.expected["season"] == "2026-07-21/2026-10-05" and f.expected["season_shift_days"] == 20
    assert f.expected["season_nominal"] == "2026-07-01/2026-09-15" and f.expected["season_origin"] == "region"
    assert f.expected["baseline_season"] == "2025-07-01/2025-09-15"      # the baseline year peaked in time
    assert (f.expected["region"], f.expected["land_class"], f.expected["min"]) == ("loess", "04", 0.5)
    assert "TD/T 1036" in f.expected["source"] and f.period == "2026-07-21/2026-10-05"
    assert min(f.evidence_scenes) == "Spla20260725" and max(f.evidence_scenes) == "Spla20261003"   # 5-day steps
    rec = mine_record(right, plan, table, series, 2026, date(2026, 11, 1), AssessSettings())
    assert rec["region"] == "loess" and rec["season"] == "2026-07-01/2026-09-15"
    rows = [(r["region"], r["land_class"], r["units"]) for r in rec["thresholds_rows"]]
    assert rows == [("loess", "04", ["planned:1"])]
    assert rec["unit_seasons"]["planned:1"]["season_shift_days"] == 20
    # without the check (or with a mine's own window) the nominal window is used
    [f], _ = assess_units(right, plan, series, table, as_of=date(2026, 11, 1),
                          cfg=AssessSettings(phenology={"enabled": False}))
    assert f.expected["season"] == "2026-07-01/2026-09-15" and f.expected["season_check"] == "disabled"
    [f], _ = assess_units(right, plan, series, table, as_of=date(2026, 11, 1),
                          cfg=AssessSettings(season_by_license={"C1": "08-01/10-10"}))
    assert f.expected["season_nominal"] == "2026-08-01/2026-10-10" and f.expected["season_origin"] == "licence"
    assert f.expected["season_shift_days"] == 0
