"""Issue-5 rules on hand-made series: regions, reference normalisation, AT_RISK, degradation,
temporary land, water targets, confidence."""
from datetime import date

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box
from tests.support.paths import REPO

from minewatch.assess.confidence import at_least, classify
from minewatch.assess.rules import assess_units
from minewatch.assess.thresholds import ThresholdError, load_thresholds
from minewatch.config import AssessSettings
from minewatch.promised.models import PLANNED, RESTORED, AnnualPlan, MiningRight, Unit

ROOT = REPO
G = box(0, 0, 1, 1)


@pytest.fixture(scope="module")
def table():
    return load_thresholds(ROOT / "configs" / "thresholds.yaml")


def test_region_from_county_code_and_province_override(table, tmp_path):
    assert table.region_of("610802") == "loess" and table.region_of("150622") == "loess"
    assert table.region_of("990000") == "default"
    assert table.lookup("0404", county_code="652301").value == 0.30       # 西北干旱区 grassland row
    assert table.lookup("0404", county_code="150622").value == 0.50       # 黄土高原区 grassland row
    assert table.lookup("1104").measure == "water" and table.lookup("1207").measure == "bare"
    p = tmp_path / "t.yaml"
    p.write_text("rows:\n  - {region: default, land_class: '04', measure: fvc, value: 0.5, source: a}\n"
                 "  - {region: '15', land_class: '0404', measure: fvc, value: 0.35, season: '07-15/09-30',"
                 " source: b}\n",
                 encoding="utf-8")
    t = load_thresholds(p)
    assert t.lookup("0404", county_code="150622").value == 0.35
    assert t.lookup("0404", county_code="150622").season_mmdd == ("07-15", "09-30")
    assert t.lookup("0404", county_code="130283").value == 0.5
    p.write_text("rows:\n  - {region: default, land_class: '04', measure: water, source: a}\n", encoding="utf-8")
    with pytest.raises(ThresholdError, match="needs `value`"):
        load_thresholds(p)


def test_confidence_classes():
    kw = dict(min_obs=3, margin_min=0.05)
    assert classify(8, 1.0, 0.2, **kw) == "highest"
    assert classify(4, 1.0, 0.2, **kw) == "high"
    assert classify(8, 0.5, 0.2, **kw) == "low"          # not persistent
    assert classify(8, 1.0, 0.01, **kw) == "low"         # within the margin
    assert at_least("highest", "high") and not at_least("low", "high")


def _rows(unit, start, values, step=5, clear=1.0, prefix="S"):
    days = pd.date_range(start, periods=len(values), freq=f"{step}D")
    return pd.DataFrame({"unit": unit, "item_id": [f"{prefix}{unit[:3]}{d:%Y%m%d}" for d in days], "datetime": days,
                         "n_px": 100, "clear_px": 100 * clear, "clear_fraction": clear,
                         "ndvi_mean": np.array(values) * 0.7 + 0.1, "fvc_mean": values, "bsi_mean": 0.0})


def _run(table, units, series, as_of=date(2026, 11, 1), county="150622", cfg=None):
    right = MiningRight("C1", "h", "m", date(2020, 1, 1), date(2030, 1, 1), county, G)
    return assess_units(right, AnnualPlan(2026, "C1", "h", "m", units=tuple(units)), series, table, as_of=as_of,
                        cfg=cfg or AssessSettings())


def test_drought_year_is_normalised_by_the_reference_ring(table):
    u = Unit(PLANNED, 1, G, land_class="0404")
    unit = _rows("planned:1", "2026-07-01", [0.36] * 8)
    ring = pd.concat([_rows("reference", "2025-07-01", [0.66] * 8), _rows("reference", "2026-07-01", [0.38] * 8)])
    a, _ = _run(table, [u], pd.concat([unit, ring]))
    assert a == []                                          # 0.36/0.38 ~ 0.95 > 0.5/0.66
    a, _ = _run(table, [u], unit)                           # no ring: the absolute bar flags it
    assert [x.type for x in a] == ["RESTORATION_SHORTFALL"]
    short = _rows("planned:1", "2026-07-01", [0.12] * 8)
    [f], _ = _run(table, [u], pd.concat([short, ring]))
    assert f.expected["min"] == 0.5 and f.expected["min_adjusted"] == pytest.approx(0.5 * 0.38 / 0.66, abs=1e-3)
    assert f.observed["reference_fvc"] == 0.38 and f.confidence == "highest"


def test_at_risk_in_june_only_when_no_projection_reaches(table):
    ring = pd.concat([_rows("reference", "2025-05-01", list(np.linspace(0.2, 0.65, 12)) + [0.65] * 20),
                      _rows("reference", "2026-05-01", list(np.linspace(0.2, 0.6, 11)))])
    stalled = _rows("planned:1", "2026-05-01", [0.03] * 11)
    slow = _rows("planned:2", "2026-05-01", list(np.linspace(0.05, 0.30, 11)))
    units = [Unit(PLANNED, 1, G, land_class="0404"), Unit(PLANNED, 2, G, land_class="0404")]
    a, unj = _run(table, units, pd.concat([ring, stalled, slow]), as_of=date(2026, 6, 20))
    assert [(x.type, x.key) for x in a] == [("AT_RISK", "planned:1")]
    assert a[0].observed["projected_best_fvc"] < a[0].expected["min_adjusted"] and a[0].evidence_scenes
    assert [(u.unit, u.reason) for u in unj] == [("planned:2", "SEASON_NOT_OVER")]
    a, _ = _run(table, units, pd.concat([ring, stalled, slow]), as_of=date(2026, 5, 20))   # before at_risk_from
    assert a == []


def test_degradation_of_accepted_unit_not_in_a_drought(table):
    acc = Unit(RESTORED, 1, G, land_class="0404", accepted=True)
    ring_ok = pd.concat([_rows("reference", "2025-07-01", [0.65] * 8), _rows("reference", "2026-07-01", [0.64] * 8)])
    unit = pd.concat([_rows("restored:1", "2025-07-01", [0.70] * 8), _rows("restored:1", "2026-07-01", [0.25] * 8)])
    [f], _ = _run(table, [acc], pd.concat([ring_ok, unit]))
    assert f.type == "VEGETATION_DEGRADATION" and f.observed["fvc_drop"] == pytest.approx(0.45)
    ring_dry = pd.concat([_rows("reference", "2025-07-01", [0.65] * 8), _rows("reference", "2026-07-01", [0.25] * 8)])
    a, _ = _run(table, [acc], pd.concat([ring_dry, unit]))
    assert a == []                                          # the whole landscape fell: not the holder


def test_temporary_land_and_water_targets(table):
    tmp = Unit(PLANNED, 1, G, land_class="0404", is_temporary=True)
    lake = Unit(PLANNED, 2, G, land_class="1104")
    dry = Unit(PLANNED, 3, G, land_class="1104")
    s = pd.concat([_rows("planned:1", "2026-07-01", [0.03] * 6),
                   _rows("planned:2", "2026-07-01", [0.0] * 6).assign(water_fraction=0.95),
                   _rows("planned:3", "2026-07-01", [0.02] * 6).assign(water_fraction=0.0)])
    a, unj = _run(table, [tmp, lake, dry], s)
    assert sorted((x.type, x.key) for x in a) == [("RESTORATION_SHORTFALL", "planned:3"),
                                                  ("TEMPORARY_LAND_NOT_RESTORED", "planned:1")]
    w = next(x for x in a if x.key == "planned:3")
    assert w.expected["measure"] == "water" and w.observed["water_fraction"] == 0.0 and not unj


def test_low_confidence_is_returned_not_dropped(table):
    u = Unit(PLANNED, 1, G, land_class="0404")
    s = _rows("planned:1", "2026-07-01", [0.49, 0.48, 0.47, 0.52, 0.51])   # median 0.49, 0.01 under
    [f], _ = _run(table, [u], s)
    assert f.confidence == "low"
