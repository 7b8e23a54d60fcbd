"""Labelled scenarios for issue #14's climates: snow in the north-east, months of cloud in the
evergreen south, terrain shadow on Yunnan's slopes.

Each is a `synth.scenarios.Scenario` whose `sky` (a `Sky`) says what the sky and the season do
beyond the default scenario world: which dates have scenes (winter too), the phenology
(evergreen), cloud by date (a wet season overcast for months), snow and lake ice by date, and
terrain shadow on patches by date. A scenario without a `sky` is written exactly as before.
Every scenario has positives and explicit negatives: units and areas that snow, cloud or
shadow would flag if they were read as ground, and that must not be flagged.

`CLIMATE` is built on first use (PEP 562 module `__getattr__`): `synth.scenarios` appends it
to its SCENARIOS while it is itself being imported, and the scenarios need its classes.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from minewatch.synth.scenarios import Scenario

__all__ = ["CLIMATE", "SHADE", "Sky"]  # noqa: F822  (CLIMATE: module __getattr__ below)

# share of a patch's dates in terrain shadow, by its `shade` (hashed per scenario, patch and date)
SHADE = {"often": 0.6, "intermittent": 0.35}
GROWING = ((4, 15), (9, 30))          # the default world's scene dates: mid-April to September
WINTER_STEP_DAYS = 16                 # scenes outside it, when a scenario has winter


class _Frame(Protocol):
    def slices(self, r: tuple[float, float, float, float]) -> tuple[slice, slice]: ...


class _Patch(Protocol):
    name: str
    rect: tuple[float, float, float, float]
    shade: str


def _unit_random(*parts: object) -> float:
    """A number in [0, 1) fixed by `parts` (no global random state: same bytes every run)."""
    h = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:8]
    return int(h, 16) / 16**8


def _evergreen(doy: float) -> float:
    """Broadleaf evergreen canopy: a shallow seasonal swing (0.85 in winter, 1.0 in midsummer)."""
    return float(np.interp(doy, [1, 180, 366], [0.85, 1.0, 0.85]))


@dataclass(frozen=True)
class Sky:
    """What a climate scenario changes; every default is the default world's."""
    winter: bool = False                      # scenes all year: every 16 days outside mid-April..September
    evergreen: bool = False                   # phenology `_evergreen` instead of the temperate one
    peak_offset: float = 0.0                  # natural cover raised by this much (evergreen: high cover)
    snow_months: tuple[int, ...] = ()         # every date in these months snow-covered (lakes frozen)
    snow_dates: tuple[date, ...] = ()         # single snowfalls: a late spring's, an early autumn's
    overcast: tuple[date, date] | None = None  # dates in this span overcast (90% cloud) ...
    breaks: tuple[date, ...] = ()             # ... except these, clear

    def dates(self, base: list[date], as_of: date) -> list[date]:
        """Scene dates: `base` (the growing seasons), with winter every 16 days up to as_of."""
        if not self.winter:
            return base
        (m0, d0), (m1, d1) = GROWING
        out, d = set(base), date(min(base).year, 1, 1)
        while d <= as_of:
            if not date(d.year, m0, d0) <= d <= date(d.year, m1, d1):
                out.add(d)
            d += timedelta(days=WINTER_STEP_DAYS)
        return sorted(out)

    def phen(self, doy: float) -> float | None:
        """The phenology factor on day of year `doy`; None: the default world's temperate curve."""
        return _evergreen(doy) if self.evergreen else None

    def cloud(self, d: date) -> float | None:
        """Cloud fraction on `d`, or None for the default world's random cloud."""
        if self.overcast and self.overcast[0] <= d <= self.overcast[1]:
            return 0.0 if d in self.breaks else 0.9
        return None

    def snowy(self, d: date) -> bool:
        return d.month in self.snow_months or d in self.snow_dates

    def layers(self, name: str, d: date, frame: _Frame, patches: Iterable[_Patch],
               shape: tuple[int, int]) -> dict[str, np.ndarray]:
        """`write_scene`'s optional layers on `d`: snow everywhere on a snowy date, terrain
        shadow on each shaded patch on its dates; none on a plain date (the default files)."""
        out = {}
        if self.snowy(d):
            out["snow"] = np.ones(shape, bool)
        shade = np.zeros(shape, bool)
        for p in patches:
            if p.shade and _unit_random(name, p.name, d) < SHADE[p.shade]:
                shade[frame.slices(p.rect)] = True
        if shade.any():
            out["terrain_shadow"] = shade
        return out


def _climate() -> tuple[Scenario, ...]:
    from minewatch.promised.models import PLANNED, RESTORED
    from minewatch.synth import scenes as s2
    from minewatch.synth.scenarios import LY, PY, Patch, Scenario, UnitSpec

    a1, a2, a3, a4 = (-300, -200, -150, -50), (0, -200, 150, -50), (150, 50, 300, 200), (-300, 50, -150, 200)
    lake, dry = (200, -250, 350, -100), (-150, 100, 0, 250)
    return (
        # 黑龙江 (哈尔滨): snow November to March on both years, a late spring snowfall, an early
        # snow over the last three dates of the season, a late green-up; a frozen pit lake
        Scenario(
            "snowy_northeast", "snow Nov-Mar and late in the season, late green-up, a frozen pit lake",
            (Patch("p1", a1, "recover"), Patch("p2", a2, "shortfall"), Patch("r1", a3, "restored_ok"),
             Patch("w1", lake, "water", water_from=date(LY, 4, 1)), Patch("w2", dry, "bare"),
             Patch("cut", (-350, 50, -200, 250), "stripped")),
            (UnitSpec(PLANNED, 1, a1, "0404"), UnitSpec(PLANNED, 2, a2, "0404"),
             UnitSpec(RESTORED, 1, a3, "0404", accepted=True), UnitSpec(PLANNED, 3, lake, "1104"),
             UnitSpec(PLANNED, 4, dry, "1104")),
            (("planned:2", "RESTORATION_SHORTFALL"), ("planned:4", "RESTORATION_SHORTFALL"),
             ("area:cut", "UNDECLARED_DISTURBANCE")),
            shift_days=30, county_code="230183",
            sky=Sky(winter=True, snow_months=(11, 12, 1, 2, 3),
                    snow_dates=(date(PY, 5, 9), date(PY, 8, 29), date(PY, 9, 6), date(PY, 9, 14)))),
        # 广东 (梅州): evergreen high cover, the plan year's wet season overcast from May to
        # September but for three breaks (one inside the assessment season): judged on the
        # widened window, never on the one date inside the season
        Scenario(
            "cloudy_south", "evergreen high cover, the wet season overcast for five months (three breaks)",
            (Patch("p1", a1, "shortfall"), Patch("p2", a2, "recover"), Patch("r1", a3, "bare"),
             Patch("r2", a4, "restored_ok")),
            (UnitSpec(PLANNED, 1, a1, "0404"), UnitSpec(PLANNED, 2, a2, "0404"),
             UnitSpec(RESTORED, 1, a3, "0404"), UnitSpec(RESTORED, 2, a4, "0404", accepted=True)),
            (("planned:1", "RESTORATION_SHORTFALL"), ("restored:1", "CLAIMED_RESTORATION_NOT_OBSERVED")),
            county_code="441402",
            sky=Sky(evergreen=True, peak_offset=0.2, overcast=(date(PY, 5, 1), date(PY, 9, 30)),
                    breaks=(date(PY, 6, 18), date(PY, 8, 13), date(PY, 9, 30)))),
        # 云南 (昆明): quarry slopes; an accepted restored unit and a natural slope outside the
        # boundary in terrain shadow on most dates (negatives), a planned unit that fell short and
        # a strip dug in May under intermittent shadow (positives)
        Scenario(
            "shaded_slopes", "terrain shadow on a restored unit and a slope on most dates; a real loss under "
                             "intermittent shadow",
            (Patch("r1", a3, "restored_ok", shade="often"), Patch("p1", a1, "recover"),
             Patch("p2", a2, "shortfall", shade="intermittent"),
             Patch("cut", (-100, 50, 100, 250), "stripped", shade="intermittent"),
             Patch("slope", (450, 0, 650, 250), "natural", s2.ROCK, shade="often")),
            (UnitSpec(RESTORED, 1, a3, "0404", accepted=True), UnitSpec(PLANNED, 1, a1, "0404"),
             UnitSpec(PLANNED, 2, a2, "0404")),
            (("planned:2", "RESTORATION_SHORTFALL"), ("area:cut", "UNDECLARED_DISTURBANCE")),
            county_code="530102", sky=Sky()),
    )


def __getattr__(name: str) -> Any:
    if name == "CLIMATE":
        value = _climate()
        globals()["CLIMATE"] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
