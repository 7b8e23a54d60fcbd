"""The unit rules on hand-made series where the ground is unusual: a sparse desert ring (a unit is
never short for matching it) and a cropland unit judged at the fields' peak, not after harvest."""
from datetime import date

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box
from tests.support.paths import REPO

from minewatch.assess.cropland import REFERENCE_CROPLAND
from minewatch.assess.reference import REFERENCE
from minewatch.assess.rules import assess_units
from minewatch.assess.thresholds import load_thresholds
from minewatch.config import AssessSettings
from minewatch.promised.models import PLANNED, AnnualPlan, MiningRight, Unit

G = box(0, 0, 1, 1)
TABLE = load_thresholds(REPO / "configs" / "thresholds.yaml")
CFG = AssessSettings()


def _rows(unit: str, start: str, values: list[float], step: int = 8) -> pd.DataFrame:
    days = pd.date_range(start, periods=len(values), freq=f"{step}D")
    return pd.DataFrame({"unit": unit, "item_id": [f"S{d:%Y%m%d}" for d in days], "datetime": days,
                         "n_px": 100, "clear_px": 100, "clear_fraction": 1.0,
                         "ndvi_mean": np.array(values) * 0.75 + 0.05, "fvc_mean": values, "bsi_mean": 0.0})


def _judge(series: pd.DataFrame, land_class: str, county: str) -> dict[str, str]:
    right = MiningRight("C1", "h", "m", date(2020, 1, 1), date(2030, 1, 1), county, G)
    plan = AnnualPlan(2026, "C1", "h", "m", units=(Unit(PLANNED, 1, G, land_class=land_class),
                                                   Unit(PLANNED, 2, G, land_class=land_class)))
    flags, _ = assess_units(right, plan, series, TABLE, as_of=date(2026, 11, 1), cfg=CFG)
    return {f.key: f for f in flags}


def test_a_unit_matching_a_sparse_ring_is_not_short():
    ring = [0.15] * 9
    series = pd.concat([_rows(REFERENCE, "2025-07-02", ring), _rows(REFERENCE, "2026-07-02", ring),
                        _rows("planned:1", "2026-07-02", [0.14] * 9), _rows("planned:2", "2026-07-02", [0.03] * 9)])
    flags = _judge(series, "0404", "652301")           # 西北 grassland: min 0.30, the steppe is at 0.15
    assert list(flags) == ["planned:2"]
    a = flags["planned:2"]
    assert a.type == "RESTORATION_SHORTFALL" and a.expected["min"] == 0.3
    assert a.expected["min_adjusted"] == pytest.approx(0.105) and a.expected["sparse_share"] == 0.7
    assert a.observed["reference_fvc"] == 0.15 and a.confidence in ("high", "highest")
    # where the ring is green, the absolute bar holds: the same unit at 0.14 is short
    green = series.assign(fvc_mean=np.where(series.unit == REFERENCE, 0.6, series.fvc_mean))
    assert sorted(_judge(green, "0404", "652301")) == ["planned:1", "planned:2"]


def test_cropland_is_judged_at_the_fields_peak():
    # the fields: bare after the harvest through July (four dates), then the maize
    crop = [0.08, 0.08, 0.08, 0.08, 0.5, 0.85, 0.9, 0.9, 0.88, 0.9]
    series = pd.concat([_rows(REFERENCE_CROPLAND, "2025-07-02", crop), _rows(REFERENCE_CROPLAND, "2026-07-02", crop),
                        _rows("planned:1", "2026-07-02", [0.1, 0.1, 0.1, 0.1, 0.1, 0.8, 0.85, 0.85, 0.8, 0.85]),
                        _rows("planned:2", "2026-07-02", [0.1] * 10)])
    flags = _judge(series, "0103", "370811")
    assert list(flags) == ["planned:2"]                 # the restored field's median (0.45) would pass too ...
    a = flags["planned:2"]
    assert a.observed["clear_observations"] == 5         # ... but the judgement rests on the peak dates only
    assert a.observed["reference_fvc"] == pytest.approx(0.9) and a.expected["reference"].startswith("cropland ring")
    # a restored field sown late: the median over the season (0.1) would call it short; at the peak it is not
    late = pd.concat([series[series.unit != "planned:1"],
                      _rows("planned:1", "2026-07-02", [0.1] * 6 + [0.8, 0.85, 0.8, 0.85])])
    assert list(_judge(late, "0103", "370811")) == ["planned:2"]
    off = CFG.model_copy(update={"cropland": CFG.cropland.model_copy(update={"enabled": False})})
    right = MiningRight("C1", "h", "m", date(2020, 1, 1), date(2030, 1, 1), "370811", G)
    plan = AnnualPlan(2026, "C1", "h", "m", units=(Unit(PLANNED, 1, G, land_class="0103"),))
    flags, _ = assess_units(right, plan, late, TABLE, as_of=date(2026, 11, 1), cfg=off)
    assert [f.key for f in flags] == ["planned:1"]       # without the rule the late field is short
