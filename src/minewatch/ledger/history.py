"""A mine's history as plain data: what the rules that need earlier years read.

`mine_histories` reads the ledger once per night into one `MineHistory` per mining right:
every unit with every plan row that mentions it, its acceptance records (验收) and the
season observations stored for it. The snapshot is picklable (frozen dataclasses, shapely
geometries in EPSG:4490), so it travels with a mine to a worker and into `job.result_key`:
a new filing or acceptance record changes it, and the mine is judged again.

`record_seasons` writes one night's season observations back (one row per unit and season
year: a rerun replaces, never duplicates).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Iterable

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from minewatch.ledger.schema import (
    AcceptanceRecord,
    LedgerUnit,
    MatchRecord,
    Mention,
    PlanFiling,
    SeasonObservation,
)
from minewatch.promised.models import RESTORED, SECTIONS

__all__ = ["MentionRecord", "AcceptanceEntry", "SeasonRecord", "UnitHistory", "MineHistory", "mine_histories",
           "SeasonRow", "record_seasons", "PASSED"]

PASSED = "合格"


@dataclass(frozen=True)
class MentionRecord:
    """One plan row about a unit, as the ledger holds it."""
    year: int
    section: str                    # restored | damage | planned
    seq: int
    land_class: str
    area_hm2: float | None
    quality: str
    is_temporary: bool
    accepted: bool | None           # 是否完成验收
    geometry: BaseGeometry          # EPSG:4490
    file: str
    row: int | None
    method: str                     # how the ledger tied it to the unit (ledger.matching.METHODS)
    candidates: tuple[str, ...]     # other units it overlaps (a split's parent, a merge's members)

    @property
    def key(self) -> str:
        """The anomaly key of a finding resting on this row when the current plan omits it."""
        return f"{self.section}:{self.seq}@{self.year}"


@dataclass(frozen=True)
class AcceptanceEntry:
    """One row of the bureau's acceptance list for the unit."""
    applied_on: date | None
    accepted_on: date | None
    result: str                     # 合格 | 不合格
    certificate_no: str
    area_hm2: float | None
    file: str
    row: int


@dataclass(frozen=True)
class SeasonRecord:
    """A season's observation stored for the unit."""
    season_year: int
    fvc: float | None
    reference_fvc: float | None
    clear_obs: int
    observed_to: date | None


@dataclass(frozen=True)
class UnitHistory:
    unit_id: str                    # 标识码
    first_year: int
    mentions: tuple[MentionRecord, ...]          # year, table order
    acceptances: tuple[AcceptanceEntry, ...] = ()
    seasons: tuple[SeasonRecord, ...] = ()

    def in_year(self, year: int) -> tuple[MentionRecord, ...]:
        return tuple(m for m in self.mentions if m.year == year)

    def before(self, year: int) -> tuple[MentionRecord, ...]:
        return tuple(m for m in self.mentions if m.year < year)

    def acceptance(self, before_year: int) -> tuple[int, MentionRecord | None] | None:
        """(year of acceptance, the restored row that claims it) for an acceptance before
        ``before_year``: a 合格 record's date, else a plan's 是否完成验收 = 是 (a plan of year Y
        reports the works of Y-1, so the unit counts as accepted in Y-1). None: not accepted."""
        claims = [m for m in self.mentions if m.section == RESTORED and m.accepted and m.year - 1 < before_year]
        claim = claims[-1] if claims else None
        passed = sorted(a.accepted_on for a in self.acceptances if a.result == PASSED and a.accepted_on is not None
                        and a.accepted_on.year < before_year)
        if passed:
            return passed[0].year, claim
        if claim is not None:
            return min(m.year for m in claims) - 1, claim
        return None

    def season(self, year: int) -> SeasonRecord | None:
        return next((o for o in self.seasons if o.season_year == year), None)


@dataclass(frozen=True)
class MineHistory:
    license_no: str
    units: tuple[UnitHistory, ...]               # id order
    years: tuple[int, ...] = ()                  # plan years in the ledger, ascending

    def unit(self, unit_id: str) -> UnitHistory | None:
        return next((u for u in self.units if u.unit_id == unit_id), None)

    def unit_of(self, year: int, section: str, seq: int) -> str | None:
        """The 标识码 of the unit a plan row (year, section, 序号) was tied to."""
        return self.lookup().get((year, section, seq))

    def lookup(self) -> dict[tuple[int, str, int], str]:
        """(year, section, seq) -> unit id, over every mention."""
        return {(m.year, m.section, m.seq): u.unit_id for u in self.units for m in u.mentions}

    def cache_part(self, plan_year: int) -> tuple:
        """What a mine's result depends on: mentions and acceptances, and the seasons stored
        for years before ``plan_year`` (this season's own row is written by the night itself,
        so it must not change the key of a rerun)."""
        return tuple((u.unit_id, u.first_year, u.mentions, u.acceptances,
                      tuple(o for o in u.seasons if o.season_year < plan_year)) for u in self.units)


def _order(m: Mention) -> tuple[int, int, int]:
    return m.plan_year, SECTIONS.index(m.section), m.seq


def mine_histories(engine: Engine, licences: Iterable[str] | None = None) -> dict[str, MineHistory]:
    """Every mining right in the ledger (or those of ``licences``) as a `MineHistory`."""
    want = None if licences is None else set(licences)
    with Session(engine) as s:
        units = [u for u in s.scalars(select(LedgerUnit).order_by(LedgerUnit.unit_id))
                 if want is None or u.license_no in want]
        q = (select(Mention, MatchRecord, PlanFiling).join(MatchRecord, MatchRecord.mention_id == Mention.id)
             .join(PlanFiling, PlanFiling.id == Mention.filing_id))
        mentions: dict[str, list[tuple[Mention, MatchRecord, PlanFiling]]] = {}
        years: dict[str, set[int]] = {}
        for m, r, f in s.execute(q):
            mentions.setdefault(m.unit_id, []).append((m, r, f))
        for f in s.scalars(select(PlanFiling)):
            years.setdefault(f.license_no, set()).add(f.plan_year)
        acc: dict[str, list[AcceptanceRecord]] = {}
        for a in s.scalars(select(AcceptanceRecord).where(AcceptanceRecord.unit_id.is_not(None))):
            acc.setdefault(a.unit_id or "", []).append(a)
        seasons: dict[str, list[SeasonObservation]] = {}
        for o in s.scalars(select(SeasonObservation)):
            seasons.setdefault(o.unit_id, []).append(o)

        out: dict[str, list[UnitHistory]] = {}
        for u in units:
            ms = sorted(mentions.get(u.unit_id, []), key=lambda t: _order(t[0]))
            if not ms:
                continue    # a unit a rebuild no longer gives any row: nothing to judge it on
            recs = tuple(MentionRecord(
                year=m.plan_year, section=m.section, seq=m.seq, land_class=m.land_class, area_hm2=m.area_hm2,
                quality=m.quality, is_temporary=m.is_temporary, accepted=m.accepted,
                geometry=shapely.from_wkb(m.geometry), file=f.file, row=m.row, method=r.method,
                candidates=tuple(c for c in r.candidates.split(",") if c)) for m, r, f in ms)
            accs = tuple(AcceptanceEntry(a.applied_on, a.accepted_on, a.result, a.certificate_no, a.area_hm2,
                                         a.file, a.row)
                         for a in sorted(acc.get(u.unit_id, []), key=lambda a: (a.file, a.row)))
            obs = tuple(SeasonRecord(o.season_year, o.fvc, o.reference_fvc, o.clear_obs, o.observed_to)
                        for o in sorted(seasons.get(u.unit_id, []), key=lambda o: o.season_year))
            out.setdefault(u.license_no, []).append(UnitHistory(u.unit_id, u.first_year, recs, accs, obs))
    return {lic: MineHistory(lic, tuple(us), tuple(sorted(years.get(lic, ())))) for lic, us in sorted(out.items())}


@dataclass(frozen=True)
class SeasonRow:
    """One unit's season as the night measured it, to be stored."""
    unit_id: str
    season_year: int
    fvc: float | None
    reference_fvc: float | None
    clear_obs: int
    observed_to: date | None


def record_seasons(engine: Engine, rows: Iterable[SeasonRow]) -> int:
    """Upsert the rows (unit, season year) in one transaction; returns how many were written."""
    rows = list(rows)
    if not rows:
        return 0
    with Session(engine) as s, s.begin():
        known = set(s.scalars(select(LedgerUnit.unit_id).where(LedgerUnit.unit_id.in_({r.unit_id for r in rows}))))
        n = 0
        for r in rows:
            if r.unit_id not in known:
                continue    # a unit a rebuild removed meanwhile
            o = s.scalars(select(SeasonObservation).where(SeasonObservation.unit_id == r.unit_id,
                                                          SeasonObservation.season_year == r.season_year)).first()
            if o is None:
                o = SeasonObservation(unit_id=r.unit_id, season_year=r.season_year)
                s.add(o)
            o.fvc, o.reference_fvc, o.clear_obs, o.observed_to = r.fvc, r.reference_fvc, r.clear_obs, r.observed_to
            n += 1
    return n
