"""Two consecutive nights' one-map packages, with one change of every kind between them.

Night 1 (2026-10-02): `outputs_data`'s two findings on the first mine (RESTORATION_SHORTFALL on
planned:2, UNDECLARED_DISTURBANCE), four plan units, two mines.
Night 2 (2026-10-03):
- RESTORATION_SHORTFALL seen again with a lower FVC: ongoing, ``observed`` changed -> updated;
- UNDECLARED_DISTURBANCE not reported: carried once as resolved -> resolved;
- a new OUT_OF_BOUNDARY_DISTURBANCE on the second mine -> new;
- unit planned:1 gets tonight's FVC -> updated; the damage unit's row left the plan -> resolved;
- both mines' finding counts moved -> updated.
"""
from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pandas as pd
from shapely.geometry import box

from minewatch.assess.anomaly import Anomaly
from minewatch.outputs.geojson import feature_collection
from minewatch.outputs.lifecycle import apply_lifecycle
from minewatch.outputs.onemap import write_onemap
from minewatch.promised.models import DAMAGE, PLANNED
from tests.support.outputs_data import anomalies_fc, rights_and_plans

NIGHT1, NIGHT2 = date(2026, 10, 2), date(2026, 10, 3)
R1, R2 = "C1400002010011120000001", "C1500002012011120000002"


def night2_fc(previous_fc: dict) -> dict:
    a = [Anomaly("RESTORATION_SHORTFALL", "high", R1, "示例煤矿", 2026, box(111.004, 39.001, 111.006, 39.003), 3.8004,
                 "2026-07-01/2026-10-01", {"fvc": 0.10, "n_clear": 7},
                 {"fvc_min": 0.4, "source": "灌木林地 cover >= 40%"}, ("S2B_49SFA_20260712_0_L2A",),
                 unit_seq=2, unit_section=PLANNED, target_land_class="0305", key="planned:2"),
         Anomaly("OUT_OF_BOUNDARY_DISTURBANCE", "medium", R2, "北方石料矿", 2026, box(110.021, 40.005, 110.023, 40.007),
                 3.9, "2026-07-01/2026-10-01", {"ndvi_current": 0.05}, {"rule": "inside the licence"},
                 ("S2A_49TFE_20260930_0_L2A",), key="oob@1")]
    return apply_lifecycle(feature_collection(a), previous_fc, NIGHT2, previous_run_date=NIGHT1)


def write_two_nights(folder: Path) -> tuple[Path, Path]:
    """OUT/<night>/onemap.gpkg for both nights, the second computed against the first."""
    rights, plans = rights_and_plans()
    fc1 = anomalies_fc(NIGHT1)
    p1 = write_onemap(folder / NIGHT1.isoformat() / "onemap.gpkg", fc1, rights, plans, None, run_date=NIGHT1)
    plan = plans[R1]
    plans2 = {R1: dataclasses.replace(plan, units=tuple(u for u in plan.units if u.section != DAMAGE))}
    status = pd.DataFrame([{"license_no": R1, "unit": "planned:1", "status": "OK", "status_zh": "未见异常",
                            "fvc": 0.61, "as_of": "2026-10-01"}])
    p2 = write_onemap(folder / NIGHT2.isoformat() / "onemap.gpkg", night2_fc(fc1), rights, plans2, status,
                      run_date=NIGHT2, previous=p1, previous_run_date=NIGHT1)
    return p1, p2
