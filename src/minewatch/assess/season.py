"""Assessment seasons: a span of days in one year, and which time steps fall in it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Iterable

import numpy as np
import pandas as pd


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
