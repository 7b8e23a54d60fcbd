"""Mining rights, plans and anomalies the outputs' tests share."""
from datetime import date

from shapely.geometry import MultiPolygon, box

from minewatch.assess.anomaly import Anomaly
from minewatch.outputs.geojson import feature_collection
from minewatch.outputs.lifecycle import apply_lifecycle
from minewatch.promised.models import DAMAGE, PLANNED, RESTORED, AnnualPlan, MiningRight, Unit


def rights_and_plans():
    r1 = MiningRight("C1400002010011120000001", "示例矿业有限公司", "示例煤矿", date(2020, 1, 1), date(2030, 12, 31),
                     "140100", box(111.0, 39.0, 111.03, 39.02), mineral="煤", mining_method="露天",
                     contact_name="张三", contact_phone="13800000000", contact_address="山西省某县某路1号")
    r2 = MiningRight("C1500002012011120000002", "北方石料厂", "北方石料矿", date(2021, 6, 1), date(2031, 5, 31),
                     "150200", box(110.0, 40.0, 110.02, 40.02), abnormal_list=True, contact_name="李四")
    units = (
        Unit(PLANNED, 1, box(111.001, 39.001, 111.003, 39.003), area_hm2=3.8012, land_class="0404",
             measures="覆土、撒播草籽"),
        Unit(PLANNED, 2, box(111.004, 39.001, 111.006, 39.003), area_hm2=3.8, land_class="0305", is_temporary=True),
        Unit(RESTORED, 1, box(111.010, 39.001, 111.012, 39.003), area_hm2=3.8, land_class="0404", accepted=False),
        Unit(DAMAGE, 1, box(111.020, 39.010, 111.025, 39.015), area_hm2=20.0, problem_type="挖损",
             damage_degree="重度"),
    )
    p1 = AnnualPlan(2026, r1.license_no, r1.holder, r1.mine_name, validity="2020年1月1日至2030年12月31日",
                    contact_name="张三", contact_phone="13800000000", units=units, submitted=date(2026, 3, 20))
    return [r1, r2], {r1.license_no: p1}


def anomalies_fc(run_date=date(2026, 10, 2)):
    r1 = "C1400002010011120000001"
    a = [Anomaly("RESTORATION_SHORTFALL", "high", r1, "示例煤矿", 2026, box(111.004, 39.001, 111.006, 39.003), 3.8004,
                 "2026-07-01/2026-09-15", {"fvc": 0.12, "n_clear": 6},
                 {"fvc_min": 0.4, "source": "灌木林地 cover >= 40%"},
                 ("S2B_49SFA_20260712_0_L2A", "S2A_49SFA_20260806_0_L2A"), unit_seq=2, unit_section=PLANNED,
                 target_land_class="0305", key="planned:2"),
         Anomaly("UNDECLARED_DISTURBANCE", "high", r1, "示例煤矿", 2026,
                 MultiPolygon([box(111.015, 39.005, 111.016, 39.006), box(111.017, 39.005, 111.018, 39.006)]), 1.9,
                 "2026-07-01/2026-09-15", {"ndvi_current": 0.1}, {"rule": "no loss"}, ("S2B_49SFA_20260712_0_L2A",),
                 key="loss@1,2")]
    return apply_lifecycle(feature_collection(a), None, run_date)
