"""Confidence of a flag: low | high | highest (the classes of GFW alerts, docs/domain.md §6).

One rule for every flag type, from three numbers the flag already carries:

- ``n``: clear observations the flag rests on (dates, or per-pixel confirmations);
- ``agree``: share of those observations on the flag's side of the threshold
  (persistence: a flag that one odd date could have produced is not high);
- ``margin``: how far the observed value is beyond the threshold, in the measure's units.

| class   | needs                                                                  |
|---------|------------------------------------------------------------------------|
| highest | n >= 2 x min_obs, agree >= agree_highest, margin >= 2 x margin_min      |
| high    | n >= min_obs,     agree >= agree_high,    margin >= margin_min          |
| low     | anything else that still broke the rule                                 |

Only flags at or above ``assess.confidence.report_min`` (default high) go to
anomalies.geojson; the others are kept (MineResult.held_back and a LOW_CONFIDENCE row in
unjudged.csv), never silently dropped.
"""
from __future__ import annotations

from typing import Iterable

from minewatch.assess.anomaly import Anomaly, Unjudged
from minewatch.labels import CONFIDENCE_LEVELS


def classify(n: int, agree: float, margin: float, *, min_obs: int, margin_min: float,
             agree_high: float = 0.6, agree_highest: float = 0.8) -> str:
    if n >= 2 * min_obs and agree >= agree_highest and margin >= 2 * margin_min:
        return "highest"
    if n >= min_obs and agree >= agree_high and margin >= margin_min:
        return "high"
    return "low"


def at_least(level: str, minimum: str) -> bool:
    return CONFIDENCE_LEVELS.index(level) >= CONFIDENCE_LEVELS.index(minimum)


def hold_back(findings: Iterable[Anomaly], report_min: str
              ) -> tuple[list[Anomaly], list[Anomaly], list[Unjudged]]:
    """(reported, held back, one LOW_CONFIDENCE row per held-back flag): flags under
    `report_min` are kept apart and said so, never dropped."""
    reported, held, rows = [], [], []
    for f in findings:
        if at_least(f.confidence, report_min):
            reported.append(f)
            continue
        held.append(f)
        rows.append(Unjudged(f.license_no, f.key, "LOW_CONFIDENCE",
                             f"低置信度{f.type_zh}未上报 (held back: {f.type}, confidence {f.confidence})",
                             int(f.observed.get("clear_observations", 0) or 0)))
    return reported, held, rows
