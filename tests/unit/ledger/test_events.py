"""A unit's events (plan rows, acceptance records, seasons) and the lifecycle state they give."""
from __future__ import annotations

from datetime import date

from tests.support.acceptance_lists import fill_planted_ledger
from tests.support.ledger_plans import LICENCE

from minewatch.ledger.events import (
    ACCEPTANCE,
    MENTION,
    SEASON,
    format_events,
    superseded_units,
    target_land_classes,
    unit_events,
    unit_ids_by_row,
    unit_states,
)


def U(n: int) -> str:
    return f"{LICENCE}-U{n:04d}"


def _ledger(make_ledger, tmp_path):
    return fill_planted_ledger(make_ledger(), tmp_path)


def test_events_and_states(make_ledger, tmp_path):
    engine = _ledger(make_ledger, tmp_path)
    events = unit_events(engine)
    assert [(e.kind, e.year) for e in events].count((MENTION, 2027)) == 3
    u3 = [(e.kind, e.year, e.section, e.result, e.fvc) for e in events if e.unit_id == U(3)]
    assert u3 == [(MENTION, 2025, "planned", "", None), (MENTION, 2026, "restored", "", None),
                  (ACCEPTANCE, 2026, "", "合格", None), (SEASON, 2026, "", "", 0.4512)]
    assert len(events) == 14 + 3 + 1
    states = unit_states(events, date(2027, 6, 1), management_years=3)
    assert states[U(1)] == "restored"          # 2025 claims acceptance, no record: still restored
    assert states[U(2)] == "damaged"
    assert states[U(3)] == "in_management"     # accepted 2026-05-20, 管护期 3 years
    assert states[U(6)] == "planned"           # applied for, never answered: not accepted
    assert unit_states(events, date(2029, 5, 21), management_years=3)[U(3)] == "accepted"
    assert unit_ids_by_row(events)[(LICENCE, 2027, "planned", 3)] == U(9)
    assert unit_ids_by_row(events)[(LICENCE, 2026, "restored", 1)] == U(3)
    assert superseded_units(engine) == {U(4), U(5), U(8)}     # B split; C and E merged
    assert target_land_classes(events)[U(9)] == "0301"
    text = format_events([e for e in events if e.unit_id == U(3)], states, {U(3): 0.5})
    assert "管护期内 (in_management)" in text and "验收(2026)第7号" in text
    assert "植被覆盖度 FVC 0.4512  阈值 threshold 0.5000" in text and "未达标 below" in text
