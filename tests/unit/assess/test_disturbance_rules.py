"""The three disturbance rules on a hand-made 40 x 40 px evidence (10 m pixels, UTM 49N).

Boundary: rows/cols 5..25. Damage unit (declared 1 hm²): cols 5..10. A bare strip joined to
it (bare both years): cols 10..13. Loss inside, off every unit: rows 10..15, cols 15..20
(25 px). Loss outside the boundary: rows 8..20, cols 27..31 (48 px). Everything else green.
"""
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from minewatch.assess.disturbance import loss_mask, season_pixels
from minewatch.assess.disturbance_rules import (
    damage_exceeds_declared,
    out_of_boundary_disturbance,
    undeclared_disturbance,
)
from minewatch.assess.evidence import Dates, Evidence
from minewatch.assess.masks import burn
from minewatch.config import Settings
from minewatch.promised import coords
from minewatch.promised.models import DAMAGE, PLANNED, AnnualPlan, MiningRight, Unit
from minewatch.sky.cube import Grid

X0, Y1, N = 414000.0, 4428400.0, 40
GRID = Grid(32649, (X0, Y1 - 10 * N, X0 + 10 * N, Y1), 10.0)
S = Settings(registry=Path("r.csv"), plans=Path("p"))
GREEN, BARE = 0.8, 0.1


def px(r0, r1, c0, c1):
    """The UTM box of rows r0..r1, cols c0..c1 (end exclusive)."""
    return box(X0 + 10 * c0, Y1 - 10 * r1, X0 + 10 * c1, Y1 - 10 * r0)


BOUNDARY = px(5, 25, 5, 25)
RIGHT = MiningRight("C1", "h", "m", date(2020, 1, 1), date(2030, 1, 1), "990000",
                    coords.transform(BOUNDARY, 32649, 4490))


def evidence(units_utm, as_of=date(2026, 11, 1), n_cur=6):
    times = np.array([f"2025-07-{d:02d}" for d in (5, 10, 15, 20)] +
                     [f"2026-07-{d:02d}" for d in range(5, 5 + 5 * n_cur, 5)], dtype="datetime64[ns]")
    base = np.full((N, N), GREEN, np.float32)
    base[5:25, 10:13] = BARE
    cur = base.copy()
    cur[5:25, 5:10] = BARE                   # the damage unit, as declared
    cur[10:15, 15:20] = BARE                 # undeclared loss
    cur[8:20, 27:31] = BARE                  # loss outside the boundary
    ndvi = np.stack([base] * 4 + [cur] * n_cur)
    clear = np.ones(ndvi.shape, bool)
    dates = Dates.of(times, 2026, S.assess)
    c, b = dates.current, dates.baseline
    return Evidence(grid=GRID, boundary_utm=BOUNDARY, units_utm=units_utm,
                    unit_masks={k: burn([g], GRID) for k, g in units_utm.items()},
                    unit_footprints={k: burn([g], GRID, all_touched=True) for k, g in units_utm.items()},
                    series=pd.DataFrame(), reference=None,
                    season=season_pixels(ndvi[c], clear[c], S.assess.disturbance),
                    times=times, ids=tuple(f"S{i}" for i in range(len(times))), dates=dates,
                    loss=loss_mask(ndvi[b], clear[b], ndvi[c], clear[c], S.assess.disturbance),
                    as_of=as_of, plan_year=2026)


DAMAGE_UNIT = Unit(DAMAGE, 1, coords.transform(px(5, 25, 5, 10), 32649, 4490), area_hm2=1.0)
PLAN = AnnualPlan(2026, "C1", "h", "m", units=(DAMAGE_UNIT,))
EV = evidence({"damage:1": px(5, 25, 5, 10)})


def test_undeclared_loss_inside_the_boundary():
    [a] = undeclared_disturbance(EV, RIGHT, PLAN, None, S).findings
    assert a.type == "UNDECLARED_DISTURBANCE" and a.observed["pixels"] == 25
    assert a.area_hm2 == pytest.approx(0.25, abs=0.002)
    assert a.observed["ndvi_baseline"] == pytest.approx(GREEN) and a.observed["ndvi_current"] == pytest.approx(BARE)
    assert a.observed["ndvi_drop"] == pytest.approx(0.7) and a.observed["clear_observations"] == 6
    assert a.observed["agreeing_dates"] == 1.0 and a.evidence_scenes == tuple(f"S{i}" for i in range(4, 10))
    assert a.confidence == "high"            # highest by the numbers, but under 2 x the 0.2 hm² MMU
    assert a.period == "2026-07-01/2026-09-15" and a.expected["baseline_period"] == "2025-07-01/2025-09-15"


def test_loss_outside_the_boundary_unless_declared_temporary_land():
    [a] = out_of_boundary_disturbance(EV, RIGHT, PLAN, None, S).findings
    assert a.type == "OUT_OF_BOUNDARY_DISTURBANCE" and a.observed["pixels"] == 48
    assert a.area_hm2 == pytest.approx(0.48, abs=0.004) and a.confidence == "highest"
    assert a.key.startswith("oob@")
    temp = px(8, 20, 27, 31)
    plan = AnnualPlan(2026, "C1", "h", "m", units=(DAMAGE_UNIT, Unit(PLANNED, 1, coords.transform(temp, 32649, 4490),
                                                                     is_temporary=True)))
    ev = evidence({"damage:1": px(5, 25, 5, 10), "planned:1": temp})
    assert out_of_boundary_disturbance(ev, RIGHT, plan, None, S).findings == ()
    off = S.model_copy(update={"assess": S.assess.model_copy(update={"disturbance": S.assess.disturbance.model_copy(
        update={"out_of_boundary": False})})})
    assert out_of_boundary_disturbance(EV, RIGHT, PLAN, None, off).findings == ()


def test_bare_ground_beyond_the_declared_damage():
    [a] = damage_exceeds_declared(EV, RIGHT, PLAN, None, S).findings
    assert a.type == "DAMAGE_EXCEEDS_DECLARED" and a.key == "damage:1" and a.observed["pixels"] == 60
    assert a.observed["excess_hm2"] == 0.6 and a.observed["measured_bare_hm2"] == 1.6
    assert a.expected["declared_hm2"] == 1.0 and a.expected["allowed_excess_hm2"] == 0.2
    assert a.severity == "medium" and a.confidence == "highest"      # excess < declared: medium
    assert a.observed["ndvi_current"] == pytest.approx(BARE)


def test_nothing_before_the_season_ends_or_without_a_baseline():
    early = evidence({"damage:1": px(5, 25, 5, 10)}, as_of=date(2026, 9, 1))
    for rule in (undeclared_disturbance, out_of_boundary_disturbance, damage_exceeds_declared):
        assert rule(early, RIGHT, PLAN, None, S).findings == ()
    no_base = Evidence(**{**EV.__dict__, "loss": None})
    assert undeclared_disturbance(no_base, RIGHT, PLAN, None, S).findings == ()
