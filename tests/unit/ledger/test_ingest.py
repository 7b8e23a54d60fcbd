"""Three years of plans into the ledger: ids across years, findings, idempotence, rebuild, both backends."""
from __future__ import annotations

import shutil
from dataclasses import replace

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tests.support.ledger_plans import LICENCE, plans, write_plans

from minewatch.ledger.db import open_engine
from minewatch.ledger.ingest import ingest_paths
from minewatch.ledger.schema import Mention
from minewatch.ledger.timeline import dump, format_timeline, timeline
from minewatch.promised.planwriter import write_plan_xlsx

KW = dict(iou_min=0.5, related_min=0.25, area_tolerance=0.05)


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory):
    return write_plans(tmp_path_factory.mktemp("plans"))


def _id(n: int) -> str:
    return f"{LICENCE}-U{n:04d}"


def test_units_across_three_years(make_ledger, plan_dir):
    engine = make_ledger()
    rep = ingest_paths(engine, [plan_dir], **KW)
    assert [a.split()[1] for a in rep.added] == ["2025", "2026", "2027"]
    got = [(t.plan_year, t.section, t.seq, t.unit_id, t.method, t.iou, t.candidates) for t in timeline(engine, LICENCE)]
    assert sorted(got) == sorted([
        (2025, "restored", 1, _id(1), "new", None, ""),
        (2025, "damage", 1, _id(2), "new", None, ""),
        (2025, "planned", 1, _id(3), "new", None, ""),
        (2025, "planned", 2, _id(4), "new", None, ""),
        (2025, "planned", 3, _id(5), "new", None, ""),
        (2026, "restored", 1, _id(3), "iou", 0.8766, ""),   # A carried out, surveyed 20 m east (filed coordinates)
        (2026, "damage", 1, _id(2), "iou", 1.0, ""),
        (2026, "planned", 1, _id(5), "iou", 1.0, ""),               # C re-numbered 3 -> 1
        (2026, "planned", 2, _id(6), "split", 0.5, _id(4)),         # B split: new ids, parent named
        (2026, "planned", 3, _id(7), "split", 0.5, _id(4)),
        (2026, "planned", 4, _id(8), "new", None, ""),              # E next to C (touching, no overlap)
        (2027, "planned", 1, _id(6), "iou", 1.0, ""),               # the halves listed again keep their ids
        (2027, "planned", 2, _id(7), "iou", 1.0, ""),
        (2027, "planned", 3, _id(9), "merge", 0.5, f"{_id(5)},{_id(8)}"),   # C and E merged
    ])
    assert [(f.rule, f.row is not None, f.severity) for f in rep.findings] == [
        ("LEDGER_UNIT_SPLIT", True, "warning"), ("LEDGER_UNIT_SPLIT", True, "warning"),
        ("LEDGER_UNITS_MERGED", True, "warning")]
    assert _id(4) in rep.findings[0].message_zh and "拆分" in rep.findings[0].message_zh


def test_reingest_adds_nothing_and_rebuild_is_identical(make_ledger, plan_dir):
    engine = make_ledger()
    ingest_paths(engine, [plan_dir], **KW)
    first = dump(engine)
    again = ingest_paths(engine, [plan_dir], **KW)
    assert (again.added, len(again.skipped), again.findings) == ([], 3, [])
    assert dump(engine) == first
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Mention)) == 14
    rebuilt = ingest_paths(engine, [plan_dir], rebuild=True, **KW)
    assert len(rebuilt.added) == 3 and dump(engine) == first
    fresh = make_ledger()
    ingest_paths(fresh, [plan_dir], **KW)
    assert dump(fresh) == first


def test_both_backends_hold_the_same_ledger(make_ledger, plan_dir, tmp_path):
    engine = make_ledger()
    ingest_paths(engine, [plan_dir], **KW)
    sqlite = open_engine(f"sqlite:///{tmp_path / 'ref.sqlite'}")
    ingest_paths(sqlite, [plan_dir], **KW)
    assert dump(engine) == dump(sqlite)
    sqlite.dispose()


def test_changed_or_late_filings_are_refused_with_a_finding(make_ledger, plan_dir, tmp_path):
    engine = make_ledger()
    late = tmp_path / "late"
    late.mkdir()
    shutil.copy(plan_dir / f"{LICENCE}_2026.xlsx", late)
    ingest_paths(engine, [late], **KW)
    before = dump(engine)
    rep = ingest_paths(engine, [plan_dir / f"{LICENCE}_2025.xlsx"], **KW)
    assert [f.rule for f in rep.findings] == ["LEDGER_PLAN_OUT_OF_ORDER"] and rep.added == []
    y2026 = plans()[1]
    changed = tmp_path / "changed"
    changed.mkdir()
    write_plan_xlsx(y2026.__class__(**{**y2026.__dict__, "contact_name": "李四"}), changed / "revised_2026.xlsx")
    rep = ingest_paths(engine, [changed], **KW)
    assert [f.rule for f in rep.findings] == ["LEDGER_PLAN_CHANGED"] and "--rebuild" in rep.findings[0].message_zh
    assert dump(engine) == before


def test_timeline_text(make_ledger, plan_dir):
    engine = make_ledger()
    ingest_paths(engine, [plan_dir], **KW)
    text = format_timeline(LICENCE, timeline(engine, LICENCE))
    assert text.splitlines()[0] == f"采矿权 {LICENCE}: 9 个单元 units, 14 条计划记录 plan rows"
    assert ("  2026年度 上年度已修复 (restored) 第1号  地类 0404  面积 " in text
            and "完成验收 是  按位置匹配往年单元 (iou, IoU 0.8766)" in text)
    assert f"疑似合并（新编号，待人工确认） (merge, IoU 0.5000, 候选 candidates {_id(5)},{_id(8)})" in text
    assert format_timeline("C0", []).startswith("台账中无采矿权 C0")


def test_a_plan_with_a_seq_twice_is_refused_and_the_rest_goes_in(make_ledger, plan_dir, tmp_path):
    """Two rows numbered 本年度计划第2号 name no one unit: that filing is left out with a finding
    that says which 序号, and the other years still go in."""
    y2025, y2026, _ = plans()
    twice = tuple(replace(u, seq=2) if u.seq == 3 and u.section == "planned" else u for u in y2026.units)
    folder = tmp_path / "dup"
    folder.mkdir()
    write_plan_xlsx(y2026.__class__(**{**y2026.__dict__, "units": twice}), folder / "dup_2026.xlsx")
    write_plan_xlsx(y2025, folder / "ok_2025.xlsx")
    engine = make_ledger()
    rep = ingest_paths(engine, [folder], **KW)
    assert [f.rule for f in rep.findings] == ["LEDGER_DUPLICATE_SEQ"]
    assert "本年度计划第2号" in rep.findings[0].message_zh and rep.findings[0].file == "dup_2026.xlsx"
    assert rep.added == [f"{LICENCE} 2025 ok_2025.xlsx"]
