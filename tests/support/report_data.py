"""A synthetic mine report (grid, units, one anomaly, series and ring) the report and PDF tests share."""
from datetime import date, timedelta

import numpy as np
import pandas as pd
import shapely
from affine import Affine
from pyproj import Transformer
from shapely.geometry import box

from minewatch.assess.anomaly import Anomaly
from minewatch.outputs.geojson import feature
from minewatch.outputs.report import MineReportData, ReportUnit
from minewatch.promised.models import AnnualPlan

EPSG = 32649                    # UTM 49N around 111°E, 39°N
X0, Y0, RES, N = 500000.0, 4317000.0, 10.0, 200


def report_data(**kw) -> MineReportData:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:N, 0:N]
    fvc = np.clip(0.5 + 0.3 * np.sin(xx / 15) * np.cos(yy / 20) + rng.normal(0, 0.03, (N, N)), 0, 1)
    fvc[60:100, 40:80] = 0.05                                    # bare unit
    fvc[:5, :5] = np.nan
    rgb = np.stack([0.35 - 0.2 * fvc, 0.3 + 0.1 * fvc, 0.25 - 0.1 * fvc], axis=-1)
    t = Affine(RES, 0, X0, 0, -RES, Y0)
    ux = lambda c0, r0, c1, r1: box(X0 + c0 * RES, Y0 - r1 * RES, X0 + c1 * RES, Y0 - r0 * RES)
    units = [ReportUnit("planned:1", "planned", 1, ux(110, 30, 160, 80), "0404"),
             ReportUnit("planned:2", "planned", 2, ux(40, 60, 80, 100), "0305"),
             ReportUnit("restored:1", "restored", 1, ux(120, 120, 170, 170), "0404"),
             ReportUnit("damage:1", "damage", 1, ux(10, 140, 60, 190))]
    to_ll = Transformer.from_crs(EPSG, 4490, always_xy=True).transform
    a = Anomaly("RESTORATION_SHORTFALL", "high", "C1400002010011120000001", "示例煤矿", 2026,
                shapely.transform(units[1].geometry, lambda x, y: to_ll(x, y), interleaved=False), 16.0012,
                "2026-07-01/2026-09-15",
                {"fvc": 0.05, "n_clear": 7}, {"fvc_min": 0.4, "source": "灌木林地 cover >= 40%"},
                ("S2B_49SFA_20260712_0_L2A", "S2A_49SFA_20260806_0_L2A"), unit_seq=2, unit_section="planned",
                target_land_class="0305", key="planned:2")
    dates = [date(2025, 4, 1) + timedelta(days=10 * i) for i in range(58)]
    rows, ref = [], []
    for u, peak in (("planned:1", 0.7), ("planned:2", 0.08), ("restored:1", 0.65)):
        for i, d in enumerate(dates):
            season = np.interp(d.timetuple().tm_yday, [1, 100, 175, 240, 290, 366], [0.15, 0.15, 1, 1, 0.3, 0.15])
            rows.append({"unit": u, "datetime": pd.Timestamp(d, tz="UTC"), "fvc_mean": peak * season,
                         "clear_fraction": 0.3 if i % 7 == 0 else 0.95})
            ref.append({"unit": u, "datetime": pd.Timestamp(d, tz="UTC"), "fvc_mean": 0.6 * season})
    plan = AnnualPlan(2026, "C1400002010011120000001", "示例矿业有限公司", "示例煤矿",
                      validity="2020年1月1日至2030年12月31日")
    args = dict(rgb=rgb, fvc=fvc, transform=t, epsg=EPSG, units=units, anomalies=[feature(a)],
                series=pd.DataFrame(rows), reference=pd.DataFrame(ref),
                thresholds={"planned:1": 0.45, "planned:2": 0.40, "restored:1": 0.45},
                unjudged=[{"license_no": "C1400002010011120000001", "unit": "damage:1", "reason": "NOT_ASSESSED",
                           "reason_zh": "损毁区不作植被判定", "n_clear": 0}],
                image_date="2026-08-06", run_date=date(2026, 10, 2), min_clear_fraction=0.5)
    args.update(kw)
    return MineReportData.from_plan(plan, **args)


def loss_feature(d: MineReportData) -> dict:
    """An UNDECLARED_DISTURBANCE feature over rows 20-40, columns 150-180 of `report_data`'s grid."""
    to_ll = Transformer.from_crs(EPSG, 4490, always_xy=True).transform
    g = box(X0 + 150 * RES, Y0 - 40 * RES, X0 + 180 * RES, Y0 - 20 * RES)
    a = Anomaly("UNDECLARED_DISTURBANCE", "high", d.license_no, d.mine_name, d.plan_year,
                shapely.transform(g, lambda x, y: to_ll(x, y), interleaved=False), 6.0, "2026-07-01/2026-09-15",
                {"ndvi_drop": 0.4, "pixels": 600}, {"rule": "ndvi drop"}, ("S2A_49SFA_20260806_0_L2A",), key="loss:1")
    return feature(a)
