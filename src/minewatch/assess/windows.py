"""Persistent cloud: the assessment window widened into the adjacent weeks, within limits.

Rule (docs/assessment.md §2): a unit's season value needs ``min_clear_obs`` clear dates. Where
the season has fewer (a wet season cloudy for months, snow late in the season), the window
grows by ``widen_days`` on each side, up to ``widen_steps`` times (15 days x 2 by default: at
most a month before and after), never past the day of the run. The first window with enough
clear dates is used and recorded on the flag (``observed.window``); when even the widest has
too few, the unit is unjudged and the reason names the count and the windows tried. One date
never makes a flag: the count needed is the same in every window.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Generic, TypeVar

import pandas as pd

from minewatch.assess.season import Season

__all__ = ["Widened", "snow_dates", "widen", "widened"]

V = TypeVar("V")


def widen(season: Season, step: int, days: int, until: date) -> Season:
    """`season` grown by `step` x `days` days on each side, its end not past `until` (nor
    before the season's own end: a season is never shortened)."""
    d = timedelta(days=step * days)
    return Season(season.start - d, max(season.end, min(season.end + d, until)))


@dataclass(frozen=True)
class Widened(Generic[V]):
    """What a unit was measured over: the value, the window it came from, every window tried."""
    value: V
    used: Season                    # the window `value` is over (the season itself when enough)
    tried: tuple[Season, ...]       # narrowest first; the last is `used`

    @property
    def widened(self) -> bool:
        return len(self.tried) > 1

    @property
    def tried_text(self) -> str:
        return ", ".join(w.label for w in self.tried)


def widened(season: Season, measure: Callable[[Season], V], count: Callable[[V], int], min_obs: int,
            days: int, steps: int, until: date) -> Widened[V]:
    """`measure` over the season, then over ever wider windows (`widen`) until `count` of the
    value reaches `min_obs` or `steps` widenings are spent; the last window measured is used."""
    tried = [season]
    v = measure(season)
    for k in range(1, steps + 1):
        if count(v) >= min_obs:
            break
        w = widen(season, k, days, until)
        if w == tried[-1]:
            continue
        tried.append(w)
        v = measure(w)
    return Widened(v, tried[-1], tuple(tried))


def snow_dates(series: pd.DataFrame, unit_key: str, window: Season, min_clear_fraction: float) -> int:
    """Dates in `window` the unit could not count for snow or ice: its snow share alone leaves
    less than `min_clear_fraction` of it clear (series `snow_fraction`; 0 without that column)."""
    if "snow_fraction" not in series.columns:
        return 0
    s = series[series.unit == unit_key]
    d = pd.to_datetime(s.datetime).dt.date
    s = s[(d >= window.start) & (d <= window.end)]
    return int(((s.snow_fraction > 1 - min_clear_fraction) & (s.clear_fraction < min_clear_fraction)).sum())
