"""planchecks: a plan file that cannot be read is PLAN_UNREADABLE (never PLAN_MISSING), and
its read error reaches the run folder."""
import json
import zipfile
from datetime import date

from tests.support.night import sample_copy

from minewatch import job
from minewatch.assess.planchecks import plan_anomalies
from minewatch.labels import TYPES_ZH

AS_OF = date(2026, 11, 20)


def _damage_member(path, member="xl/worksheets/sheet1.xml"):
    """Flip bytes inside one compressed member: the zip directory stays, the sheet does not inflate."""
    data = bytearray(path.read_bytes())
    info = zipfile.ZipFile(path).getinfo(member)
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 20
    for k in range(start, start + 200):
        data[k] ^= 0x5A
    path.write_bytes(bytes(data))


def test_truncated_and_damaged_plans_are_unreadable_not_missing(tmp_path, anomaly_validator):
    s = sample_copy(tmp_path)
    files = sorted(s.plans.glob("*_2026.xlsx"))   # the sample has 2025 plans too
    truncated, damaged, fine = files
    truncated.write_bytes(truncated.read_bytes()[:3000])      # a cut-off upload
    _damage_member(damaged)
    p = job.load_promises(s, 2026)
    anomalies = plan_anomalies(p.rights, p.plan_results, plan_year=2026, as_of=AS_OF)
    assert [a.type for a in anomalies if a.type == "PLAN_MISSING"] == []
    unread = sorted((a for a in anomalies if a.type == "PLAN_UNREADABLE"), key=lambda a: a.observed["file"])
    assert [(a.license_no, a.observed["file"]) for a in unread] == \
        [(f.name.split("_")[0], f.name) for f in (truncated, damaged)]
    by_file = {a.observed["file"]: a for a in unread}
    assert "BadZipFile" in by_file[truncated.name].observed["reason"]
    assert "xl/worksheets/sheet1.xml" in by_file[damaged.name].observed["reason"]
    rights = {r.license_no: r for r in p.rights}
    for a in unread:
        right = rights[a.license_no]
        assert a.type_zh == TYPES_ZH["PLAN_UNREADABLE"] == "年度计划无法读取"
        assert a.severity == ("high" if right.abnormal_list or right.seriously_dishonest else "medium")
        assert a.observed["file"] in a.notes_zh and a.geometry.equals(right.boundary)
    assert fine.name.split("_")[0] in p.plans and len(p.plans) == 1

    summary = job.write_run([], s.output_dir, AS_OF, 2026, p)
    run = s.output_dir / AS_OF.isoformat()
    on_disk = json.loads((run / "run_summary.json").read_text(encoding="utf-8"))
    assert on_disk == {k: v for k, v in summary.items() if k in on_disk}
    assert [u["file"] for u in on_disk["plan_files_unreadable"]] == sorted([truncated.name, damaged.name])
    assert "BadZipFile" in on_disk["plan_files_unreadable"][0]["reason"]
    assert on_disk["anomalies_by_type"] == {"PLAN_UNREADABLE": 2}
    fc = json.loads((run / "anomalies.geojson").read_text(encoding="utf-8"))
    assert not list(anomaly_validator.iter_errors(fc))


def test_an_unreadable_file_naming_no_licence_is_named_by_every_missing_plan(tmp_path):
    s = sample_copy(tmp_path)
    victim = sorted(s.plans.glob("*_2026.xlsx"))[0]   # the sample has 2025 plans too
    (s.plans / "scan.xlsx").write_bytes(victim.read_bytes()[:3000])
    victim.unlink()
    p = job.load_promises(s, 2026)
    (missing,) = [a for a in plan_anomalies(p.rights, p.plan_results, plan_year=2026, as_of=AS_OF)
                  if a.type in ("PLAN_MISSING", "PLAN_UNREADABLE")]
    assert (missing.type, missing.license_no) == ("PLAN_MISSING", victim.name.split("_")[0])
    assert missing.observed["unreadable_files"] == ["scan.xlsx"] and "scan.xlsx" in missing.notes_zh


def test_an_unreadable_file_of_another_year_does_not_count_for_this_one(tmp_path):
    s = sample_copy(tmp_path)
    victim = sorted(s.plans.glob("*_2026.xlsx"))[0]   # the sample has 2025 plans too
    lic = victim.name.split("_")[0]
    (s.plans / f"{lic}_2025.xlsx").write_bytes(victim.read_bytes()[:3000])
    victim.unlink()
    p = job.load_promises(s, 2026)
    types = {a.type for a in plan_anomalies(p.rights, p.plan_results, plan_year=2026, as_of=AS_OF)
             if a.license_no == lic}
    assert types == {"PLAN_MISSING"}
