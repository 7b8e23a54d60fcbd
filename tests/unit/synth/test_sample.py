"""The bundled sample's two plan years: written deterministically, consistent across years as
the ledger sees them, and with the cross-year cases planted on the ground they claim."""
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import yaml
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from tests.support.paths import REPO

from minewatch.config import load_settings
from minewatch.ledger.acceptance import AcceptanceReport, claims_without_record, import_acceptance
from minewatch.ledger.db import migrate, open_engine
from minewatch.ledger.ingest import IngestReport, ingest_paths
from minewatch.ledger.schema import AcceptanceRecord, LedgerUnit, Mention
from minewatch.promised.models import DAMAGE, PLANNED, RESTORED
from minewatch.synth import sample

SAMPLE = REPO / "sample_scenes"
PROMISE_FILES = ["acceptance.csv", "registry.csv", "truths.yaml"] + sorted(
    f"plans/{m.license_no}_{y}.xlsx" for m in sample.MINES for y in (2025, 2026))


def test_promises_are_the_generators_bytes_and_committed(tmp_path: Path) -> None:
    sample.write_promises(tmp_path / "a")
    sample.write_promises(tmp_path / "b")
    for name in PROMISE_FILES:
        a = (tmp_path / "a" / name).read_bytes()
        assert a == (tmp_path / "b" / name).read_bytes(), name
        assert a == (SAMPLE / name).read_bytes(), f"sample_scenes/{name} is stale: run `minewatch sample --promises`"
    assert sorted(p.name for p in (tmp_path / "a" / "plans").iterdir()) == [Path(n).name for n in PROMISE_FILES[3:]]


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, IngestReport, AcceptanceReport]]:
    """The sample's plans of both years and its acceptance list in a SQLite ledger."""
    s = load_settings(REPO / "configs" / "sample.yaml")
    e = open_engine(f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'ledger.sqlite'}")
    migrate(e)
    ing = ingest_paths(e, [SAMPLE / "plans"], iou_min=s.ledger.iou_min, related_min=s.ledger.related_min,
                       area_tolerance=s.plan.area_tolerance)
    acc = import_acceptance(e, SAMPLE / "acceptance.csv", iou_min=s.ledger.iou_min)
    yield e, ing, acc
    e.dispose()


def _mentions(engine: Engine) -> dict[tuple[str, int, str, int], Mention]:
    """Every plan row in the ledger by (licence, year, section, 序号)."""
    with Session(engine) as s:
        q = select(Mention, LedgerUnit.license_no).join(LedgerUnit, LedgerUnit.unit_id == Mention.unit_id)
        return {(lic, m.plan_year, m.section, m.seq): m for m, lic in s.execute(q)}


def test_both_years_ingest_cleanly_and_every_claim_has_its_record(ledger: tuple) -> None:
    e, ing, acc = ledger
    assert len(ing.added) == 6 and ing.findings == [] and acc.findings == []
    assert claims_without_record(e) == []
    # one 合格 record per accepted claim: 2 in mine 1's 2025 plan, 3 in the 2026 plans
    assert [(r.license_no[-1], r.accepted_on.year, r.result) for r in acc.records] == \
        [("1", 2025, "合格")] * 3 + [("2", 2025, "合格"), ("3", 2025, "合格")]
    assert all(r.unit_id for r in acc.records)


def test_what_2026_reports_restored_was_planned_in_2025_on_the_same_ground(ledger: tuple) -> None:
    e, _, _ = ledger
    ms = _mentions(e)
    for m in sample.MINES:
        for u in m.units:
            now = ms[(m.license_no, 2026, u.section, u.seq)]
            if u.section == RESTORED:
                before = [b for (lic, y, sec, _), b in ms.items()
                          if lic == m.license_no and y == 2025 and sec == PLANNED and b.unit_id == now.unit_id]
                assert len(before) == 1 and before[0].land_class == now.land_class, (m.license_no, u.seq)
                assert before[0].area_hm2 == now.area_hm2
            elif u.section == DAMAGE:
                assert ms[(m.license_no, 2025, u.section, u.seq)].unit_id == now.unit_id
            else:   # this year's planned ground is new in 2026
                only = [(m.license_no, 2026, u.section, u.seq)]
                assert [k for k, b in ms.items() if b.unit_id == now.unit_id] == only


def _only_in_2025(ms: dict, lic: str, key: str) -> Mention:
    """The 2025 mention behind a cross-year key ("restored:1@2025"), checked to be its unit's only one."""
    unit, year = key.split("@")
    section, seq = unit.split(":")
    m = ms[(lic, int(year), section, int(seq))]
    assert [k for k, b in ms.items() if b.unit_id == m.unit_id] == [(lic, 2025, section, int(seq))]
    return m


def test_cross_year_truths_rest_on_a_2025_mention_the_2026_plan_omits(ledger: tuple) -> None:
    e, _, acc = ledger
    ms = _mentions(e)
    truths = yaml.safe_load((SAMPLE / "truths.yaml").read_text(encoding="utf-8"))
    cross = [t for t in truths["anomalies"] if "@" in t.get("key", "")]
    assert sorted((t["type"], t["key"]) for t in cross) == [("PLAN_NOT_EXECUTED", "planned:3@2025"),
                                                           ("VEGETATION_DEGRADATION", "restored:1@2025")]
    twins = [p for p in truths["passing_units"] if "@" in p["key"]] + truths["not_flagged"]
    assert [p["key"] for p in twins] == ["restored:2@2025", "planned:2@2025"]
    accepted = {r.unit_id: r for r in acc.records}
    for t in cross + twins[:1]:
        assert t["needs"] == sample.HISTORY_RULES
        m = _only_in_2025(ms, t["license_no"], t["key"])
        if m.section == RESTORED:    # accepted in 2025 with a record, within the 3-year 管护期
            assert m.accepted is True
            rec: AcceptanceRecord = accepted[m.unit_id]
            assert rec.accepted_on == date(2025, 3, 10) and rec.certificate_no
    # the PLAN_NOT_EXECUTED twin: planned in 2025, reported restored (and accepted) in 2026
    lic = twins[1]["license_no"]
    planned = ms[(lic, 2025, PLANNED, 2)]
    assert ms[(lic, 2026, RESTORED, 2)].unit_id == planned.unit_id and planned.unit_id in accepted


def _season_fvc(m: sample.MineDef, rect: tuple[float, float, float, float], year: int) -> float:
    nat = sample._natural_peak(m)
    sl = sample.MineFrame.of(m).pixel_slices(rect)
    days = [date(year, 7, 1), date(year, 8, 1), date(year, 9, 1)]
    return float(np.median([sample.ground(m, d, nat)[0][sl].mean() for d in days]))


def test_the_planted_ground_is_what_the_truths_say() -> None:
    m1, m2 = sample.MINES[:2]
    degraded, green = (u.rect for u in m1.earlier_only)
    assert _season_fvc(m1, degraded, 2025) == pytest.approx(0.70, abs=0.01)
    # abandoned, not stripped: sparse grass well below its cover at acceptance but not bare
    assert 0.2 <= _season_fvc(m1, degraded, 2026) <= 0.26
    assert _season_fvc(m1, green, 2026) == pytest.approx(0.70, abs=0.01)
    [not_done] = m2.earlier_only
    assert _season_fvc(m2, not_done.rect, 2025) == _season_fvc(m2, not_done.rect, 2026) == pytest.approx(0.02)
