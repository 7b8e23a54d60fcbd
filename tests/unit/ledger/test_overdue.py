"""Acceptance applications past the 60 working days: counted Mon-Fri minus the configured holidays."""
from __future__ import annotations

from datetime import date

from tests.support.acceptance_lists import HOLIDAYS, write_acceptance_csv
from tests.support.ledger_plans import LICENCE, write_plans

from minewatch.ledger.acceptance import import_acceptance
from minewatch.ledger.ingest import ingest_paths
from minewatch.ledger.overdue import due_date, format_overdue, overdue_applications, working_days_after


def test_working_days_skip_weekends_and_holidays():
    # Monday 2 March 2026: twelve weeks of five working days from Tuesday 3 March end on Monday 25 May
    assert due_date(date(2026, 3, 2), 60) == date(2026, 5, 25)
    assert due_date(date(2026, 3, 2), 60, HOLIDAYS) == date(2026, 5, 29)       # four holidays: four days later
    assert working_days_after(date(2026, 3, 2), date(2026, 5, 25)) == 60
    assert working_days_after(date(2026, 3, 6), date(2026, 3, 9)) == 1        # Friday to Monday
    assert working_days_after(date(2026, 4, 3), date(2026, 4, 6), HOLIDAYS) == 0


def test_overdue_applications_from_the_ledger(make_ledger, tmp_path):
    engine = make_ledger()
    ingest_paths(engine, [write_plans(tmp_path / "plans")], iou_min=0.5, related_min=0.25, area_tolerance=0.05)
    import_acceptance(engine, write_acceptance_csv(tmp_path / "验收清单.csv"), iou_min=0.5)
    assert overdue_applications(engine, date(2026, 5, 29), working_days=60, holidays=HOLIDAYS) == []
    late = overdue_applications(engine, date(2026, 6, 1), working_days=60, holidays=HOLIDAYS)
    # U0003 was accepted, U0007 applied on 20 May: only U0006, 61 working days after 2 March
    assert [(o.unit_id, o.applied_on, o.due_on, o.working_days, o.row) for o in late] == [
        (f"{LICENCE}-U0006", date(2026, 3, 2), date(2026, 5, 29), 61, 3)]
    assert len(overdue_applications(engine, date(2026, 6, 1), working_days=60)) == 1   # no holidays: still late
    text = format_overdue(late, date(2026, 6, 1), 60)
    assert "逾期未验收" in text and f"{LICENCE}-U0006" in text and "已过 61 个工作日" in text
