"""Per-mine series store: append-only Parquet keyed by (unit, scene id).

A nightly run asks which scenes a mine already has and processes only the others; a
scene processed again (reprocessed by the provider, or after a config change) replaces
its rows instead of duplicating them. Files are rewritten atomically, rows sorted, so
the same content gives the same bytes.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from minewatch.plumbing.atomic import atomic_path

KEY = ["unit", "item_id"]


class SeriesStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, license_no: str) -> Path:
        return self.root / f"{license_no}.parquet"

    def read(self, license_no: str) -> pd.DataFrame | None:
        p = self.path(license_no)
        return pd.read_parquet(p) if p.exists() else None

    def scenes(self, license_no: str) -> set[str]:
        df = self.read(license_no)
        return set() if df is None else set(df.item_id.unique())

    def upsert(self, license_no: str, rows: pd.DataFrame) -> pd.DataFrame:
        """Replace rows of the scenes in `rows`, keep the rest; returns the stored table."""
        old = self.read(license_no)
        if old is not None:
            old = old[~old.item_id.isin(set(rows.item_id))]
            rows = pd.concat([old, rows], ignore_index=True)
        rows = rows.sort_values(["unit", "datetime", "item_id"]).reset_index(drop=True)
        with atomic_path(self.path(license_no)) as tmp:
            rows.to_parquet(tmp, index=False)
        return rows
