"""promised.validate and assess.planchecks: the rules inspectors act on, on the sample files."""
from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path

import pytest
import yaml
from tests.support.paths import REPO

from minewatch.assess.planchecks import plan_anomalies
from minewatch.outputs.geojson import write_anomalies
from minewatch.promised.coords import area_hm2, format_corner_points, parse_corner_points
from minewatch.promised.models import DAMAGE, PLANNED, RESTORED, Unit
from minewatch.promised.planreader import read_plan_xlsx
from minewatch.promised.planwriter import write_plan_xlsx
from minewatch.promised.validate import (
    RULES,
    check_file,
    check_files,
    due_date,
    read_receipts,
    validate_plan,
)
from minewatch.synth import planfiles, sample

ROOT = REPO
BROKEN = ROOT / "sample_scenes" / "plans_broken"
MESSY = ROOT / "sample_scenes" / "plans_messy"


@pytest.fixture(scope="module")
def rights():
    return {r.license_no: r for r in (sample.mining_right(m) for m in sample.MINES)}


@pytest.fixture(scope="module")
def clean_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("plans")
    return [write_plan_xlsx(sample.annual_plan(m), d / f"{m.license_no}_2026.xlsx") for m in sample.MINES]


def _key(f):
    return (Path(f.file).name, f.rule, f.row, f.field)


# ------------------------------------------------------------------ sample files

def test_clean_sample_plans_have_no_findings(clean_files, rights):
    for f in clean_files:
        res = check_file(f, rights)
        assert res.plan is not None
        assert res.findings == [], res.findings


def test_broken_plans_give_exactly_the_planted_faults_each_once(rights):
    faults = yaml.safe_load((BROKEN / "faults.yaml").read_text(encoding="utf-8"))["faults"]
    results = check_files(sorted(BROKEN.glob("*.xlsx")), rights)
    got = [_key(f) for r in results for f in r.findings]
    want = [(f["file"], f["rule"], f["row"], f["field"]) for f in faults]
    assert sorted(got) == sorted(want)
    assert len(set(got)) == len(got)
    # one planted fault per validation rule, plus the reader's land class and polygon rules
    assert {f["rule"] for f in faults} == set(RULES) | {"UNKNOWN_LAND_CLASS", "BAD_CORNER_POINTS"}


def test_committed_sample_files_are_up_to_date(tmp_path):
    planfiles.write_messy(tmp_path / "m")
    planfiles.write_broken(tmp_path / "b")
    for d, committed in ((tmp_path / "m", MESSY), (tmp_path / "b", BROKEN)):
        names = sorted(p.name for p in d.iterdir())
        assert names == sorted(p.name for p in committed.iterdir())
        for n in names:
            assert (d / n).read_bytes() == (committed / n).read_bytes(), n


def test_messy_plan_reads_to_the_same_units(rights):
    (path,) = MESSY.glob("*.xlsx")
    res = check_file(path, rights)
    assert res.findings == []
    want = sample.annual_plan(sample.MINES[0])
    got = res.plan
    assert (got.plan_year, got.license_no, got.holder, got.mine_name) == \
        (want.plan_year, want.license_no, want.holder, want.mine_name)
    assert got.contact_phone == want.contact_phone
    for a in ("fees_last_year_drawn", "fees_last_year_used", "fees_this_year_planned_draw",
              "fees_this_year_planned_use"):
        assert getattr(got, a) == pytest.approx(getattr(want, a), abs=1e-9)
    assert len(got.units) == len(want.units)
    for u, w in zip(sorted(got.units, key=lambda u: (u.section, u.seq)),
                    sorted(want.units, key=lambda u: (u.section, u.seq))):
        assert (u.section, u.seq, u.land_class, u.is_temporary, u.accepted, u.quality, u.measures,
                u.problem_type, u.damage_degree) == \
               (w.section, w.seq, w.land_class, w.is_temporary, w.accepted, w.quality, w.measures,
                w.problem_type, w.damage_degree)
        assert u.area_hm2 == pytest.approx(round(w.area_hm2, 4), abs=1e-9)
        assert u.geometry.symmetric_difference(parse_corner_points(w.corner_points)).area < 1e-14
    # the first unit's 拐点坐标 were spread over rows, one point per row
    first = min(got.units, key=lambda u: u.row)
    assert first.corner_points.count("\n") >= 4


# ------------------------------------------------------------------ single rules

def _plan(units, **kw):
    base = sample.annual_plan(sample.MINES[0])
    return dataclasses.replace(base, units=tuple(units), **kw)


def _u(section, seq, rect, **kw):
    frame = sample.MineFrame.of(sample.MINES[0])
    g = parse_corner_points(format_corner_points(frame.rect_geo(rect)))
    kw.setdefault("land_class", "" if section == DAMAGE else "0404")
    return Unit(section=section, seq=seq, geometry=g, area_hm2=round(area_hm2(g), 4), **kw)


def _check(tmp_path, plan, rights, **kw):
    p = write_plan_xlsx(plan, tmp_path / "p.xlsx")
    res = read_plan_xlsx(p)
    return validate_plan(res, rights, **kw)


def test_temporary_land_may_lie_outside_the_boundary(tmp_path, rights):
    plan = _plan([_u(PLANNED, 1, (900, 500, 1200, 700), is_temporary=True)])
    assert _check(tmp_path, plan, rights) == []
    plan = _plan([_u(PLANNED, 1, (900, 500, 1200, 700))])
    assert [f.rule for f in _check(tmp_path, plan, rights)] == ["UNIT_OUTSIDE_BOUNDARY"]
    assert [f.rule for f in _check(tmp_path, plan, None)] == []  # no registry: rule skipped


def test_unit_on_the_boundary_edge_is_inside(tmp_path, rights):
    plan = _plan([_u(RESTORED, 1, (800, 600, 1000, 800), accepted=True)])
    assert _check(tmp_path, plan, rights) == []


def test_restored_not_accepted_may_be_planned_again(tmp_path, rights):
    r = _u(RESTORED, 1, (0, 0, 200, 200), accepted=False)
    p = _u(PLANNED, 1, (50, 50, 150, 150))
    assert _check(tmp_path, _plan([r, p]), rights) == []
    r = dataclasses.replace(r, accepted=True)
    assert [f.rule for f in _check(tmp_path, _plan([r, p]), rights)] == ["RESTORED_PLANNED_OVERLAP"]


def test_adjacent_units_do_not_overlap_but_overlapping_ones_do(tmp_path, rights):
    a = _u(PLANNED, 1, (0, 0, 200, 200))
    b = _u(PLANNED, 2, (200, 0, 400, 200))
    assert _check(tmp_path, _plan([a, b]), rights) == []
    c = _u(PLANNED, 3, (100, 100, 300, 300))
    fs = _check(tmp_path, _plan([a, b, c]), rights)
    assert [f.rule for f in fs] == ["UNITS_OVERLAP", "UNITS_OVERLAP"]
    assert all("第3号单元" in f.message_zh for f in fs)
    # damage and planned overlapping is the point of a plan: no finding
    d = _u(DAMAGE, 1, (0, 0, 200, 200), problem_type="挖损", damage_degree="重度")
    assert _check(tmp_path, _plan([d, a]), rights) == []


def test_area_tolerance_is_configurable(tmp_path, rights):
    u = dataclasses.replace(_u(PLANNED, 1, (0, 0, 200, 200)), area_hm2=4.3)   # computed ~4.0
    plan = _plan([u])
    assert [f.rule for f in _check(tmp_path, plan, rights)] == ["AREA_MISMATCH"]
    assert _check(tmp_path, plan, rights, area_tolerance=0.10) == []
    (f,) = _check(tmp_path, plan, rights, area_tolerance=0.01)
    assert f.severity == "error" and f.field == "面积" and "4.3000" in f.message_zh


def test_fees(tmp_path, rights):
    plan = _plan([], fees_last_year_drawn=10.0, fees_last_year_used=10.0,
                 fees_this_year_planned_draw=5.0, fees_this_year_planned_use=5.0001)
    (f,) = _check(tmp_path, plan, rights)
    assert (f.rule, f.field, f.value) == ("FEES_PLANNED_USE_EXCEEDS_DRAW", "本年度矿区生态修复费用拟使用金额", "5.0001")
    plan = _plan([], fees_last_year_used=None, fees_this_year_planned_use=None)
    assert _check(tmp_path, plan, rights) == []


@pytest.mark.parametrize("received, late", [(date(2026, 3, 31), False), (date(2026, 4, 1), True),
                                            (date(2025, 12, 1), False), (None, False)])
def test_received_after_31_march(tmp_path, rights, received, late):
    fs = _check(tmp_path, _plan([]), rights, received=received)
    assert [f.rule for f in fs] == (["PLAN_RECEIVED_LATE"] if late else [])
    assert due_date(2026) == date(2026, 3, 31)


def test_received_from_plan_submitted_and_receipts_csv(tmp_path, rights):
    res = read_plan_xlsx(write_plan_xlsx(_plan([]), tmp_path / "p.xlsx"))
    res.plan = dataclasses.replace(res.plan, submitted=date(2026, 5, 1))   # the table has no such field
    assert [f.rule for f in validate_plan(res, rights)] == ["PLAN_RECEIVED_LATE"]
    assert validate_plan(res, rights, received=date(2026, 3, 1)) == []    # the argument wins
    lic = sample.MINES[0].license_no
    (tmp_path / "receipts.csv").write_text(
        f"license_no,plan_year,received\n{lic},2026,2026-04-02\n{lic},2026,2026-03-30\n"
        f"X,20x6,2026-01-01\nY,2026,tomorrow\n", encoding="utf-8")
    rec, problems = read_receipts(tmp_path)
    assert rec == {(lic, 2026): date(2026, 3, 30)}
    assert [(p.row, p.field, p.rule) for p in problems] == [
        (3, "license_no", "BAD_RECEIPT"), (4, "plan_year", "BAD_RECEIPT"), (5, "received", "BAD_RECEIPT")]
    write_plan_xlsx(_plan([]), tmp_path / "p.xlsx")
    res = check_file(tmp_path / "p.xlsx", rights)
    assert res.findings == [] and res.plan.submitted == date(2026, 3, 30)
    results = check_files([tmp_path], rights)
    assert [Path(r.file).name for r in results] == ["receipts.csv", "p.xlsx"]


def test_licence_and_validity(tmp_path, rights):
    fs = _check(tmp_path, _plan([], license_no="C000"), rights)
    assert [(f.rule, f.row, f.field) for f in fs] == [("LICENCE_NOT_REGISTERED", 3, "采矿权证证号")]
    for year, bad in ((2020, True), (2021, False), (2035, False), (2036, True)):
        fs = _check(tmp_path, _plan([], plan_year=year), rights)
        assert [f.rule for f in fs] == (["PLAN_YEAR_OUTSIDE_VALIDITY"] if bad else []), year


def test_four_decimals(tmp_path, rights):
    from openpyxl import load_workbook
    plan = _plan([_u(PLANNED, 1, (0, 0, 200, 200))])
    p = write_plan_xlsx(plan, tmp_path / "p.xlsx")
    res = read_plan_xlsx(p)
    row = res.plan.units[0].row
    area = res.plan.units[0].area_hm2
    for value, fmt, n in ((f"{area:.4f}公顷", "General", None), (f"{area:.2f}", "General", 2),
                          (round(area, 6) + 0.000003, "0.0000", 5), (round(area, 1), "0.00", 2),
                          (round(area, 4), "0.0000", None), ("４．００３２ｈｍ２", "General", None)):
        wb = load_workbook(p)
        c = wb.active.cell(row=row, column=5, value=value)
        c.number_format = fmt
        wb.save(tmp_path / "q.xlsx")
        fs = validate_plan(read_plan_xlsx(tmp_path / "q.xlsx"), rights, area_tolerance=0.5)
        dec = [f for f in fs if f.rule == "NOT_4_DECIMALS"]
        assert len(dec) == (0 if n is None else 1), (value, fs)
        if dec:
            assert dec[0].severity == "warning" and dec[0].row == row


# ------------------------------------------------------------------ nightly anomalies

def _results(files, rights):
    return [check_file(f, rights) for f in files]


def test_plan_missing_after_31_march_only(clean_files, rights):
    results = _results(clean_files[1:], rights)          # the first mine has no plan
    assert plan_anomalies(rights.values(), results, plan_year=2026, as_of=date(2026, 3, 31)) == []
    (a,) = plan_anomalies(rights.values(), results, plan_year=2026, as_of=date(2026, 4, 1))
    right = rights[sample.MINES[0].license_no]
    assert (a.type, a.license_no, a.severity, a.key) == ("PLAN_MISSING", right.license_no, "medium", "missing")
    assert a.geometry.equals(right.boundary)
    # on the abnormal list: high; expired licence or issued in the plan year: not due
    flagged = {k: dataclasses.replace(v, abnormal_list=True) for k, v in rights.items()}
    (a,) = plan_anomalies(flagged.values(), results, plan_year=2026, as_of=date(2026, 6, 1))
    assert a.severity == "high"
    young = [dataclasses.replace(right, valid_from=date(2026, 2, 1))]
    assert plan_anomalies(young, [], plan_year=2026, as_of=date(2026, 6, 1)) == []
    old = [dataclasses.replace(right, valid_to=date(2026, 5, 1))]
    assert plan_anomalies(old, [], plan_year=2026, as_of=date(2026, 6, 1)) == []
    # a plan for another year does not count
    assert len(plan_anomalies(rights.values(), results, plan_year=2027, as_of=date(2027, 6, 1))) == 3


def test_plan_data_inconsistent_from_the_broken_plans(rights, tmp_path, anomaly_validator):
    results = check_files(sorted(BROKEN.glob("*.xlsx")), rights)
    anomalies = plan_anomalies(rights.values(), results, plan_year=2026, as_of=date(2026, 6, 1))
    inc = [a for a in anomalies if a.type == "PLAN_DATA_INCONSISTENT"]
    errors = [f for r in results if r.plan and r.plan.plan_year == 2026 for f in r.findings if f.severity == "error"]
    assert len(inc) == len(errors) == 9
    by_rule = {a.observed["rule"]: a for a in inc}
    right = rights[sample.MINES[0].license_no]
    # about a unit with a valid polygon: the unit; about fees or a dropped row: the boundary
    assert by_rule["UNIT_OUTSIDE_BOUNDARY"].unit_seq == 5
    assert not by_rule["UNIT_OUTSIDE_BOUNDARY"].geometry.equals(right.boundary)
    assert by_rule["FEES_USED_EXCEED_DRAWN"].geometry.equals(right.boundary)
    assert by_rule["UNKNOWN_LAND_CLASS"].geometry.equals(right.boundary)
    assert by_rule["UNKNOWN_LAND_CLASS"].unit_seq is None
    a = by_rule["AREA_MISMATCH"]
    assert a.key == f"AREA_MISMATCH|{a.observed['row']}|面积"
    assert a.observed["file"].startswith("broken_") and a.observed["message_zh"]
    # unregistered licence: the hull of its units
    assert by_rule["LICENCE_NOT_REGISTERED"].license_no.endswith("9999")
    # same input, same ids
    again = plan_anomalies(rights.values(), check_files(sorted(BROKEN.glob("*.xlsx")), rights),
                           plan_year=2026, as_of=date(2026, 6, 1))
    assert sorted(a.id for a in again) == sorted(a.id for a in anomalies)
    assert len({a.id for a in anomalies}) == len(anomalies)
    # PLAN_MISSING: mine 2 filed for 2036, mine 3 under a wrong licence number
    assert [a.license_no for a in anomalies if a.type == "PLAN_MISSING"] == \
        [sample.MINES[1].license_no, sample.MINES[2].license_no]
    # the anomalies go through the GeoJSON writer and the schema
    out = write_anomalies(tmp_path / "a.geojson", anomalies)
    fc = json.loads(out.read_text(encoding="utf-8"))
    errs = sorted(anomaly_validator.iter_errors(fc), key=str)
    assert not errs, errs[:3]


def test_findings_argument_overrides(rights, clean_files):
    results = _results(clean_files, rights)
    from minewatch.promised.findings import Finding
    f = Finding(file=Path(clean_files[0]).name, sheet="s", row=None, field="x", value="", rule="X",
                severity="error", message_zh="m")
    out = plan_anomalies(rights.values(), results, {results[0].file: [f]}, plan_year=2026,
                         as_of=date(2026, 6, 1))
    assert [(a.type, a.key) for a in out] == [("PLAN_DATA_INCONSISTENT", "X||x")]
