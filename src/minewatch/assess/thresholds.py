"""Thresholds as sourced data: (region, 三调 land class) -> expected measure and value.

The table is a YAML file (configs/thresholds.yaml). Each row says, for one region and
one land class (an exact 三调 code such as "0305" or a first-level group such as "04"):

- measure: ``fvc`` (fractional vegetation cover at least ``value``), ``water`` (share of the
  unit's clear pixels with MNDWI > 0 at least ``value``, for pit lakes / 坑塘水面),
  ``bare`` (no restoration expected, the unit may stay bare: ``value`` is the FVC it is
  expected to stay under; not flagged) or ``none`` (no expectation);
- season: ``MM-DD/MM-DD`` of the assessment season for that class (empty: the config's);
- source and provisional: where the number comes from, and whether it is a placeholder.

Regions come from the county code: its first two digits are the province
(``provinces:`` maps them to a region such as 西北/华北/东北; anything unmapped is
``default``). Lookup order: the province's own rows (region = the 2-digit code, so a
province can load its official numbers without code changes), then its region's rows,
then ``default``; within each, the exact code before its first-level group.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

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


DEFAULT_PROVINCES = {
    # 华北
    "11": "华北", "12": "华北", "13": "华北", "14": "华北", "15": "华北",
    # 东北
    "21": "东北", "22": "东北", "23": "东北",
    # 华东
    "31": "华东", "32": "华东", "33": "华东", "34": "华东", "35": "华东", "36": "华东", "37": "华东",
    # 华中 / 华南
    "41": "华中", "42": "华中", "43": "华中", "44": "华南", "45": "华南", "46": "华南",
    # 西南
    "50": "西南", "51": "西南", "52": "西南", "53": "西南", "54": "西南",
    # 西北
    "61": "西北", "62": "西北", "63": "西北", "64": "西北", "65": "西北",
}


@dataclass(frozen=True)
class ThresholdTable:
    rows: tuple[Threshold, ...]
    provinces: dict = field(default_factory=lambda: dict(DEFAULT_PROVINCES))

    def region_of(self, county_code: str | None) -> str:
        """Region of a 6-digit county code (first two digits = province); `default` if unknown."""
        return self.provinces.get(str(county_code or "")[:2], "default")

    def lookup(self, land_class: str, region: str = "default", county_code: str | None = None) -> Threshold | None:
        """Province rows, then region rows, then default; exact code before its group."""
        chain = []
        if county_code:
            chain += [str(county_code)[:2], self.region_of(county_code)]
        chain += [region, "default"]
        for reg in dict.fromkeys(chain):
            for key in dict.fromkeys((land_class, land_class[:2])):
                for r in self.rows:
                    if r.region == reg and r.land_class == key:
                        return r
        return None


def load_thresholds(path: Path) -> ThresholdTable:
    if not Path(path).is_file():
        raise ThresholdError(f"阈值表不存在 thresholds file not found: {path}")
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
    provinces = dict(DEFAULT_PROVINCES)
    for k, v in (raw.get("provinces") or {}).items():
        k = str(k).zfill(2)
        if not (len(k) == 2 and k.isdigit()) or not isinstance(v, str) or not v:
            raise ThresholdError(f"{path}: provinces: {k!r} -> {v!r} must map a 2-digit code to a region name")
        provinces[k] = v
    return ThresholdTable(tuple(rows), provinces)
