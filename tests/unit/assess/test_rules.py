"""Thresholds, unit rules and disturbance patches on hand-made data."""
from datetime import date

import numpy as np
import pandas as pd
import pytest
from affine import Affine
from shapely.geometry import box
from tests.support.paths import REPO

from minewatch.assess.disturbance import loss_mask, loss_patches, season_pixels
from minewatch.assess.rules import assess_units
from minewatch.assess.season import Season
from minewatch.assess.thresholds import ThresholdError, load_thresholds
from minewatch.config import AssessSettings, DisturbanceSettings
from minewatch.promised.models import PLANNED, RESTORED, AnnualPlan, MiningRight, Unit

ROOT = REPO


@pytest.fixture(scope="module")
def table():
    return load_thresholds(ROOT / "configs" / "thresholds.yaml")


def test_threshold_lookup_exact_then_group(table):
    assert table.lookup("0305").min == 0.40
    assert table.lookup("0404").land_class == "04" and table.lookup("0404").min == 0.50
    assert table.lookup("0602").measure == "none"
    assert table.lookup("9999") is None
    assert all(r.source for r in table.rows)


def test_bad_threshold_file_names_the_row(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text("rows:\n  - {region: default, land_class: '0404', measure: fvc, min: 1.5, source: x}\n")
    with pytest.raises(ThresholdError, match="row 1"):
        load_thresholds(p)


def _series(unit, values, start="2026-07-01", clear=1.0):
    days = pd.date_range(start, periods=len(values), freq="5D")
    return pd.DataFrame({"unit": unit, "item_id": [f"S{i:02d}" for i in range(len(values))], "datetime": days,
                         "n_px": 100, "clear_px": 100 * clear, "clear_fraction": clear,
                         "ndvi_mean": np.array(values) * 0.7 + 0.1, "fvc_mean": values, "bsi_mean": 0.0})


RIGHT = MiningRight("C1", "holder", "mine", date(2020, 1, 1), date(2030, 1, 1), "150622", box(0, 0, 1, 1))


def _plan(*units):
    return AnnualPlan(2026, "C1", "holder", "mine", units=units)


def _run(table, plan, series, as_of=date(2026, 11, 1)):
    return assess_units(RIGHT, plan, series, table, as_of=as_of,
                        cfg=AssessSettings(season_start="07-01", season_end="09-15", min_clear_obs=3,
                                           min_clear_fraction=0.8, region="default"))


def test_shortfall_and_claimed_not_observed(table):
    plan = _plan(Unit(PLANNED, 1, box(0, 0, 1, 1), land_class="0305"),
                 Unit(PLANNED, 2, box(0, 0, 1, 1), land_class="0404"),
                 Unit(RESTORED, 1, box(0, 0, 1, 1), land_class="0404"))
    s = pd.concat([_series("planned:1", [0.2, 0.25, 0.3, 0.9, 0.22]),      # median 0.25 < 0.40
                   _series("planned:2", [0.6, 0.7, 0.65]),                  # passes 0.50
                   _series("restored:1", [0.05, 0.04, 0.06, 0.05])])
    anomalies, unjudged = _run(table, plan, s)
    got = {(a.type, a.unit_seq, a.unit_section): a for a in anomalies}
    assert set(got) == {("RESTORATION_SHORTFALL", 1, PLANNED), ("CLAIMED_RESTORATION_NOT_OBSERVED", 1, RESTORED)}
    a = got[("RESTORATION_SHORTFALL", 1, PLANNED)]
    assert a.observed["fvc"] == 0.25 and a.expected["min"] == 0.40 and a.observed["clear_observations"] == 5
    assert a.evidence_scenes == ("S00", "S01", "S02", "S03", "S04") and a.period == "2026-07-01/2026-09-15"
    assert not unjudged


def test_cloudy_dates_do_not_count_and_too_few_is_unjudged(table):
    plan = _plan(Unit(PLANNED, 1, box(0, 0, 1, 1), land_class="0305"))
    s = pd.concat([_series("planned:1", [0.1, 0.1], clear=1.0),
                   _series("planned:1", [0.1, 0.1, 0.1], start="2026-08-01", clear=0.5)])
    anomalies, unjudged = _run(table, plan, s)
    assert anomalies == []
    assert [(u.reason, u.n_clear) for u in unjudged] == [("INSUFFICIENT_OBSERVATIONS", 2)]


def test_nothing_is_judged_before_the_season_ends(table):
    plan = _plan(Unit(PLANNED, 1, box(0, 0, 1, 1), land_class="0305"))
    anomalies, unjudged = _run(table, plan, _series("planned:1", [0.1] * 5), as_of=date(2026, 8, 1))
    assert anomalies == [] and unjudged[0].reason == "SEASON_NOT_OVER"


def test_stable_id_does_not_depend_on_numbers(table):
    plan = _plan(Unit(PLANNED, 1, box(0, 0, 1, 1), land_class="0305"))
    a1 = _run(table, plan, _series("planned:1", [0.1] * 5))[0][0]
    a2 = _run(table, plan, _series("planned:1", [0.2] * 6))[0][0]
    assert a1.id == a2.id and a1.observed != a2.observed


def test_loss_needs_persistence_and_minimum_area():
    cfg = DisturbanceSettings(ndvi_drop=0.25, bare_ndvi=0.2, min_clear_obs=3, min_area_hm2=0.2)
    h = w = 30
    base = np.full((4, h, w), 0.6, "float32")
    cur = np.full((5, h, w), 0.6, "float32")
    cur[:, 5:15, 5:15] = 0.1          # 100 px = 1 hm² lost, all dates
    cur[:2, 20:28, 20:28] = 0.1       # lost on 2 dates only: not persistent
    cur[:, 0:2, 25:29] = 0.1          # 8 px = 0.08 hm²: below the MMU
    clear_b, clear_c = np.ones(base.shape, bool), np.ones(cur.shape, bool)
    loss = loss_mask(base, clear_b, cur, clear_c, cfg)
    confirmed = loss.confirmed
    assert confirmed[5:15, 5:15].all() and not confirmed[20:28, 20:28].any()
    patches = loss_patches(loss, season_pixels(cur, clear_c, cfg), np.ones((h, w), bool),
                           [f"S{i}" for i in range(5)], Affine(10, 0, 0, 0, -10, 300), 100.0, cfg)
    assert len(patches) == 1
    p = patches[0]
    assert p.n_px == 100 and p.geometry_utm.area == pytest.approx(10_000)
    assert p.baseline_ndvi == pytest.approx(0.6) and p.current_ndvi == pytest.approx(0.1)
    assert p.scenes == ("S0", "S1", "S2", "S3", "S4")


def test_loss_under_cloud_is_not_confirmed():
    cfg = DisturbanceSettings()
    base = np.full((3, 10, 10), 0.6, "float32")
    cur = np.full((5, 10, 10), 0.05, "float32")     # looks bare ...
    clear_c = np.zeros(cur.shape, bool)              # ... but never clear
    confirmed = loss_mask(base, np.ones(base.shape, bool), cur, clear_c, cfg).confirmed
    assert not confirmed.any()


def test_season_label():
    assert Season.of(2026, "07-01", "09-15").label == "2026-07-01/2026-09-15"
