"""The machine format (GeoJSON units + YAML attributes) and the template/example files."""
from __future__ import annotations

import dataclasses
import json
from datetime import date

import pytest
import yaml
from shapely.geometry import shape
from tests.support.paths import REPO

from minewatch.promised.machine import read_plan_machine, write_plan_machine
from minewatch.promised.models import PLANNED
from minewatch.promised.package import PlanFormatError
from minewatch.promised.planreader import read_plan_xlsx
from minewatch.promised.planwriter import write_plan_xlsx
from minewatch.synth import sample
from minewatch.synth.planfiles import write_templates

TEMPLATE_DIR = REPO / "sample_scenes" / "template"


def test_round_trip_xlsx_machine_xlsx(plan, tmp_path, as_tabled):
    for p in (plan, sample.annual_plan(sample.MINES[0])):
        a = write_plan_xlsx(p, tmp_path / "a.xlsx")
        from_xlsx = read_plan_xlsx(a)
        assert from_xlsx.findings == []
        g, y = write_plan_machine(from_xlsx.plan, tmp_path / "p.geojson", tmp_path / "p.yaml")
        res = read_plan_machine(g, y)
        assert res.findings == [] and res.ok
        assert res.plan.source == str(g)
        assert [u.row for u in res.plan.units] == list(range(1, len(p.units) + 1))
        assert as_tabled(res.plan) == as_tabled(from_xlsx.plan)
        b = write_plan_xlsx(res.plan, tmp_path / "b.xlsx")
        assert a.read_bytes() == b.read_bytes()


def test_geojson_is_rfc7946_and_json_attrs_work(plan, tmp_path, as_tabled):
    p = dataclasses.replace(plan, submitted=date(2026, 3, 20))
    g, j = write_plan_machine(p, tmp_path / "p.geojson", tmp_path / "p.json")
    fc = json.loads(g.read_text("utf-8"))
    assert fc["type"] == "FeatureCollection" and "crs" not in fc
    f0 = fc["features"][0]
    assert set(f0["properties"]) == {"section", "seq", "is_temporary", "land_class", "area_hm2", "quality",
                                     "accepted", "problem_type", "damage_degree", "measures", "corner_points"}
    ring = shape(f0["geometry"]).exterior
    assert ring.is_ccw  # right-hand rule
    assert 117 < ring.coords[0][0] < 118 and 39 < ring.coords[0][1] < 40  # lon, lat
    assert json.loads(j.read_text("utf-8"))["submitted"] == "2026-03-20"
    res = read_plan_machine(g, j)
    assert res.findings == [] and res.plan.submitted == date(2026, 3, 20)
    assert as_tabled(res.plan) == dataclasses.replace(p, source="")
    # same bytes every time
    assert write_plan_machine(p, tmp_path / "q.geojson", tmp_path / "q.json")[0].read_bytes() == g.read_bytes()


def _spoil(tmp_path, plan, edit_feature=None, edit_attrs=None):
    g, y = write_plan_machine(plan, tmp_path / "p.geojson", tmp_path / "p.yaml")
    fc = json.loads(g.read_text("utf-8"))
    attrs = yaml.safe_load(y.read_text("utf-8"))
    if edit_feature:
        edit_feature(fc["features"])
    if edit_attrs:
        edit_attrs(attrs)
    g.write_text(json.dumps(fc, ensure_ascii=False), "utf-8")
    y.write_text(yaml.safe_dump(attrs, allow_unicode=True), "utf-8")
    return read_plan_machine(g, y)


def test_bad_values_are_findings_with_feature_and_field(plan, tmp_path):
    planned = next(i for i, u in enumerate(plan.units) if u.section == PLANNED)

    def edit(fs):
        fs[planned]["properties"]["land_class"] = "草坪"
        fs[0]["properties"]["area_hm2"] = "很大"
        fs[1]["properties"]["corner_points"] = fs[2]["properties"]["corner_points"]
        fs[2]["geometry"]["coordinates"][0][1:3] = fs[2]["geometry"]["coordinates"][0][2:0:-1]  # bow tie
        fs[3]["properties"]["section"] = "whatever"

    def edit_attrs(a):
        a["fees_last_year_used"] = -1
        a["submitted"] = "20 March"
        a["contact_phone"] = 13800000000

    res = _spoil(tmp_path, plan, edit, edit_attrs)
    got = {(f.file, f.row, f.field, f.rule) for f in res.findings}
    assert got == {
        ("p.geojson", planned + 1, "land_class", "UNKNOWN_LAND_CLASS"),
        ("p.geojson", 1, "area_hm2", "BAD_AREA"),
        ("p.geojson", 2, "corner_points", "CORNER_POINTS_MISMATCH"),
        ("p.geojson", 3, "geometry", "BAD_GEOMETRY"),
        ("p.geojson", 4, "section", "BAD_SECTION"),
        ("p.yaml", None, "fees_last_year_used", "NEGATIVE_MONEY"),
        ("p.yaml", None, "submitted", "BAD_DATE"),
    }
    assert all(f.severity == "error" for f in res.findings)
    assert res.plan.contact_phone == "13800000000"  # YAML read the number; kept as text
    assert [u.row for u in res.plan.units] == [6]  # units with errors left out (5: land class)
    # land class by name or label is accepted and stored as the code
    res = _spoil(tmp_path, plan, lambda fs: fs[planned]["properties"].update(land_class="0301 乔木林地"))
    assert res.findings == [] and res.plan.units[planned].land_class == "0301"
    res = _spoil(tmp_path, plan, lambda fs: fs[planned]["properties"].update(land_class="林地"))
    assert [f.rule for f in res.findings] == ["LAND_CLASS_NOT_SPECIFIC"]


def test_missing_attributes_and_not_a_feature_collection(plan, tmp_path):
    res = _spoil(tmp_path, plan, edit_attrs=lambda a: (a.pop("plan_year"), a.update(license_no="")))
    assert res.plan is None
    assert {f.rule for f in res.errors} == {"MISSING_PLAN_YEAR", "MISSING_HEADER_VALUE"}
    (tmp_path / "x.geojson").write_text('{"type": "Feature"}', "utf-8")
    with pytest.raises(PlanFormatError):
        read_plan_machine(tmp_path / "x.geojson", tmp_path / "p.yaml")
    (tmp_path / "y.geojson").write_text("{not json", "utf-8")
    with pytest.raises(PlanFormatError):
        read_plan_machine(tmp_path / "y.geojson", tmp_path / "p.yaml")


def test_template_reads_as_empty_with_missing_findings():
    res = read_plan_xlsx(TEMPLATE_DIR / "年度矿区生态修复情况表_模板.xlsx")
    assert res.plan is None  # no year, no licence: nothing to build a plan from
    assert {f.rule for f in res.findings} == {"MISSING_PLAN_YEAR", "MISSING_HEADER_VALUE"}
    assert {f.field for f in res.findings if f.rule == "MISSING_HEADER_VALUE"} == {
        "采矿权人名称", "采矿权证证号", "矿山名称"}
    assert not any(f.rule.startswith(("BAD_", "MISSING_CORNER", "MISSING_SEQ")) for f in res.findings)


def test_example_files_agree(as_tabled):
    stem = TEMPLATE_DIR / "年度矿区生态修复情况表_示例"
    x = read_plan_xlsx(stem.with_suffix(".xlsx"))
    m = read_plan_machine(stem.with_suffix(".geojson"), stem.with_suffix(".yaml"))
    assert x.findings == [] and m.findings == []
    assert as_tabled(x.plan) == as_tabled(m.plan)
    assert x.plan.license_no == sample.MINES[0].license_no and len(m.plan.units) == len(
        sample.annual_plan(sample.MINES[0]).units)


def test_committed_templates_are_up_to_date(tmp_path):
    fresh = write_templates(tmp_path)
    assert sorted(p.name for p in fresh) == sorted(p.name for p in TEMPLATE_DIR.iterdir())
    for p in fresh:
        assert p.read_bytes() == (TEMPLATE_DIR / p.name).read_bytes(), p.name
