"""A county bureau's acceptance list for the planted ledger (tests.support.ledger_plans), as a real CSV.

Rows: U0003 (A, reported restored 2026) accepted 合格 on 2026-05-20; U0006 (west half of B)
applied 2026-03-02 and never answered (due 2026-05-25, or 2026-05-29 with HOLIDAYS);
U0007 applied 2026-05-20, still within the 60 working days in June 2026.
"""
from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from minewatch.ledger.acceptance import COLUMNS, import_acceptance
from minewatch.ledger.ingest import ingest_paths
from minewatch.ledger.schema import SeasonObservation
from tests.support.ledger_plans import LICENCE, write_plans

HOLIDAYS = (date(2026, 4, 6), date(2026, 5, 1), date(2026, 5, 4), date(2026, 5, 5))   # four working days
ROWS = [
    [LICENCE, f"{LICENCE}-U0003", "", "2026-03-02", "2026-05-20", "合格", "验收(2026)第7号", "6.7223"],
    [LICENCE, f"{LICENCE}-U0006", "", "2026-03-02", "", "", "", ""],
    [LICENCE, f"{LICENCE}-U0007", "", "2026-05-20", "", "", "", ""],
]


def write_acceptance_csv(path: Path, rows: list[list[str]] = ROWS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f).writerows([list(COLUMNS.values()), *rows])
    return path


def fill_planted_ledger(engine: Engine, folder: Path) -> Engine:
    """The planted plans (2025-2027) ingested, ROWS imported, one season observed on U0003
    (2026: FVC 0.4512, ring 0.6021, 7 clear dates)."""
    ingest_paths(engine, [write_plans(folder / "plans")], iou_min=0.5, related_min=0.25, area_tolerance=0.05)
    import_acceptance(engine, write_acceptance_csv(folder / "验收清单.csv"), iou_min=0.5)
    with Session(engine) as s, s.begin():
        s.add(SeasonObservation(unit_id=f"{LICENCE}-U0003", season_year=2026, fvc=0.4512, reference_fvc=0.6021,
                                clear_obs=7, observed_to=date(2026, 9, 10)))
    return engine
