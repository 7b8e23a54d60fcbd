"""The multi-year evaluation scenarios: each history rule's case beside its negative twin, both
plan years filed, every accepted claim with its record, labels keyed on the earlier mention."""
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from minewatch.ledger.acceptance import claims_without_record, import_acceptance
from minewatch.ledger.db import migrate, open_engine
from minewatch.ledger.ingest import ingest_paths
from minewatch.ledger.schema import Mention
from minewatch.promised.models import RESTORED
from minewatch.synth import scenarios as sc
from minewatch.synth.sample import HISTORY_RULES

BY_NAME = {s.name: s for s in sc.SCENARIOS}


def _season_fvc(s: sc.Scenario, rect: tuple[float, float, float, float], year: int) -> float:
    i = [x.name for x in sc.SCENARIOS].index(s.name)
    fr, peak = sc.Frame.of(i), sc._natural_peak(1000 + i)
    r, c = fr.slices(rect)
    return float(np.median([sc.ground(s, fr, date(year, m, 1), peak)[0][r, c].mean() for m in (7, 8, 9)]))


def _rect(s: sc.Scenario, key: str) -> tuple[float, float, float, float]:
    unit, _, year = key.partition("@")
    units = s.earlier if year else s.units
    return next(u.rect for u in units if f"{u.section}:{u.seq}" == unit)


def test_every_history_rule_is_labelled_with_the_contract_key() -> None:
    assert {s.name for s in sc.MULTIYEAR} <= set(BY_NAME) and sc.SCENARIOS[:len(sc.BASE)] == sc.BASE
    labels = sorted((s.name, k, t) for s in sc.MULTIYEAR for k, t in s.labels)
    assert labels == [
        ("expired_outstanding", "overdue", "RESTORATION_OVERDUE_AT_EXPIRY"),
        ("expired_outstanding", "planned:1", "RESTORATION_SHORTFALL"),
        ("omitted_accepted_degrades", "restored:1@2025", "VEGETATION_DEGRADATION"),
        ("plan_not_executed", "planned:1@2025", "PLAN_NOT_EXECUTED"),
        ("restored_land_redisturbed", "restored:1@2025", "RESTORED_LAND_REDISTURBED"),
    ]
    for s in sc.MULTIYEAR:
        assert s.needs == HISTORY_RULES and sc.plan_years(s) == (2025, 2026)
        this_year = {u.rect for u in s.units}
        for k, _ in s.labels:
            if "@" in k:     # the plan year does not list the ground the flag is about
                assert _rect(s, k) not in this_year
    assert all(s.valid_to < s.as_of for s in (BY_NAME["expired_outstanding"], BY_NAME["expired_all_restored"]))
    assert BY_NAME["expired_all_restored"].labels == ()


@pytest.mark.parametrize(("name", "flagged", "twin", "flagged_2026", "twin_2026"), [
    # accepted, omitted: abandoned to sparse grass (not bare: no vegetation *loss*) vs kept green
    ("omitted_accepted_degrades", "restored:1@2025", "restored:2@2025", (0.2, 0.26), (0.69, 0.71)),
    # a tenth dug up in May (the unit's cover falls by ~0.07, under degradation_fvc_drop) vs kept green
    ("restored_land_redisturbed", "restored:1@2025", "restored:2@2025", (0.62, 0.64), (0.69, 0.71)),
    # planned last year: still bare vs reported restored (green) vs planned again and recovering
    ("plan_not_executed", "planned:1@2025", "planned:2@2025", (0.0, 0.03), (0.69, 0.71)),
    # expired: a planned unit still bare vs restored
    ("expired_outstanding", "planned:1", "restored:1", (0.0, 0.03), (0.69, 0.71)),
])
def test_the_ground_is_what_the_labels_say(name: str, flagged: str, twin: str, flagged_2026: tuple[float, float],
                                          twin_2026: tuple[float, float]) -> None:
    s = BY_NAME[name]
    lo, hi = flagged_2026
    assert lo <= _season_fvc(s, _rect(s, flagged), 2026) <= hi
    lo, hi = twin_2026
    assert lo <= _season_fvc(s, _rect(s, twin), 2026) <= hi
    if name != "plan_not_executed" and "@" in flagged:      # green at acceptance, the season before
        assert _season_fvc(s, _rect(s, flagged), 2025) == pytest.approx(0.70, abs=0.01)
    if name == "restored_land_redisturbed":                  # the strip itself is bare
        assert _season_fvc(s, sc.CUT, 2026) == pytest.approx(0.02)


def test_written_multiyear_scenario_files_both_years_and_its_acceptance_list(tmp_path: Path) -> None:
    s = BY_NAME["omitted_accepted_degrades"]
    root = sc.write_scenarios(tmp_path, (s,))
    i = [x.name for x in sc.SCENARIOS].index(s.name)
    lic = sc.license_no(i)
    assert sorted(p.name for p in (root / "plans").iterdir()) == [f"{lic}_2025.xlsx", f"{lic}_2026.xlsx"]
    [spec] = yaml.safe_load((root / "labels.yaml").read_text(encoding="utf-8"))["scenarios"]
    assert spec["plan_years"] == [2025, 2026] and spec["needs"] == HISTORY_RULES
    assert spec["labels"] == [{"unit": "restored:1@2025", "type": "VEGETATION_DEGRADATION"}]
    # the ledger ties the plan years together and every accepted claim to a 合格 record
    e = open_engine(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    migrate(e)
    ing = ingest_paths(e, [root / "plans"], iou_min=0.5, related_min=0.25, area_tolerance=0.05)
    acc = import_acceptance(e, root / "acceptance.csv", iou_min=0.5)
    assert ing.findings == [] and acc.findings == [] and claims_without_record(e) == []
    assert len(acc.records) == 3          # two accepted in the 2025 plan, one in 2026's
    with Session(e) as db:
        ms = {(m.plan_year, m.section, m.seq): m.unit_id for m in db.scalars(select(Mention))}
    e.dispose()
    assert ms[(2026, RESTORED, 1)] == ms[(2025, "planned", 1)]          # planned, then reported restored
    degraded = ms[(2025, RESTORED, 1)]
    assert [k for k, u in ms.items() if u == degraded] == [(2025, RESTORED, 1)]   # omitted in 2026
    assert degraded in {r.unit_id for r in acc.records}
