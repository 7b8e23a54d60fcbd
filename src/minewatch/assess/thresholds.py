"""Thresholds as sourced data: (region, 三调 land class) -> expected measure and value.

The table is a YAML file (configs/thresholds.yaml). Each row says, for one region and
one land class (an exact 三调 code such as "0305" or a first-level group such as "04"):

- measure: ``fvc`` (fractional vegetation cover at least ``value``), ``water`` (share of the
  unit's clear pixels with MNDWI > 0 at least ``value``, for pit lakes / 坑塘水面),
  ``bare`` (no restoration expected, the unit may stay bare: ``value`` is the FVC it is
  expected to stay under; not flagged) or ``none`` (no expectation);
- season: ``MM-DD/MM-DD`` of the assessment season for that class (empty: the config's);
- source and provisional: where the number comes from, and whether it is a placeholder.

Regions come from the county code through the region table (assess/regions.py, the
packaged ``regions.yaml``): the ten TD/T 1036-2013 reclamation regions (``northeast``,
``loess``, ``steppe``...), county and prefecture overrides before the province; anything
unmapped is ``default``. Lookup order: the county's own rows (region = its 6-digit, then
4-digit, then 2-digit code, so a province can load its official numbers without code
changes), then its region's rows, then ``default``; within each, the exact code before its
first-level group. An old table's ``provinces:`` (2-digit code -> a region name of its own)
still maps those provinces.

The season a unit is judged in (``window_of``): the mine's own (``assess.season_by_license``),
else the row's, else the region's, else the config's ``assess.season_start/_end``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from minewatch.assess.regions import DEFAULT, RegionError, RegionTable, load_regions
from minewatch.config import packaged

if TYPE_CHECKING:
    from minewatch.config import AssessSettings

MEASURES = ("fvc", "water", "bare", "none")


class ThresholdError(Exception):
    pass


class Threshold(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    region: str = Field(min_length=1)
    land_class: str = Field(pattern=r"^[0-9]{2}([0-9]{2}|H[0-9])?[A-Z]?$")
    measure: str = Field(pattern=r"^(fvc|water|bare|none)$")
    value: float | None = Field(None, ge=0, le=1, validation_alias=AliasChoices("value", "min"))
    season: str | None = Field(None, pattern=r"^[0-9]{2}-[0-9]{2}/[0-9]{2}-[0-9]{2}$")
    provisional: bool = True
    source: str = Field(min_length=1)

    @property
    def min(self) -> float:
        """The minimum for fvc/water rows (kept under its old name); loading makes sure they have one."""
        if self.value is None:
            raise ThresholdError(f"threshold row {self.region}/{self.land_class} ({self.measure}) has no value")
        return self.value

    @property
    def season_mmdd(self) -> tuple[str, str] | None:
        if not self.season:
            return None
        start, end = self.season.split("/")   # the field's pattern makes it MM-DD/MM-DD
        return start, end


@dataclass(frozen=True)
class ThresholdTable:
    rows: tuple[Threshold, ...]
    provinces: dict[str, str] = field(default_factory=dict)   # an old table's own 2-digit -> region names
    regions: RegionTable = field(default_factory=RegionTable)

    def region_of(self, county_code: str | None) -> str:
        """Region of a 6-digit county code: the table's own ``provinces:``, then the region table."""
        own = self.provinces.get(str(county_code or "")[:2])
        return own or self.regions.region_of(county_code)

    def lookup(self, land_class: str, region: str = DEFAULT, county_code: str | None = None) -> Threshold | None:
        """County, prefecture, province rows, then region rows, then default; exact code before its group."""
        chain: list[str] = []
        if county_code:
            c = str(county_code)
            chain += [c[:n] for n in (6, 4, 2) if len(c) >= n] + [self.region_of(county_code)]
        chain += [region, DEFAULT]
        for reg in dict.fromkeys(chain):
            for key in dict.fromkeys((land_class, land_class[:2])):
                for r in self.rows:
                    if r.region == reg and r.land_class == key:
                        return r
        return None

    def window_of(self, license_no: str, county_code: str | None, th: Threshold | None,
                  cfg: AssessSettings) -> tuple[tuple[str, str], str]:
        """((start, end) MM-DD, where it came from: licence | threshold_row | region | config)."""
        own = cfg.season_by_license.get(license_no)
        if own:
            start, end = own.split("/")
            return (start, end), "licence"
        if th is not None and th.season_mmdd:
            return th.season_mmdd, "threshold_row"
        reg = self.regions.season_of(self.region_of(county_code))
        if reg is not None:
            return reg, "region"
        return (cfg.season_start, cfg.season_end), "config"


def load_thresholds(path: Path, regions: Path | None = None) -> ThresholdTable:
    """The table at `path` with the region table at `regions` (None: the packaged one)."""
    if not Path(path).is_file():
        raise ThresholdError(f"阈值表不存在 thresholds file not found: {path}")
    try:
        table = load_regions(regions or packaged("regions.yaml"))
    except (RegionError, OSError, yaml.YAMLError) as e:     # the same one-line config error
        raise ThresholdError(str(e)) from e
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    rows = []
    for i, r in enumerate(raw.get("rows", [])):
        try:
            t = Threshold(**r)
        except (ValidationError, TypeError) as e:
            raise ThresholdError(f"{path}: row {i + 1}: {e}") from e
        if t.measure in ("fvc", "water", "bare") and t.value is None:
            raise ThresholdError(f"{path}: row {i + 1}: measure {t.measure} needs `value`")
        rows.append(t)
    if not rows:
        raise ThresholdError(f"{path}: no threshold rows")
    provinces = {}
    for k, v in (raw.get("provinces") or {}).items():
        k = str(k).zfill(2)
        if not (len(k) == 2 and k.isdigit()) or not isinstance(v, str) or not v:
            raise ThresholdError(f"{path}: provinces: {k!r} -> {v!r} must map a 2-digit code to a region name")
        provinces[k] = v
    known = set(table.regions) | set(provinces.values()) | {DEFAULT}
    for i, t in enumerate(rows):
        if not (t.region in known or (t.region.isdigit() and len(t.region) in (2, 4, 6))):
            raise ThresholdError(f"{path}: row {i + 1}: unknown region {t.region!r} "
                                 f"(a region key of the regions table, a 2/4/6-digit code or default)")
    return ThresholdTable(tuple(rows), provinces, table)
