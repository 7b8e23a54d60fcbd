"""Plan checks in the nightly run: missing plans and plan data that contradicts itself.

* ``PLAN_MISSING``: a registered mining right valid on ``as_of``, whose plan for
  ``plan_year`` is due (the licence was issued before ``plan_year``) and overdue
  (``as_of`` after 31 March of ``plan_year``), with no plan for that year. Geometry: the
  mining-right boundary; severity high for holders on the abnormal list (异常名录) or
  judged seriously dishonest (严重失信主体), else medium.
* ``PLAN_DATA_INCONSISTENT``: one per *error* finding of a plan (reader and validation).
  Geometry: the unit's polygon when the finding is about a unit row with a valid polygon,
  else the mining-right boundary (else, for an unregistered licence, the hull of the plan's
  units; a finding with no geometry at all is left to the plan-check report). ``observed``
  holds the finding's fields; ``key`` = rule|row|field, so the same finding keeps its id.
* ``PLAN_UNREADABLE``: a file that could not be read as a plan (truncated .xlsx, damaged
  zip, not the table) and whose name carries a registered licence number: the holder did
  file, so it is never ``PLAN_MISSING``. Geometry: the mining-right boundary; ``observed``
  names the file and the reason. A year in the file name other than ``plan_year`` puts it
  in that year. Unreadable files that name no registered licence cannot be attributed:
  they are listed (:func:`unreadable_files`) and every ``PLAN_MISSING`` of the night names
  them in its note, since any of them may be that holder's plan.
"""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Iterable, Mapping

from shapely.ops import unary_union

from minewatch.assess.anomaly import Anomaly
from minewatch.promised.coords import area_hm2
from minewatch.promised.filings import is_superseded
from minewatch.promised.findings import ERROR, Finding
from minewatch.promised.models import MiningRight
from minewatch.promised.planreader import PlanReadResult

__all__ = ["plan_anomalies", "unreadable_files", "MEDIUM_RULES"]

# data errors that touch where restoration happens or who is accountable
MEDIUM_RULES = {"UNIT_OUTSIDE_BOUNDARY", "LICENCE_NOT_REGISTERED", "PLAN_YEAR_OUTSIDE_VALIDITY",
                "RESTORED_PLANNED_OVERLAP", "UNITS_OVERLAP", "FEES_USED_EXCEED_DRAWN",
                "FEES_PLANNED_USE_EXCEEDS_DRAW", "BAD_CORNER_POINTS"}


_YEAR_IN_NAME = re.compile(r"(?<!\d)(20\d\d)(?!\d)")


def unreadable_files(results: Iterable[PlanReadResult]) -> list[dict]:
    """Every file that gave no plan, with why: ``{"file", "rule", "reason"}``, by file name."""
    out = []
    for res in results:
        if res.plan is not None:
            continue
        errs = [f for f in res.findings if f.severity == ERROR] or res.findings
        reason = "; ".join(f.message_zh for f in errs) or "未能读出计划表 / no plan table read"
        out.append({"file": Path(res.file).name, "rule": errs[0].rule if errs else "", "reason": reason})
    return sorted(out, key=lambda d: d["file"])


def _owner(file: str, licences: Iterable[str]) -> str | None:
    """The registered licence a file's name carries (the longest, should one contain another)."""
    hits = [lic for lic in licences if lic and lic in file]
    return max(hits, key=len) if hits else None


def _year_of(file: str, plan_year: int) -> int:
    """The plan year a file's name gives (the last 20xx not part of a longer number), else `plan_year`."""
    years = _YEAR_IN_NAME.findall(Path(file).stem)
    return int(years[-1]) if years else plan_year


def _flagged(right: MiningRight | None) -> bool:
    return bool(right and (right.abnormal_list or right.seriously_dishonest))


def plan_anomalies(rights: Iterable[MiningRight], results: Iterable[PlanReadResult],
                   findings: Mapping[str, list[Finding]] | None = None, *,
                   plan_year: int, as_of: date) -> list[Anomaly]:
    """Anomalies of the plans themselves for the nightly run.

    ``results``: the plans as read (all years; only ``plan_year`` counts). ``findings``:
    file -> findings (e.g. from :func:`minewatch.promised.validate.validate_plan`); a
    result's own ``findings`` are used where ``findings`` has no entry for its file.
    """
    rights = list(rights)
    by_lic = {r.license_no: r for r in rights}
    results = list(results)
    period_all = f"{plan_year}-01-01/{as_of.isoformat()}"
    out: list[Anomaly] = []

    # ---- data inconsistent
    for res in results:
        plan = res.plan
        if plan is None or plan.plan_year != plan_year or is_superseded(res):
            continue   # a superseded filing is reported in the plan check, not judged
        right = by_lic.get(plan.license_no)
        fs = (findings or {}).get(res.file, res.findings)
        units_by_row = {u.row: u for u in plan.units if u.row is not None}
        for f in fs:
            if f.severity != ERROR:
                continue
            unit = units_by_row.get(f.row)
            geom = unit.geometry if unit is not None and not unit.geometry.is_empty else None
            if geom is None and right is not None:
                geom = right.boundary
            if geom is None and plan.units:
                geom = unary_union([u.geometry for u in plan.units]).convex_hull
            if geom is None or geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
                continue
            severity = "medium" if f.rule in MEDIUM_RULES or _flagged(right) else "low"
            out.append(Anomaly(
                type="PLAN_DATA_INCONSISTENT", severity=severity, license_no=plan.license_no,
                mine_name=right.mine_name if right else plan.mine_name, plan_year=plan_year,
                geometry=geom, area_hm2=round(area_hm2(geom), 4), period=period_all,
                observed={"file": Path(f.file).name, "sheet": f.sheet, "row": f.row, "field": f.field,
                          "value": f.value, "rule": f.rule, "severity": f.severity,
                          "message_zh": f.message_zh},
                expected={"rule": f.rule},
                evidence_scenes=(), unit_seq=unit.seq if unit else None,
                unit_section=unit.section if unit else None,
                target_land_class=(unit.land_class or None) if unit else None,
                key=f"{f.rule}|{f.row if f.row is not None else ''}|{f.field}",
                notes_zh=f"年度计划{Path(f.file).name}: {f.message_zh}"))

    # ---- unreadable: the holder filed something we cannot read
    unreadable = unreadable_files(results)
    unread_of: dict[str, list[dict]] = {}
    orphans: list[str] = []
    for u in unreadable:
        lic = _owner(u["file"], by_lic)
        if lic is None:
            orphans.append(u["file"])
        elif _year_of(u["file"].replace(lic, ""), plan_year) == plan_year:
            unread_of.setdefault(lic, []).append(u)
    for lic in sorted(unread_of):
        right = by_lic[lic]
        for u in unread_of[lic]:
            out.append(Anomaly(
                type="PLAN_UNREADABLE", severity="high" if _flagged(right) else "medium",
                license_no=lic, mine_name=right.mine_name, plan_year=plan_year,
                geometry=right.boundary, area_hm2=round(area_hm2(right.boundary), 4), period=period_all,
                observed={"file": u["file"], "rule": u["rule"], "reason": u["reason"]},
                expected={"readable": True}, evidence_scenes=(), key=f"unreadable|{u['file']}",
                notes_zh=f"年度计划{u['file']}无法读取: {u['reason']}; 请采矿权人重新报送可读文件"))

    # ---- missing
    due = date(plan_year, 3, 31)
    have = {res.plan.license_no for res in results
            if res.plan is not None and res.plan.plan_year == plan_year} | set(unread_of)
    orphan_note = (f"; 另有无法读取且无法确定所属采矿权的计划文件: {'、'.join(orphans)}, 可能含该矿计划"
                   if orphans else "")
    if as_of > due:
        for right in sorted(rights, key=lambda r: r.license_no):
            if right.license_no in have:
                continue
            if not (right.valid_from <= as_of <= right.valid_to):
                continue
            if right.valid_from.year >= plan_year:
                continue  # plans are due from the year after the licence was issued
            days = (as_of - due).days
            out.append(Anomaly(
                type="PLAN_MISSING", severity="high" if _flagged(right) else "medium",
                license_no=right.license_no, mine_name=right.mine_name, plan_year=plan_year,
                geometry=right.boundary, area_hm2=round(area_hm2(right.boundary), 4),
                period=f"{due.isoformat()}/{as_of.isoformat()}",
                observed={"plan_found": False, "days_overdue": days}
                | ({"unreadable_files": orphans} if orphans else {}),
                expected={"due": due.isoformat()},
                evidence_scenes=(), key="missing",
                notes_zh=f"{plan_year}年度矿区生态修复计划应于{due.isoformat()}前报送, 截至{as_of.isoformat()}"
                         f"未收到(逾期{days}天)" + ("; 该采矿权人列入异常名录/严重失信, 从高监管"
                                                  if _flagged(right) else "") + orphan_note))
    return out
