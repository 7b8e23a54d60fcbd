"""Assessment seasons: a span of days in one year, which time steps fall in it, and the
window checked against the reference ring's own phenology (docs/assessment.md, "Seasons").
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

__all__ = ["Season", "SeasonCheck", "checked_season", "in_seasons", "ring_peak"]


@dataclass(frozen=True)
class Season:
    start: date
    end: date

    @classmethod
    def of(cls, year: int, start_mmdd: str, end_mmdd: str) -> "Season":
        sm, sd = (int(x) for x in start_mmdd.split("-"))
        em, ed = (int(x) for x in end_mmdd.split("-"))
        return cls(date(year, sm, sd), date(year, em, ed))

    @property
    def label(self) -> str:
        return f"{self.start.isoformat()}/{self.end.isoformat()}"

    def shifted(self, years: int) -> "Season":
        return Season(self.start.replace(year=self.start.year + years), self.end.replace(year=self.end.year + years))


def in_seasons(times: np.ndarray, seasons: Iterable[Season]) -> np.ndarray:
    """Per time step: whether its date lies in any of `seasons` (ends included)."""
    d = pd.to_datetime(times).date
    out = np.zeros(len(d), bool)
    for se in seasons:
        out |= np.array([se.start <= x <= se.end for x in d], dtype=bool)
    return out


@dataclass(frozen=True)
class SeasonCheck:
    """A season window checked against the reference ring's own peak that year."""
    season: Season              # the window used
    nominal: Season             # the window before the check (the mine's, row's, region's or config's)
    shift_days: int = 0         # how far the window moved (positive: later)
    peak: date | None = None    # the ring's peak that year (None: not checked)
    note: str = "not checked"   # checked | shifted | why it was not checked

    def record(self) -> dict:
        """What a flag records about its window."""
        return {"season": self.season.label, "season_nominal": self.nominal.label,
                "season_shift_days": self.shift_days, "reference_peak": self.peak.isoformat() if self.peak else None,
                "season_check": self.note}


def ring_peak(days: Sequence[date], values: Sequence[float], peak_share: float,
              min_amplitude: float = 0.05) -> date | None:
    """The centre (mean date) of the clear dates (date order) whose ring FVC is at least
    `peak_share` of the highest: a plateau's middle, not whichever noisy date happens to be
    highest. A ring still rising on its last date (or falling from its first) peaks there: at
    or beyond the edge. None: no dates, or a ring without a season (max - min < `min_amplitude`,
    evergreen or bare), whose peak says nothing about the window."""
    v = np.asarray(values, float)
    ok = np.isfinite(v)
    if not ok.any() or np.nanmax(v) <= 0 or np.nanmax(v) - np.nanmin(v) < min_amplitude:
        return None
    i = int(np.nanargmax(v))
    if i in (0, len(v) - 1):
        return days[i]
    top = [d for d, x in zip(days, v) if np.isfinite(x) and x >= peak_share * np.nanmax(v)]
    offset = float(np.mean([(d - top[0]).days for d in top]))
    return top[0] + timedelta(days=round(offset))


def checked_season(nominal: Season, days: Sequence[date], values: Sequence[float], as_of: date, *,
                   tolerance_days: int, max_shift_days: int, peak_share: float, min_obs: int) -> SeasonCheck:
    """The window moved to the ring's peak when that peak lies more than `tolerance_days` outside
    it: by the least shift that brings the peak inside, at most `max_shift_days`.

    `days`/`values`: the ring's clear dates and FVC (any years; those within `max_shift_days`
    of the window are used). Not checked (the nominal window) before the window and its
    possible shift are over, or with fewer than `min_obs` clear ring dates around it."""
    if as_of < nominal.end:
        return SeasonCheck(nominal, nominal, note="season not over")
    lo, hi = nominal.start - timedelta(days=max_shift_days), min(nominal.end + timedelta(days=max_shift_days), as_of)
    near = [(d, x) for d, x in zip(days, values) if lo <= d <= hi]
    if len(near) < min_obs:
        return SeasonCheck(nominal, nominal, note=f"too few clear reference dates ({len(near)} < {min_obs})")
    peak = ring_peak([d for d, _ in near], [x for _, x in near], peak_share)
    if peak is None:
        return SeasonCheck(nominal, nominal, note="no reference peak")
    outside = (peak - nominal.end).days if peak > nominal.end else (peak - nominal.start).days \
        if peak < nominal.start else 0
    if abs(outside) <= tolerance_days:
        return SeasonCheck(nominal, nominal, 0, peak, "checked")
    shift = int(np.sign(outside)) * min(abs(outside), max_shift_days)
    moved = Season(nominal.start + timedelta(days=shift), nominal.end + timedelta(days=shift))
    return SeasonCheck(moved, nominal, shift, peak, "shifted")
