"""Plans into the ledger: every year at once, oldest first, each filing in one transaction.

A filing is known by its mining right and year. The same file again is skipped (so
re-ingesting never duplicates a row); a different file for a year already in the ledger,
or a year older than one already ingested, is refused with a finding: ids are assigned in
year order, so a rebuild (``rebuild=True``: an empty ledger, then every file) is what gives
the ledger those files imply, identical each time.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import shapely
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session

from minewatch.labels import SECTION_ZH
from minewatch.ledger.matching import MERGE, SPLIT, Decision, Known, match_section
from minewatch.ledger.schema import LedgerUnit, Licence, MatchRecord, Mention, PlanFiling
from minewatch.promised.findings import ERROR, WARNING, Finding
from minewatch.promised.models import SECTIONS, AnnualPlan, Unit
from minewatch.promised.planreader import PlanReadResult, read_plans

__all__ = ["IngestReport", "ingest_results", "ingest_paths", "needs_rebuild", "sync_results", "known_units",
           "unit_id_for", "wkb"]

_CORNERS = "范围(拐点坐标)"


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)      # "LICENCE YEAR file" of each filing ingested
    skipped: list[str] = field(default_factory=list)    # already in the ledger, same file
    findings: list[Finding] = field(default_factory=list)


def wkb(geom: shapely.Geometry) -> bytes:
    """2-D WKB, the bytes stored: the same geometry always gives the same bytes."""
    return shapely.to_wkb(geom, output_dimension=2, byte_order=1)


def unit_id_for(license_no: str, n: int) -> str:
    """标识码: the mining right's number and a counter that only goes up (never reused)."""
    return f"{license_no}-U{n:04d}"


def _order(m: Mention) -> tuple[int, int, int]:
    return m.plan_year, SECTIONS.index(m.section), m.seq


def known_units(session: Session, license_no: str) -> list[Known]:
    """Every unit of a mining right open to matching, as its latest mention shows it (id order).

    A unit later rows were reported split from or merged into is no longer offered: its
    ground is now listed as those rows' units, and offering it again would make every later
    plan ambiguous."""
    latest: dict[str, Mention] = {}
    retired: set[str] = set()
    q = (select(Mention, MatchRecord).join(MatchRecord, MatchRecord.mention_id == Mention.id)
         .join(LedgerUnit, LedgerUnit.unit_id == Mention.unit_id).where(LedgerUnit.license_no == license_no))
    for m, r in sorted(session.execute(q), key=lambda mr: _order(mr[0])):
        latest[m.unit_id] = m
        if r.method in (SPLIT, MERGE):
            retired.update(r.candidates.split(","))
    return [Known(uid, m.section, m.plan_year, m.seq, shapely.from_wkb(m.geometry))
            for uid, m in sorted(latest.items()) if uid not in retired]


def _sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _finding(plan: AnnualPlan, u: Unit, d: Decision) -> Finding:
    where = f"{SECTION_ZH[u.section]}第{u.seq}号单元"
    cands = "、".join(d.candidates)
    if d.method == SPLIT:
        rule, msg = "LEDGER_UNIT_SPLIT", f"{where}与往年单元{cands}部分重叠，疑似由其拆分，已新编标识码，请人工确认"
    elif d.method == MERGE:
        rule, msg = "LEDGER_UNITS_MERGED", f"{where}覆盖往年多个单元{cands}，疑似合并，已新编标识码，请人工确认"
    else:
        rule, msg = ("LEDGER_MATCH_UNCERTAIN",
                     f"{where}与往年单元{cands}重叠度IoU={d.iou:.4f}低于匹配阈值，已新编标识码，请人工确认")
    return Finding(file=Path(plan.source).name, sheet="", row=u.row, field=_CORNERS, value=u.corner_points,
                   rule=rule, severity=WARNING, message_zh=msg)


def _refuse(plan: AnnualPlan, rule: str, msg: str) -> Finding:
    return Finding(file=Path(plan.source).name, sheet="", row=None, field="", value="", rule=rule,
                   severity=ERROR, message_zh=msg)


def _add_filing(session: Session, plan: AnnualPlan, sha: str, *, iou_min: float, related_min: float,
                report: IngestReport) -> None:
    lic = session.get(Licence, plan.license_no)
    if lic is None:
        lic = Licence(license_no=plan.license_no, next_unit_no=1)
        session.add(lic)
    filing = PlanFiling(license_no=plan.license_no, plan_year=plan.plan_year, file=Path(plan.source).name,
                        sha256=sha)
    session.add(filing)
    session.flush()
    for section in SECTIONS:
        units = sorted(plan.section(section), key=lambda u: u.seq)
        if not units:
            continue
        decisions = match_section([u.geometry for u in units], section, known_units(session, plan.license_no),
                                  iou_min=iou_min, related_min=related_min)
        for u, d in zip(units, decisions):
            uid = d.unit_id
            if uid is None:
                uid = unit_id_for(plan.license_no, lic.next_unit_no)
                lic.next_unit_no += 1
                known = session.get(LedgerUnit, uid)      # kept by a rebuild
                if known is None:
                    session.add(LedgerUnit(unit_id=uid, license_no=plan.license_no, first_year=plan.plan_year))
                else:
                    known.first_year = plan.plan_year
            m = Mention(unit_id=uid, filing_id=filing.id, plan_year=plan.plan_year, section=section, seq=u.seq,
                        land_class=u.land_class, area_hm2=None if u.area_hm2 is None else round(u.area_hm2, 4),
                        quality=u.quality, is_temporary=u.is_temporary, accepted=u.accepted,
                        problem_type=u.problem_type, damage_degree=u.damage_degree, measures=u.measures,
                        corner_points=u.corner_points, geometry=wkb(u.geometry), row=u.row)
            session.add(m)
            session.flush()
            prev = d.previous
            session.add(MatchRecord(
                mention_id=m.id, unit_id=uid, method=d.method, iou=None if d.iou is None else round(d.iou, 4),
                previous_year=prev.year if prev else None, previous_section=prev.section if prev else None,
                previous_seq=prev.seq if prev else None, candidates=",".join(d.candidates)))
            if d.method in (SPLIT, MERGE) or (d.unit_id is None and d.method != "new"):
                report.findings.append(_finding(plan, u, d))
        session.flush()
    report.added.append(f"{plan.license_no} {plan.plan_year} {filing.file}")


def ingest_results(engine: Engine, results: Iterable[PlanReadResult], *, iou_min: float,
                   related_min: float, rebuild: bool = False) -> IngestReport:
    """Add the plans read (oldest year first); files that are not plans are passed over.
    ``rebuild`` forgets every filing first (ids come back the same for the same ground)."""
    if rebuild:
        _clear_plans(engine)
    report = IngestReport()
    plans = sorted((r.plan for r in results if r.plan is not None),
                   key=lambda p: (p.plan_year, p.license_no, Path(p.source).name))
    for plan in plans:
        rows = [(u.section, u.seq) for u in plan.units]
        if len(rows) != len(set(rows)):      # a 序号 twice in a section names no one row: matching would guess
            twice = sorted({f"{SECTION_ZH[sec]}第{seq}号" for sec, seq in rows if rows.count((sec, seq)) > 1})
            report.findings.append(_refuse(plan, "LEDGER_DUPLICATE_SEQ", (
                f"{plan.license_no} {plan.plan_year}年度计划未入账：同一部分内序号重复 ({'、'.join(twice)})；"
                f"请更正后重新报送")))
            continue
        sha = _sha256(plan.source)
        with Session(engine) as session, session.begin():
            same = session.scalars(select(PlanFiling).where(PlanFiling.license_no == plan.license_no,
                                                            PlanFiling.plan_year == plan.plan_year)).first()
            latest = session.scalar(select(func.max(PlanFiling.plan_year))
                                    .where(PlanFiling.license_no == plan.license_no))
            if same is not None and same.sha256 == sha:
                report.skipped.append(f"{plan.license_no} {plan.plan_year} {Path(plan.source).name}")
            elif same is not None:
                report.findings.append(_refuse(plan, "LEDGER_PLAN_CHANGED", (
                    f"{plan.license_no} {plan.plan_year}年度计划已由{same.file}入账，本文件内容不同；"
                    f"如为修编，请以全部计划文件重建台账 (minewatch ledger ingest --rebuild)")))
            elif latest is not None and latest > plan.plan_year:
                report.findings.append(_refuse(plan, "LEDGER_PLAN_OUT_OF_ORDER", (
                    f"{plan.license_no}已入账{latest}年度计划，{plan.plan_year}年度计划晚到；"
                    f"请以全部计划文件重建台账 (minewatch ledger ingest --rebuild)")))
            else:
                _add_filing(session, plan, sha, iou_min=iou_min, related_min=related_min, report=report)
    return report


def _clear_plans(engine: Engine) -> None:
    """Forget every filing (mentions, matches) and restart the id counters; units stay as rows,
    so season observations and acceptance records keep their unit, and the same files give
    the same ids back to the same ground."""
    with Session(engine) as session, session.begin():
        for model in (MatchRecord, Mention, PlanFiling):
            session.execute(delete(model))
        session.execute(update(Licence).values(next_unit_no=1))


def ingest_paths(engine: Engine, paths: Sequence[str | Path], *, iou_min: float, related_min: float,
                 area_tolerance: float, rebuild: bool = False) -> IngestReport:
    """Read every plan file under ``paths`` and ingest them; ``rebuild`` empties the ledger first."""
    results = [r for p in paths for r in read_plans(p, area_tolerance=area_tolerance)]
    return ingest_results(engine, results, iou_min=iou_min, related_min=related_min, rebuild=rebuild)


def needs_rebuild(engine: Engine, results: Iterable[PlanReadResult]) -> bool:
    """Would plain ingest refuse one of these plans? A filing whose file differs from the one
    the ledger holds for its year (a revision supersedes it), or a year older than one
    already ingested: then only a rebuild from every file gives the ledger they imply."""
    plans = [r.plan for r in results if r.plan is not None]
    with Session(engine) as session:
        held = {(f.license_no, f.plan_year): f.sha256 for f in session.scalars(select(PlanFiling))}
    latest: dict[str, int] = {}
    for lic, year in held:
        latest[lic] = max(year, latest.get(lic, year))
    for p in plans:
        sha = held.get((p.license_no, p.plan_year))
        if sha is not None and sha != _sha256(p.source):
            return True
        if sha is None and latest.get(p.license_no, p.plan_year) > p.plan_year:
            return True
    return False


def sync_results(engine: Engine, results: Sequence[PlanReadResult], *, iou_min: float,
                 related_min: float) -> IngestReport:
    """The night's ingest: new filings added; a changed or late filing rebuilds the plan
    part from all of ``results`` (so the night, ``ledger ingest --rebuild`` and a fresh
    ledger agree)."""
    return ingest_results(engine, results, iou_min=iou_min, related_min=related_min,
                          rebuild=needs_rebuild(engine, results))
