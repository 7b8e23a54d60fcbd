"""The rules that need history, on a ledger built from two real plan files and a hand-made 120 x 120 px window.

Grid: 10 m pixels, UTM 49N; boundary rows/cols 30..90; the ring around it natural vegetation
(NDVI 0.65, FVC 0.8) both seasons. Units are 10 x 10 px (1 hm²); FVC = (NDVI - 0.05) / 0.75.

plan 2025: restored 1 ACC (accepted), 2 TWIN (accepted), 3 REDIST (accepted); damage 1 D;
           planned 1 DROP, 2 DONE, 3 AGAIN (0404)
plan 2026: restored 1 DONE (accepted), 2 NEW (never planned); damage 1 D; planned 1 AGAIN (now 0305)
season 2025 -> 2026: ACC FVC 0.7 -> 0.3 (degrades), TWIN 0.7 -> 0.7, REDIST 0.7 -> bare (re-disturbed),
DROP bare -> bare, DONE bare -> 0.7, AGAIN bare, D bare, NEW 0.7 -> 0.7; REDIST stays 0.7 but for
3 x 7 px dug bare in 2026 (0.21 hm², over the 0.2 hm² MMU; its cover falls by 0.13 only).
"""
from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from shapely.geometry import box
from tests.support.ledger_plans import unit
from tests.support.pixels import pixels_of

from minewatch.assess import evidence
from minewatch.assess.history import (
    ACCEPTED,
    DROPPED,
    ledger_findings,
    omitted_degradation,
    overdue_at_expiry,
    plan_not_executed,
    restored_land_redisturbed,
    season_rows,
    tracked_units,
)
from minewatch.assess.judge import explained, judge
from minewatch.assess.thresholds import load_thresholds
from minewatch.config import Settings
from minewatch.ledger.db import open_engine
from minewatch.ledger.history import SeasonRow, mine_histories, record_seasons
from minewatch.ledger.ingest import ingest_results
from minewatch.promised import coords
from minewatch.promised.models import DAMAGE, PLANNED, RESTORED, AnnualPlan, MiningRight
from minewatch.promised.planreader import read_plans
from minewatch.promised.planwriter import write_plan_xlsx
from minewatch.sky import indices, series
from minewatch.sky.cube import Grid

LIC = "C1500002020011110000001"
X0, Y1, N = 414000.0, 4428400.0, 120
GRID = Grid(32649, (X0, Y1 - 10 * N, X0 + 10 * N, Y1), 10.0)
S = Settings(registry=Path("r.csv"), plans=Path("p"))
AS_OF = date(2026, 11, 1)
GREEN, LOW, BARE, RING = 0.575, 0.275, 0.1, 0.65     # NDVI: FVC 0.7, 0.3, 0.0667, 0.8


def px(r0: int, c0: int, h: int = 10, w: int = 10):
    """The UTM box of rows r0..r0+h, cols c0..c0+w."""
    return box(X0 + 10 * c0, Y1 - 10 * (r0 + h), X0 + 10 * (c0 + w), Y1 - 10 * r0)


BOUNDARY = px(30, 30, 60, 60)
G = {"ACC": px(32, 32), "TWIN": px(32, 46), "REDIST": px(32, 60), "DROP": px(46, 32), "DONE": px(46, 46),
     "AGAIN": px(46, 60), "D": px(62, 32, 8, 36), "NEW": px(74, 32)}
# NDVI per ground in the 2025 and 2026 seasons
NDVI = {"ACC": (GREEN, LOW), "TWIN": (GREEN, GREEN), "REDIST": (GREEN, GREEN), "DROP": (BARE, BARE),
        "DONE": (BARE, GREEN), "AGAIN": (BARE, BARE), "D": (BARE, BARE), "NEW": (GREEN, GREEN)}


def right(valid_to: date = date(2030, 1, 1)) -> MiningRight:
    return MiningRight(LIC, "某矿业公司", "某石灰岩矿", date(2020, 1, 1), valid_to, "150622",
                       coords.transform(BOUNDARY, 32649, 4490))


def u(section: str, seq: int, name: str, **kw):
    return unit(section, seq, coords.transform(G[name], 32649, 4490), **kw)


def plans() -> list[AnnualPlan]:
    head = dict(license_no=LIC, holder="某矿业公司", mine_name="某石灰岩矿", validity="2020年1月1日至2030年1月1日")
    grass = dict(land_class="0404", quality="植被覆盖度≥50%")
    return [
        AnnualPlan(plan_year=2025, **head, units=(
            u(RESTORED, 1, "ACC", accepted=True, **grass), u(RESTORED, 2, "TWIN", accepted=True, **grass),
            u(RESTORED, 3, "REDIST", accepted=True, **grass), u(DAMAGE, 1, "D", problem_type="挖损"),
            u(PLANNED, 1, "DROP", measures="覆土", **grass), u(PLANNED, 2, "DONE", measures="覆土", **grass),
            u(PLANNED, 3, "AGAIN", measures="覆土", **grass))),
        AnnualPlan(plan_year=2026, **head, units=(
            u(RESTORED, 1, "DONE", accepted=True, **grass), u(RESTORED, 2, "NEW", accepted=False, **grass),
            u(DAMAGE, 1, "D", problem_type="挖损"),
            u(PLANNED, 1, "AGAIN", measures="栽植灌木", land_class="0305", quality="灌木覆盖度≥40%"))),
    ]


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    d = tmp_path_factory.mktemp("plans")
    for p in plans():
        write_plan_xlsx(p, d / f"{LIC}_{p.plan_year}.xlsx")
    results = read_plans(d, area_tolerance=0.05)
    engine = open_engine(f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'ledger.sqlite'}")
    ingest_results(engine, results, iou_min=0.5, related_min=0.25)
    return engine, next(r.plan for r in results if r.plan is not None and r.plan.plan_year == 2026)


def window(history, plan: AnnualPlan, s: Settings = S) -> evidence.Evidence:
    """The evidence as the pipeline builds it: the plan's units and the tracked ones measured alike."""
    days = [f"{y}-{m}" for y in (2025, 2026) for m in ("07-05", "07-20", "08-05", "08-20", "09-05")]
    times = np.array(days, dtype="datetime64[ns]")
    ndvi = np.full((len(times), N, N), RING, np.float32)
    for name, (a, b) in NDVI.items():
        r0, c0 = int((Y1 - G[name].bounds[3]) / 10), int((G[name].bounds[0] - X0) / 10)
        h, w = int((G[name].bounds[3] - G[name].bounds[1]) / 10), int((G[name].bounds[2] - G[name].bounds[0]) / 10)
        ndvi[:5, r0:r0 + h, c0:c0 + w], ndvi[5:, r0:r0 + h, c0:c0 + w] = a, b
    ndvi[5:, 32:35, 60:67] = BARE                   # part of REDIST dug up in 2026
    clear = np.ones(ndvi.shape, bool)
    units_utm = {f"{x.section}:{x.seq}": coords.transform(x.geometry, 4490, 32649) for x in plan.units}
    tracked = tracked_units(history, 2026, s.ledger.management_years)
    units_utm.update({k: coords.transform(t.mention.geometry, 4490, 32649) for k, t in tracked.items()})
    ids = [f"S{i:02d}" for i in range(len(times))]
    coords_ = {"time": times, "id": ("time", ids)}
    nd = xr.DataArray(ndvi, dims=("time", "y", "x"), coords=coords_)
    idx = xr.Dataset({"ndvi": nd, "fvc": indices.fvc(nd, s.indices.ndvi_soil, s.indices.ndvi_veg), "bsi": nd * 0})
    um = series.unit_masks(units_utm, GRID)
    stats = series.stats_frame(series.unit_stats(idx, xr.DataArray(clear, dims=("time", "y", "x"), coords=coords_),
                                                 um))
    dates = evidence.Dates.of(times, 2026, s.assess)
    px = pixels_of(ndvi, clear, dates, s, fvc=idx.fvc.values, masks=um.values, times=times, ids=ids, plan_year=2026,
                   ring=evidence.ring_geometry(BOUNDARY, GRID, units_utm, (), s))
    return evidence.build(grid=GRID, boundary_utm=BOUNDARY, units_utm=units_utm,
                          unit_masks={k: um.sel(unit=k).values for k in units_utm}, stats=stats, pixels=px,
                          times=times, ids=ids, dates=dates, as_of=AS_OF, plan_year=2026,
                          s=s, history=history, measured_only=[k for k, t in tracked.items() if t.kind == DROPPED])


PLAN26 = plans()[1]


@pytest.fixture(scope="module")
def setup(ledger):
    engine, plan = ledger
    h = mine_histories(engine)[LIC]
    return h, window(h, plan), load_thresholds(S.assess.thresholds)


def _id(h, year, section, seq):
    return h.unit_of(year, section, seq)


def test_tracked_units_are_the_omitted_accepted_and_the_dropped(setup):
    h, ev, _ = setup
    t = tracked_units(h, 2026, 3)
    assert {k: v.kind for k, v in t.items()} == {"restored:1@2025": ACCEPTED, "restored:2@2025": ACCEPTED,
                                                 "restored:3@2025": ACCEPTED, "planned:1@2025": DROPPED}
    assert t["restored:1@2025"].acceptance_year == 2024 and t["restored:1@2025"].acceptance_source == "plan"
    assert tracked_units(h, 2027, 3)["restored:1@2025"].kind == ACCEPTED        # 2024 + 3 = 2027: still
    assert "restored:1@2025" not in tracked_units(h, 2028, 3)                  # 管护期 over
    assert "restored:1@2025" not in tracked_units(h, 2027, 2)
    assert "planned:1@2025" in ev.measured_only and set(t) <= set(ev.units_utm)
    assert set(t) <= set(ev.series.unit)                                       # measured like plan units


def test_degradation_of_an_omitted_accepted_unit_against_its_cover_at_acceptance(setup):
    h, ev, th = setup
    r = omitted_degradation(ev, right(), PLAN26, th, S)
    degraded = {a.key: a for a in r.findings}
    assert set(degraded) == {"restored:1@2025"}         # TWIN kept its cover, REDIST fell by 0.13 only
    a = degraded["restored:1@2025"]
    assert a.type == "VEGETATION_DEGRADATION" and a.unit_id == _id(h, 2025, RESTORED, 1)
    assert (a.unit_section, a.unit_seq, a.target_land_class) == (RESTORED, 1, "0404")
    o, e = a.observed, a.expected
    assert o["fvc"] == pytest.approx(0.3, abs=1e-4) and o["fvc_previous_season"] == pytest.approx(0.7, abs=1e-4)
    assert o["fvc_drop"] == pytest.approx(0.4, abs=1e-4) and o["reference_fvc"] == pytest.approx(0.8, abs=1e-4)
    assert o["relative_drop"] == pytest.approx(0.7 / 0.8 - 0.3 / 0.8, abs=1e-3)
    assert o["acceptance_year"] == 2024 and o["previous_source"] == "window"   # 2024 not stored, not in the window
    assert e["previous_period"] == "2025-07-01/2025-09-15" and e["min"] == 0.5 and e["management_years"] == 3
    assert a.period == "2025-07-01/2026-09-15" and len(a.evidence_scenes) == 10
    assert a.area_hm2 == pytest.approx(1.0, abs=0.01)


def test_a_stored_acceptance_season_is_the_baseline(ledger, setup):
    h, _, th = setup
    engine, _ = ledger
    acc = _id(h, 2025, RESTORED, 2)          # TWIN: 0.7 now; at acceptance (2024, stored) 0.95
    record_seasons(engine, [SeasonRow(acc, 2024, 0.95, 0.8, 6, date(2024, 9, 10))])
    h2 = mine_histories(engine)[LIC]
    ev = window(h2, PLAN26)
    [a] = [x for x in omitted_degradation(ev, right(), PLAN26, th, S).findings if x.key == "restored:2@2025"]
    assert a.observed["previous_source"] == "ledger" and a.observed["fvc_previous_season"] == 0.95
    assert a.observed["fvc_drop"] == pytest.approx(0.25, abs=1e-4)
    assert a.expected["previous_period"] == "2024-07-01/2024-09-15"
    record_seasons(engine, [SeasonRow(acc, 2024, 0.72, 0.8, 6, date(2024, 9, 10))])   # the twin: no fall
    ev = window(mine_histories(engine)[LIC], PLAN26)
    assert not [x for x in omitted_degradation(ev, right(), PLAN26, th, S).findings if x.key == "restored:2@2025"]


def test_plan_not_executed(setup):
    h, ev, th = setup
    [a] = plan_not_executed(ev, right(), PLAN26, th, S).findings      # DONE restored, AGAIN planned again
    assert a.type == "PLAN_NOT_EXECUTED" and a.key == "planned:1@2025" and a.unit_id == _id(h, 2025, PLANNED, 1)
    assert a.observed["promised_area_hm2"] == pytest.approx(1.0, abs=0.01) and a.observed["planned_year"] == 2025
    assert a.observed["fvc"] == pytest.approx(0.0667, abs=1e-4) and a.observed["meets_target"] is False
    assert a.expected["min"] == 0.5 and a.expected["min_adjusted"] == 0.5 and a.severity == "high"
    assert a.observed["clear_observations"] == 5 and len(a.evidence_scenes) == 5


def test_restored_land_redisturbed(setup):
    h, ev, th = setup
    [a] = restored_land_redisturbed(ev, right(), PLAN26, th, S).findings
    assert a.type == "RESTORED_LAND_REDISTURBED" and a.key == "restored:3@2025"
    assert a.unit_id == _id(h, 2025, RESTORED, 3) and a.unit_section == RESTORED and a.unit_seq == 3
    assert a.observed["pixels"] == 21 and a.observed["ndvi_drop"] == pytest.approx(GREEN - BARE, abs=1e-4)
    assert a.area_hm2 == pytest.approx(0.21, abs=0.002) and a.observed["clear_observations"] == 5


def test_overdue_at_expiry(setup):
    h, ev, th = setup
    assert not overdue_at_expiry(ev, right(), PLAN26, th, S).findings        # valid to 2030
    [a] = overdue_at_expiry(ev, right(date(2026, 6, 30)), PLAN26, th, S).findings
    # outstanding: D (damage 2026, 2.88 hm²), AGAIN (planned 2026), DROP (planned 2025, never restored)
    assert a.type == "RESTORATION_OVERDUE_AT_EXPIRY" and a.key == "overdue"
    assert a.observed["outstanding_units"] == 3
    assert a.observed["outstanding_hm2"] == pytest.approx(2.88 + 1 + 1, abs=0.03)
    assert sorted(a.observed["unit_ids"]) == sorted([_id(h, 2026, DAMAGE, 1), _id(h, 2026, PLANNED, 1),
                                                     _id(h, 2025, PLANNED, 1)])


def test_judge_gives_each_unit_one_finding(setup):
    h, ev, th = setup
    j = judge(ev, right(), PLAN26, th, S)
    got = sorted((a.type, a.key) for a in j.anomalies + j.held_back)
    assert got == sorted([("VEGETATION_DEGRADATION", "restored:1@2025"), ("PLAN_NOT_EXECUTED", "planned:1@2025"),
                          ("RESTORED_LAND_REDISTURBED", "restored:3@2025"),
                          ("RESTORATION_SHORTFALL", "planned:1")])            # AGAIN, bare, 0305
    # a unit whose cover fell as a whole is one finding: the loss test adds nothing to its degradation
    both = [a for a in restored_land_redisturbed(ev, right(), PLAN26, th, S).findings]
    fake = [dataclasses.replace(both[0], type="VEGETATION_DEGRADATION"), *both]
    assert [a.type for a in explained(fake)] == ["VEGETATION_DEGRADATION"]
    # without the ledger the omitted units are forgotten, and the re-disturbance is merely undeclared
    bare = judge(window(None, PLAN26), right(), PLAN26, th, S)
    assert sorted(a.type for a in bare.anomalies + bare.held_back) == ["RESTORATION_SHORTFALL",
                                                                       "UNDECLARED_DISTURBANCE"]


def test_season_rows_for_the_ledger(setup):
    h, ev, _ = setup
    rows = {r.unit_id: r for r in season_rows(ev, PLAN26, S)}
    assert len(rows) == 8          # 4 plan units + 4 tracked, each by its 标识码
    acc = rows[_id(h, 2025, RESTORED, 1)]
    assert acc.season_year == 2026 and acc.fvc == pytest.approx(0.3, abs=1e-4) and acc.clear_obs == 5
    assert acc.reference_fvc == pytest.approx(0.8, abs=1e-4) and acc.observed_to == date(2026, 9, 5)


def test_ledger_findings(setup):
    h, _, _ = setup
    fs = ledger_findings(h, area_tolerance=0.05)
    assert [(f.rule, f.field, f.value) for f in fs] == [
        ("LEDGER_RESTORED_NOT_PLANNED", "序号", "2"),          # NEW: restored 2026, never planned
        ("LEDGER_UNIT_CHANGED", "修复后地类", "0305")]           # AGAIN: 0404 -> 0305
    assert all(f.file == f"{LIC}_2026.xlsx" and f.severity == "warning" for f in fs)
    # the first plan of a right has nothing before it: its restored rows are not findings
    assert not [f for f in fs if f.file.endswith("2025.xlsx")]
    # an area beyond the tolerance is a change too
    again = dataclasses.replace(h, units=tuple(
        dataclasses.replace(x, mentions=tuple(dataclasses.replace(m, area_hm2=1.2) if (m.year, m.section) ==
                                              (2026, PLANNED) else m for m in x.mentions)) for x in h.units))
    assert [f.field for f in ledger_findings(again, area_tolerance=0.05)
            if f.rule == "LEDGER_UNIT_CHANGED"] == ["修复后地类", "面积(hm²)"]
