"""A county bureau's acceptance list for the planted ledger (tests.support.ledger_plans), as a real CSV.

Rows: U0003 (A, reported restored 2026) accepted 合格 on 2026-05-20; U0006 (west half of B)
applied 2026-03-02 and never answered (due 2026-05-25, or 2026-05-29 with HOLIDAYS);
U0007 applied 2026-05-20, still within the 60 working days in June 2026.
"""
from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from minewatch.ledger.acceptance import COLUMNS
from tests.support.ledger_plans import LICENCE

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
