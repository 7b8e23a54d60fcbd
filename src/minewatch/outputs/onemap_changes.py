"""The one-map package's ``changes`` table: what is new, updated or resolved since the previous night.

The platform merges each layer on ``upsert_key``; this table tells it which rows moved, so it can
notify or audit without diffing the layers itself. Both nights are compared as they were
written (each layer read back from its GeoPackage), so types and rounding are the file's:

- a feature is *active* when it is in the layer and, for anomalies, its lifecycle status is not
  ``resolved`` (the lifecycle carries a finding no longer reported once, as ``resolved``);
- ``new``: active tonight, not active the previous night (first seen, or back after resolved);
- ``updated``: active both nights with any attribute or the outline changed; the lifecycle's own
  bookkeeping (``status`` new→ongoing, ``first_seen``, ``last_seen``) is not a change, the
  row order (``fid``) neither. ``changed_fields`` lists the fields, comma-separated;
- ``resolved``: active the previous night, not tonight (for units and mines: the plan row or
  the right left the package).

The first night (no previous package) reports every active feature as ``new``. Rows are sorted
by (layer order, upsert_key), so the table's bytes follow from the two nights alone.

`index_keys` puts a UNIQUE index on each table's merge key inside the package: GDAL then reports
the key field as UNIQUE, which ``ogr2ogr -upsert -unsetFid`` needs to merge a night into a
GeoPackage copy, and no night can write two rows with one key.
"""
from __future__ import annotations

import math
import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import closing
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
from shapely.geometry.base import BaseGeometry

from minewatch.labels import CHANGE_ZH

__all__ = ["BOOKKEEPING", "KEY_FIELDS", "NEW", "RESOLVED", "UNIQUE_KEYS", "UPDATED", "changes", "index_keys",
           "read_layers"]

NEW, UPDATED, RESOLVED = "new", "updated", "resolved"
# what each layer's upsert_key is made of, as the changes table's columns -> the layer's field
KEY_FIELDS: dict[str, dict[str, str]] = {
    "anomalies": {"anomaly_id": "id", "license_no": "license_no", "plan_year": "plan_year"},
    "restoration_units": {"license_no": "license_no", "plan_year": "plan_year", "section": "section", "seq": "seq"},
    "mines": {"license_no": "license_no"},
}
BOOKKEEPING = frozenset({"fid", "status", "first_seen", "last_seen"})
# the merge key of every table in the package: the layers' upsert_key; the changes log's night + feature
UNIQUE_KEYS: dict[str, tuple[str, ...]] = {**{layer: ("upsert_key",) for layer in KEY_FIELDS},
                                           "changes": ("night", "layer", "upsert_key")}


def index_keys(gpkg: Path, keys: Mapping[str, Sequence[str]] = UNIQUE_KEYS) -> None:
    """A UNIQUE index per table on its merge key (sqlite3.IntegrityError if a key is repeated)."""
    with closing(sqlite3.connect(gpkg)) as c, c:
        for table, cols in keys.items():
            columns = ", ".join(f'"{col}"' for col in cols)
            c.execute(f'CREATE UNIQUE INDEX "{table}_merge_key" ON "{table}" ({columns})')


def read_layers(path: Path, layers: Sequence[str]) -> dict[str, pd.DataFrame]:
    """The feature layers of a package as written; a layer the file lacks reads as empty."""
    have = {name for name, _ in pyogrio.list_layers(path)}
    return {name: (pyogrio.read_dataframe(path, layer=name) if name in have else pd.DataFrame())
            for name in layers}


def _canon(v: object) -> object:
    """One comparable value per cell, whatever dtype pandas read it as."""
    if isinstance(v, BaseGeometry):
        return v.normalize().wkb_hex
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, (datetime, pd.Timestamp)):
        return v.date().isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return round(float(v), 6)
    return str(v)


def _records(df: pd.DataFrame) -> dict[str, dict[str, object]]:
    if df.empty or "upsert_key" not in df.columns:     # a package from before the platform keys: no rows
        return {}
    cols = [c for c in df.columns if c not in BOOKKEEPING or c == "status"]
    return {str(r["upsert_key"]): {c: _canon(r[c]) for c in cols} for r in df.to_dict("records")}


def _active(rec: dict[str, object]) -> bool:
    return rec.get("status") != RESOLVED


def changes(tonight: Mapping[str, pd.DataFrame], previous: Mapping[str, pd.DataFrame] | None,
            night: date, previous_night: date | None) -> list[dict[str, object]]:
    """The changes table's rows, layer by layer in `tonight`'s order (see the module doc)."""
    rows: list[dict[str, object]] = []
    for layer, df in tonight.items():
        now = {k: r for k, r in _records(df).items() if _active(r)}
        before = {k: r for k, r in _records((previous or {}).get(layer, pd.DataFrame())).items() if _active(r)}
        for key in sorted(now.keys() | before.keys()):
            a, b = now.get(key), before.get(key)
            changed: list[str] = []
            if a is not None and b is None:
                kind, rec = NEW, a
            elif a is None and b is not None:
                kind, rec = RESOLVED, b
            elif a is not None and b is not None:
                changed = sorted(c for c in a.keys() & b.keys() if c not in BOOKKEEPING and a[c] != b[c])
                if not changed:
                    continue
                kind, rec = UPDATED, a
            else:   # unreachable: the key came from one of the two
                continue
            rows.append({"layer": layer, "BSM": rec.get("BSM"), "upsert_key": key,
                         **{col: rec.get(field) for col, field in KEY_FIELDS.get(layer, {}).items()},
                         "status": kind, "status_zh": CHANGE_ZH[kind], "changed_fields": ",".join(changed) or None,
                         "night": night, "previous_night": previous_night})
    return rows
