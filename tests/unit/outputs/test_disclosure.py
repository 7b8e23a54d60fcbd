"""disclosure: personal data typed anywhere (a plan's unit cell) never reaches public/, by value
as well as by key; public/spot_check.csv hides a natural person's name and credit flags."""
import dataclasses
import json
from datetime import date

import pandas as pd
from tests.support.night import sample_copy

from minewatch import job
from minewatch.outputs.disclosure import REDACTED, is_natural_person, redact_text
from minewatch.outputs.spotcheck import read_spot_check_csv
from minewatch.promised.planwriter import write_plan_xlsx
from minewatch.synth import sample

AS_OF = date(2026, 11, 20)


def test_phone_patterns_and_values_are_blanked_but_identifiers_are_not():
    assert redact_text("请联系13912345678或0477-1234567, +86 139 1234 5678") == \
        f"请联系{REDACTED}或{REDACTED}, {REDACTED}"
    assert redact_text("证号C1506222021071110000001 面积0.1234 2026-03-31") == \
        "证号C1506222021071110000001 面积0.1234 2026-03-31"
    assert redact_text("联系人张示例(内蒙古示例路1号)", {"张示例", "内蒙古示例路1号", "示例"}) == \
        f"联系人{REDACTED}({REDACTED})"
    assert is_natural_person("王小明") and not is_natural_person("示例准格尔煤业有限公司")
    assert not is_natural_person("北方石料厂") and not is_natural_person("")


def test_personal_data_in_a_plan_cell_never_reaches_public(tmp_path):
    s = sample_copy(tmp_path)
    reg = pd.read_csv(s.registry, dtype=str, keep_default_na=False)
    m = sample.MINES[0]
    contact = reg.loc[reg.license_no == m.license_no].iloc[0]
    person = sample.MINES[1].license_no
    reg.loc[reg.license_no == person, ["holder", "abnormal_list"]] = ["王小明", "true"]   # a natural person
    reg.to_csv(s.registry, index=False)
    plan = sample.annual_plan(m)
    typed = iter(["联系人王五 13912345678",
                  f"{contact.contact_name} {contact.contact_phone} {contact.contact_address}"])
    # into the 修复后地类 cells of the first two units that have one (a damaged area has none)
    units = tuple(dataclasses.replace(u, land_class=next(typed, u.land_class)) if u.land_class else u
                  for u in plan.units)
    write_plan_xlsx(dataclasses.replace(plan, units=units), s.plans / f"{m.license_no}_{sample.PLAN_YEAR}.xlsx")
    p = job.load_promises(s, sample.PLAN_YEAR)
    job.write_run([], s.output_dir, AS_OF, sample.PLAN_YEAR, p)
    run = s.output_dir / AS_OF.isoformat()

    inside = (run / "anomalies.geojson").read_text(encoding="utf-8")
    assert "13912345678" in inside and contact.contact_phone in inside     # inspectors see what was filed
    secrets = ["13912345678", contact.contact_name, contact.contact_phone, contact.contact_address, "王小明"]
    public = sorted((run / "public").rglob("*"))
    assert [f.name for f in public] == ["anomalies.geojson", "spot_check.csv"]
    for f in public:
        text = f.read_text(encoding="utf-8-sig")
        assert not [v for v in secrets if v in text], f.name
    fc = json.loads((run / "public" / "anomalies.geojson").read_text(encoding="utf-8"))
    values = [f["properties"]["observed"].get("value") for f in fc["features"]
              if f["properties"]["observed"].get("rule") == "UNKNOWN_LAND_CLASS"]
    assert sorted(values) == sorted([f"联系人王五 {REDACTED}", f"{REDACTED} {REDACTED} {REDACTED}"])

    spot = pd.read_csv(run / "public" / "spot_check.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    spot.columns = [c.split("|", 1)[0] for c in spot.columns]
    spot = spot.set_index("license_no")
    inner = read_spot_check_csv(run / "spot_check.csv").set_index("license_no")
    assert inner.loc[person, "holder"] == "王小明" and bool(inner.loc[person, "abnormal_list"])
    assert spot.loc[person, ["holder", "abnormal_list", "seriously_dishonest", "multiplier"]].tolist() == \
        [REDACTED, "", "", ""]
    assert "异常名录" not in spot.loc[person, "reasons_zh"]
    assert spot.loc[m.license_no, "holder"] == inner.loc[m.license_no, "holder"]        # an organisation stays
    assert list(spot.index) == list(inner.index)
    assert spot["risk_score"].astype(float).tolist() == inner["risk_score"].tolist()
    assert spot.loc[m.license_no, "abnormal_list"] in ("true", "false")
