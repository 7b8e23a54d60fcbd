"""What a finding is: one anomaly an inspector can act on."""
from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from typing import Iterable

from shapely.geometry.base import BaseGeometry

from minewatch.labels import TYPES_ZH

__all__ = ["Anomaly", "with_unique_keys"]


@dataclass(frozen=True)
class Anomaly:
    type: str
    severity: str
    license_no: str
    mine_name: str
    plan_year: int
    geometry: BaseGeometry              # EPSG:4490 lon/lat
    area_hm2: float
    period: str                         # "YYYY-MM-DD/YYYY-MM-DD" the evidence covers
    observed: dict
    expected: dict
    evidence_scenes: tuple[str, ...]
    unit_seq: int | None = None
    unit_section: str | None = None
    target_land_class: str | None = None
    key: str = ""                       # what makes the finding the same night after night
    unit_id: str | None = None
    notes_zh: str = ""
    confidence: str = "high"            # low | high | highest (assess/confidence.py)

    @property
    def id(self) -> str:
        raw = f"{self.license_no}|{self.plan_year}|{self.type}|{self.key}"
        return hashlib.sha1(raw.encode("utf-8")).hexdigest()[:16]

    @property
    def type_zh(self) -> str:
        return TYPES_ZH[self.type]


@dataclass(frozen=True)
class Unjudged:
    """A unit the rules could not judge, and why: never silently skipped."""
    license_no: str
    unit: str
    reason: str          # English code
    reason_zh: str
    n_clear: int


@dataclass(frozen=True)
class RuleResult:
    """What one rule (assess.judge.RULES) returns: its flags and the units it could not judge."""
    findings: tuple[Anomaly, ...] = ()
    unjudged: tuple[Unjudged, ...] = ()
    fvc_minimums: dict[str, float] = field(default_factory=dict)   # unit key -> FVC minimum used (reports)


def with_unique_keys(anomalies: Iterable[Anomaly]) -> list[Anomaly]:
    """The anomalies in their order, every id distinct: a finding whose id an earlier one
    already has gets ``#2``, ``#3``... appended to its key (so its id differs too), in the
    order given. Ids are what the lifecycle, the GeoPackage upsert key and the platform
    merge on; two findings must never share one."""
    out: list[Anomaly] = []
    seen: set[str] = set()
    for a in anomalies:
        n, b = 1, a
        while b.id in seen:
            n += 1
            b = dataclasses.replace(a, key=f"{a.key}#{n}")
        seen.add(b.id)
        out.append(b)
    return out
