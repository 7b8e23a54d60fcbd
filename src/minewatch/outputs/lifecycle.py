"""Anomaly lifecycle across nightly runs: new, ongoing, resolved.

An anomaly's id is stable for the same finding (sha1 of license_no|plan_year|type|key), so
comparing tonight's FeatureCollection with the previous run's says what changed:

- id in both runs: ``ongoing``; ``first_seen`` is kept from the previous run.
- id only tonight (or previously ``resolved`` and back again): ``new``, first seen tonight.
- id only in the previous run and not already ``resolved`` there: carried over once as
  ``resolved`` with ``resolved_on`` = tonight; the run after drops it.

"resolved" means "no longer reported", not "checked and closed in the field". A night that
could not look never resolves anything: a previous finding of a mine that failed tonight
(or of a unit tonight left unjudged, e.g. clouds) stays ``ongoing`` with its ``first_seen``
and ``last_seen`` (the last night that saw it), and ``unconfirmed_on`` = tonight with
``unconfirmed_zh`` saying why tonight could not confirm it; so a failed night changes
neither the history nor the spot-check score. Plan findings (``PLAN_*``) come from the
plans, not from the mine's run, and are not carried. The id contains the plan
year, so when the plan year rolls over last year's findings come out resolved and this
year's as new. Inputs are not modified; output features are sorted by (license_no, id),
the order `geojson.feature_collection` uses.
"""
from __future__ import annotations

import copy
from datetime import date
from typing import Mapping

NEW, ONGOING, RESOLVED = "new", "ongoing", "resolved"
STATUS_ZH = {NEW: "新发现", ONGOING: "持续", RESOLVED: "已消除"}


def _sort_key(f: dict) -> tuple[str, str]:
    return (str(f["properties"].get("license_no", "")), str(f.get("id") or f["properties"].get("id")))


def _fid(f: dict) -> str:
    return str(f.get("id") or f["properties"]["id"])


UNCONFIRMED_FIELDS = ("unconfirmed_on", "unconfirmed_zh")


def _not_judged_why(p: dict, not_judged: Mapping[tuple[str, str | None], str]) -> str | None:
    """Why tonight could not confirm this previous finding, or None if it looked."""
    lic = str(p.get("license_no", ""))
    if str(p.get("type", "")).startswith("PLAN_"):
        return None
    if (lic, None) in not_judged:
        return not_judged[(lic, None)]
    if p.get("unit_section") and p.get("unit_seq") is not None:
        return not_judged.get((lic, f"{p['unit_section']}:{p['unit_seq']}"))
    return None


def apply_lifecycle(current_fc: dict, previous_fc: dict | None, run_date: date, *,
                    previous_run_date: date | None = None,
                    not_judged: Mapping[tuple[str, str | None], str] | None = None) -> dict:
    """Tonight's FeatureCollection with status/first_seen/last_seen (and resolved_on) set.

    `previous_run_date` is used as ``first_seen``/``last_seen`` for previous features that
    predate lifecycle fields; without it such features count as first seen tonight.
    `not_judged`: what tonight could not look at, and why: ``(license_no, None)`` for a
    mine that failed, ``(license_no, "section:seq")`` for a unit left unjudged.
    """
    not_judged = not_judged or {}
    today = run_date.isoformat()
    prev_day = previous_run_date.isoformat() if previous_run_date else today
    prev = {}
    for f in (previous_fc or {}).get("features", []):
        prev[_fid(f)] = f

    out_feats = []
    seen = set()
    for f in current_fc.get("features", []):
        g = copy.deepcopy(f)
        fid = _fid(g)
        seen.add(fid)
        p = g["properties"]
        for k in ("status", "first_seen", "last_seen", "resolved_on", *UNCONFIRMED_FIELDS):
            p.pop(k, None)
        old = prev.get(fid)
        if old is not None and old["properties"].get("status") != RESOLVED:
            p["status"] = ONGOING
            p["first_seen"] = old["properties"].get("first_seen") or prev_day
        else:
            p["status"] = NEW
            p["first_seen"] = today
        p["last_seen"] = today
        out_feats.append(g)

    for fid, old in prev.items():
        if fid in seen or old["properties"].get("status") == RESOLVED:
            continue
        g = copy.deepcopy(old)
        p = g["properties"]
        p["first_seen"] = p.get("first_seen") or prev_day
        p["last_seen"] = p.get("last_seen") or prev_day
        why = _not_judged_why(p, not_judged)
        if why is not None:      # tonight could not look: keep it open, say so
            p["status"] = ONGOING
            p["unconfirmed_on"] = today
            p["unconfirmed_zh"] = f"本次运行未能核实(未能评估: {why}), 沿用{p['last_seen']}的结果"
        else:
            p["status"] = RESOLVED
            p["resolved_on"] = today
            for k in UNCONFIRMED_FIELDS:
                p.pop(k, None)
        out_feats.append(g)

    out = {k: copy.deepcopy(v) for k, v in current_fc.items() if k != "features"}
    out.setdefault("type", "FeatureCollection")
    out["features"] = sorted(out_feats, key=_sort_key)
    return out


def active(fc: dict) -> list[dict]:
    """Features still reported (not resolved): what spot checks and counts should use."""
    return [f for f in fc.get("features", []) if f["properties"].get("status") != RESOLVED]
