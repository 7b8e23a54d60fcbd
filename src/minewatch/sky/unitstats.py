"""Per-unit per-step statistics kept beside the pixel store: a night computes them only for new steps.

One Parquet table per mine at `<root>/<licence>.parquet` (any fsspec URL; by default
`OUT/state/unitstats`): the rows of `series.stats_frame` (one per unit and step) plus the
step's `fingerprint` (`pixels.Step`: changes when any of its scenes does). The file's
metadata holds the key the rows were computed under: `stats_key` of the unit masks (their
keys and pixels) and of the settings that shape the statistics (the caller names them: SCL
classes masked, dilation, cloud probability limit, FVC end-members...). `update` takes the
rows of the steps stored under the same key and fingerprint, asks `compute` for the other
steps only, and writes the table back with exactly the rows of the steps asked for (steps
no longer searched drop out), whole or not at all (`plumbing.atomic.put_bytes`). A new key
(the plan's units changed, a setting did) recomputes every step; a damaged table too.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import xarray as xr

from minewatch.plumbing.atomic import put_bytes
from minewatch.sky.pixels import Step

log = logging.getLogger("minewatch")

KEY_FIELD = b"minewatch_stats_key"


def stats_key(masks: xr.DataArray, settings: Mapping[str, Any]) -> str:
    """What a mine's per-unit statistics depend on besides the steps: the unit masks (keys and
    pixels) and the settings that shape them (JSON-able values)."""
    h = hashlib.sha256()
    h.update(json.dumps([str(u) for u in masks.unit.values]).encode())
    h.update(np.ascontiguousarray(masks.values, dtype=bool).tobytes())
    h.update(str(masks.shape).encode())
    h.update(json.dumps(dict(settings), sort_keys=True, default=str).encode())
    return h.hexdigest()[:32]


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows by unit, then date, then id: `series.stats_frame`'s order."""
    order = np.lexsort((frame["item_id"].astype(str).to_numpy(), frame["datetime"].to_numpy(),
                        frame["unit"].astype(str).to_numpy()))
    return frame.iloc[order].reset_index(drop=True)


class UnitStatsStore:
    def __init__(self, root: str | Path, *, storage_options: Mapping[str, Any] | None = None) -> None:
        self.root = str(root).rstrip("/")
        self.fs, self._root = fsspec.core.url_to_fs(self.root, **dict(storage_options or {}))

    def url(self, license_no: str) -> str:
        return f"{self.root}/{license_no}.parquet"

    def _path(self, license_no: str) -> str:
        return f"{self._root}/{license_no}.parquet"

    def load(self, license_no: str, key: str) -> pd.DataFrame | None:
        """The stored rows if they were computed under `key`; None if absent, another key or unreadable."""
        try:
            table = pq.read_table(io.BytesIO(self.fs.cat_file(self._path(license_no))))
        except FileNotFoundError:
            return None
        except Exception as e:  # noqa: BLE001 - a damaged table is computed again, never fatal
            log.warning("mine %s: unit statistics table unreadable (%s), computed again", license_no, e)
            return None
        if (table.schema.metadata or {}).get(KEY_FIELD, b"").decode() != key:
            return None
        return table.to_pandas()

    def update(self, license_no: str, key: str, steps: Sequence[Step],
               compute: Callable[[list[Step]], pd.DataFrame]) -> tuple[pd.DataFrame, list[str]]:
        """The statistics of `steps` (a `series.stats_frame` with a `fingerprint` column) and the
        keys of the steps computed now. `compute(steps)` gives `series.stats_frame` of those steps
        (its `item_id` is the step's id)."""
        old = self.load(license_no, key)
        prints = {st.id: st.fingerprint for st in steps}
        keep = pd.DataFrame()
        if old is not None:
            ok = old["item_id"].map(prints).eq(old["fingerprint"])
            keep = old[ok.to_numpy()]
        have = set(keep["item_id"]) if len(keep) else set()
        todo = [st for st in steps if st.id not in have]
        parts = [keep] if len(keep) else []
        if todo:
            new = compute(todo)
            parts.append(new.assign(fingerprint=new["item_id"].map(prints)))
        frame = _sorted(pd.concat(parts, ignore_index=True)) if parts else pd.DataFrame()
        table = pa.Table.from_pandas(frame, preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), KEY_FIELD: key.encode()})
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="zstd")
        put_bytes(self.fs, self._path(license_no), buf.getvalue())
        return frame, [st.key for st in todo]
