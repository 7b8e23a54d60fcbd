"""Which unit of earlier plans a plan row is: geometry (IoU) and section, never the 序号.

Plans carry no unit ids, so a row is the same ground as a known unit when their
intersection over union reaches ``iou_min``. Ambiguity is reported, never resolved by a
guess: a row related to two units of its own lineage is a merge, a unit related to two
rows of one section is a split; both get new ids and the candidates are recorded.
"Related" means an overlap of at least ``related_min`` of the smaller of the two.

Lineage: a row continues a unit listed in the same section before (planned again, damage
listed again), or a planned unit now reported restored. Other overlaps (a planned unit
inside a damaged area) may still match by IoU, but are only noted, never called a split.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from shapely.geometry.base import BaseGeometry

from minewatch.promised.models import PLANNED, RESTORED

__all__ = ["Known", "Decision", "METHODS", "AMBIGUOUS", "match_section", "iou", "same_lineage"]

MATCHED = "iou"                 # same ground as a known unit
NEW = "new"                     # no known unit overlaps enough to be related in its lineage
SPLIT = "split"                 # one known unit, several rows of this section: new ids
MERGE = "merge"                 # several known units, one row: new id
BELOW = "below_threshold"       # one related unit, IoU under iou_min: new id
METHODS = (MATCHED, NEW, SPLIT, MERGE, BELOW)
AMBIGUOUS = (SPLIT, MERGE, BELOW)


@dataclass(frozen=True)
class Known:
    """A unit of the ledger as matching sees it: its latest mention."""
    unit_id: str
    section: str
    year: int
    seq: int
    geometry: BaseGeometry


@dataclass(frozen=True)
class Decision:
    """What one row is: ``unit_id`` None means a new unit."""
    index: int                      # position of the row in the rows given
    method: str                     # one of METHODS
    unit_id: str | None
    iou: float | None               # with the unit matched, or the best related unit
    previous: Known | None          # the mention matched
    candidates: tuple[str, ...]     # the other units the row overlaps (related), sorted


def iou(a: BaseGeometry, b: BaseGeometry) -> float:
    inter = a.intersection(b).area
    if inter <= 0:
        return 0.0
    return inter / (a.area + b.area - inter)


def _related(a: BaseGeometry, b: BaseGeometry, related_min: float) -> bool:
    smaller = min(a.area, b.area)
    return smaller > 0 and a.intersection(b).area / smaller >= related_min


def same_lineage(known_section: str, row_section: str) -> bool:
    return known_section == row_section or (known_section, row_section) == (PLANNED, RESTORED)


def match_section(rows: Sequence[BaseGeometry], section: str, known: Sequence[Known], *,
                  iou_min: float, related_min: float) -> list[Decision]:
    """One decision per row of one section of one plan, against the units known before it."""
    rel: list[list[tuple[Known, float]]] = [
        [(k, iou(g, k.geometry)) for k in known if _related(g, k.geometry, related_min)] for g in rows]
    lineage = [[k for k, _ in r if same_lineage(k.section, section)] for r in rel]
    rows_of: dict[str, list[int]] = {}
    for i, ks in enumerate(lineage):
        for k in ks:
            rows_of.setdefault(k.unit_id, []).append(i)

    ambiguous: dict[int, str] = {}
    for i, ks in enumerate(lineage):
        if len(ks) >= 2:
            ambiguous[i] = MERGE
        elif len(ks) == 1 and len(rows_of[ks[0].unit_id]) >= 2:
            ambiguous[i] = SPLIT
    blocked = {k.unit_id for i in ambiguous for k in lineage[i]}

    # one-to-one by IoU, best first; ties by row order then unit id (deterministic)
    pairs = sorted(((v, i, k) for i, r in enumerate(rel) if i not in ambiguous for k, v in r
                    if v >= iou_min and k.unit_id not in blocked), key=lambda p: (-p[0], p[1], p[2].unit_id))
    taken: dict[int, tuple[Known, float]] = {}
    used: set[str] = set()
    for v, i, k in pairs:
        if i not in taken and k.unit_id not in used:
            taken[i] = (k, v)
            used.add(k.unit_id)

    out = []
    for i, r in enumerate(rel):
        best = max((v for _, v in r), default=None)
        if i in taken:
            k, v = taken[i]
            others = tuple(sorted(o.unit_id for o, _ in r if o.unit_id != k.unit_id))
            out.append(Decision(i, MATCHED, k.unit_id, v, k, others))
            continue
        cands = tuple(sorted(k.unit_id for k, _ in r))
        if i in ambiguous:
            method = ambiguous[i]
        elif lineage[i]:
            method = BELOW
        else:
            method = NEW
        out.append(Decision(i, method, None, best, None, cands))
    return out
