"""What the ledger adds to what people receive: unit ids on anomalies, each unit's lifecycle
state and history in the one-map package, and the FVC minimum each unit's seasons are judged by.

The night reads the ledger once (:func:`read_ledger`) into a :class:`LedgerView`; everything
below is plain data from it, so the same ledger gives the same bytes.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Iterable, Mapping

import pandas as pd
from sqlalchemy import Engine

from minewatch.assess.anomaly import Anomaly
from minewatch.assess.thresholds import ThresholdTable
from minewatch.labels import UNIT_EVENT_ZH, UNIT_STATE_ZH
from minewatch.ledger.events import (
    MENTION,
    SEASON,
    UnitEvent,
    known_at,
    superseded_units,
    target_land_classes,
    unit_events,
    unit_ids_by_row,
    unit_states,
)
from minewatch.ledger.overdue import OverdueApplication, overdue_applications
from minewatch.outputs.onemap import table_frame
from minewatch.promised.models import PLANNED

__all__ = ["LedgerView", "read_ledger", "fvc_minimums", "with_unit_ids", "ledger_unit_fields",
           "unit_history_frame", "outstanding_hm2", "overdue_counts"]

RowKey = tuple[str, int, str, int]          # licence, plan year, section, 序号


@dataclass(frozen=True)
class LedgerView:
    events: list[UnitEvent] = field(default_factory=list)
    states: dict[str, str] = field(default_factory=dict)           # unit id -> lifecycle state
    unit_ids: dict[RowKey, str] = field(default_factory=dict)      # plan row -> unit id
    overdue: list[OverdueApplication] = field(default_factory=list)
    fvc_min: dict[str, float] = field(default_factory=dict)        # unit id -> FVC minimum of its target class
    superseded: frozenset[str] = frozenset()     # split or merged into later units (ledger.events)

    def unit_events_of(self, unit_id: str) -> list[UnitEvent]:
        return [e for e in self.events if e.unit_id == unit_id]


def fvc_minimums(events: Iterable[UnitEvent], thresholds: ThresholdTable,
                 county: Mapping[str, str | None]) -> dict[str, float]:
    """unit id -> the FVC minimum of its latest target land class (county's region first)."""
    events = list(events)
    lic_of = {e.unit_id: e.license_no for e in events}
    out = {}
    for uid, lc in target_land_classes(events).items():
        t = thresholds.lookup(lc, county_code=county.get(lic_of[uid]))
        if t is not None and t.measure == "fvc" and t.value is not None:
            out[uid] = t.value
    return out


def read_ledger(engine: Engine, as_of: date, *, management_years: int, working_days: int,
                holidays: Iterable[date], thresholds: ThresholdTable,
                county: Mapping[str, str | None]) -> LedgerView:
    """Everything the outputs need from the ledger as it stood at ``as_of`` (the run date)."""
    events = known_at(unit_events(engine), as_of)
    late = overdue_applications(engine, as_of, working_days=working_days, holidays=holidays)
    return LedgerView(events, unit_states(events, as_of, management_years), unit_ids_by_row(events), late,
                      fvc_minimums(events, thresholds, county), frozenset(superseded_units(engine, as_of.year)))


_EARLIER = re.compile(r"^(restored|damage|planned):(\d+)@(\d{4})")   # key of a finding on an earlier mention


def with_unit_ids(anomalies: Iterable[Anomaly], unit_ids: Mapping[RowKey, str]) -> list[Anomaly]:
    """Each anomaly about a plan row with the ledger's unit id of that row: this year's row
    (plan_year, unit_section, unit_seq), or the earlier mention its key names
    (``restored:3@2025``). Ids already set are kept."""
    out = []
    for a in anomalies:
        uid = a.unit_id
        if uid is None and a.unit_section and a.unit_seq is not None:
            m = _EARLIER.match(a.key)
            row = ((a.license_no, int(m[3]), m[1], int(m[2])) if m
                   else (a.license_no, a.plan_year, a.unit_section, a.unit_seq))
            uid = unit_ids.get(row)
        out.append(a if uid == a.unit_id else dataclasses.replace(a, unit_id=uid))
    return out


def ledger_unit_fields(view: LedgerView) -> dict[RowKey, dict]:
    """restoration_units' ledger fields per plan row: unit_id, lifecycle_state(_zh)."""
    out = {}
    for row, uid in view.unit_ids.items():
        st = view.states.get(uid)
        out[row] = {"unit_id": uid, "lifecycle_state": st, "lifecycle_state_zh": UNIT_STATE_ZH.get(st or "")}
    return out


def unit_history_frame(view: LedgerView, license_nos: Iterable[str],
                       county: Mapping[str, str | None] | None = None,
                       county_names: dict[str, str] | None = None) -> pd.DataFrame:
    """The one-map ``unit_history`` table: one row per event of the units of ``license_nos``."""
    lics = set(license_nos)
    rows = []
    for e in view.events:
        if e.license_no not in lics:
            continue
        key = f"{e.unit_id}|{e.kind}|{e.year}|{e.section}|{e.seq or ''}|{e.file}|{e.row or ''}"
        rows.append({
            "upsert_key": key, "XZQDM": (county or {}).get(e.license_no), "license_no": e.license_no,
            "unit_id": e.unit_id, "kind": e.kind, "kind_zh": UNIT_EVENT_ZH[e.kind], "year": e.year,
            "section": e.section or None, "seq": e.seq, "land_class": e.land_class or None,
            "area_hm2": None if e.area_hm2 is None else round(e.area_hm2, 4), "accepted": e.accepted,
            "applied_on": e.applied_on, "accepted_on": e.accepted_on, "result": e.result or None,
            "certificate_no": e.certificate_no or None,
            "fvc": None if e.fvc is None else round(e.fvc, 4),
            "reference_fvc": None if e.reference_fvc is None else round(e.reference_fvc, 4),
            "fvc_min": view.fvc_min.get(e.unit_id) if e.kind == SEASON else None,
            "clear_obs": e.clear_obs, "observed_to": e.observed_to, "file": e.file or None, "row": e.row,
        })
    return table_frame(rows, "unit_history", county_names=county_names)


def outstanding_hm2(view: LedgerView) -> dict[str, float]:
    """licence -> hm² of its units still damaged or planned (not restored nor accepted): the
    declared area of each such unit's latest mention (the planned row when its year has both);
    units split or merged into later ones are counted as those."""
    latest: dict[str, UnitEvent] = {}
    for e in view.events:        # time order: the last mention kept, a planned row over a damage row
        if e.kind != MENTION:
            continue
        prev = latest.get(e.unit_id)
        if prev is None or e.year > prev.year or (e.year == prev.year and e.section == PLANNED):
            latest[e.unit_id] = e
    out: dict[str, float] = {}
    for uid, e in sorted(latest.items()):
        if view.states.get(uid) in ("damaged", "planned") and uid not in view.superseded:
            out[e.license_no] = round(out.get(e.license_no, 0.0) + (e.area_hm2 or 0.0), 4)
    return out


def overdue_counts(view: LedgerView) -> dict[str, int]:
    """licence -> its acceptance applications past the working-day limit."""
    out: dict[str, int] = {}
    for o in view.overdue:
        out[o.license_no] = out.get(o.license_no, 0) + 1
    return out
