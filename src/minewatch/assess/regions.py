"""The TD/T 1036-2013 reclamation regions: which region a county is in, and its season.

The table is a YAML file (the packaged ``minewatch/data/regions.yaml``, or
``assess.regions``): the ten regions (English key, Chinese name, peak-growth season,
source), every province's default region (its 2-digit code) and overrides for prefectures
(4 digits) and counties (6 digits) where a province spans two regions. Every mapping row
says where it comes from (``source``). ``region_of`` takes the longest code that matches:
county, then prefecture, then province; a code that matches none is ``default``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["DEFAULT", "RegionError", "RegionInfo", "RegionTable", "Mapping", "load_regions"]

DEFAULT = "default"           # the region of a county code no row maps (the threshold table's fallback rows)
SEASON = r"^[0-9]{2}-[0-9]{2}/[0-9]{2}-[0-9]{2}$"


class RegionError(Exception):
    pass


class RegionInfo(BaseModel):
    """One reclamation region."""
    model_config = ConfigDict(extra="forbid", frozen=True)
    name_zh: str = Field(min_length=1)
    season: str = Field(pattern=SEASON)      # MM-DD/MM-DD peak-growth window
    provisional: bool = True
    source: str = Field(min_length=1)

    @property
    def season_mmdd(self) -> tuple[str, str]:
        start, end = self.season.split("/")
        return start, end


class Mapping(BaseModel):
    """One province, prefecture or county -> region row."""
    model_config = ConfigDict(extra="forbid", frozen=True)
    region: str = Field(min_length=1)
    source: str = Field(min_length=1)


@dataclass(frozen=True)
class RegionTable:
    regions: dict[str, RegionInfo] = field(default_factory=dict)
    codes: dict[str, Mapping] = field(default_factory=dict)     # 2-, 4- or 6-digit code -> row

    def mapping_of(self, county_code: str | None) -> tuple[str, Mapping] | None:
        """(the code that matched, its row) for a 6-digit county code: county, prefecture, province."""
        c = str(county_code or "")
        for n in (6, 4, 2):
            if len(c) >= n and c[:n] in self.codes:
                return c[:n], self.codes[c[:n]]
        return None

    def region_of(self, county_code: str | None) -> str:
        """The region key of a county code (``default`` when no row maps it)."""
        m = self.mapping_of(county_code)
        return m[1].region if m else DEFAULT

    def season_of(self, region: str) -> tuple[str, str] | None:
        """The region's MM-DD window (None: unknown region or ``default``)."""
        r = self.regions.get(region)
        return r.season_mmdd if r else None

    def name_zh(self, region: str) -> str:
        r = self.regions.get(region)
        return r.name_zh if r else region


def load_regions(path: Path) -> RegionTable:
    """The table at `path`; RegionError names the row that does not validate."""
    if not Path(path).is_file():
        raise RegionError(f"复垦区划表不存在 regions file not found: {path}")
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    try:
        regions = {str(k): RegionInfo(**v) for k, v in (raw.get("regions") or {}).items()}
    except (ValidationError, TypeError) as e:
        raise RegionError(f"{path}: regions: {e}") from e
    if not regions:
        raise RegionError(f"{path}: no regions")
    codes: dict[str, Mapping] = {}
    for section, sizes in (("provinces", (2,)), ("overrides", (4, 6))):
        for k, v in (raw.get(section) or {}).items():
            k = str(k)
            try:
                m = Mapping(**v)
            except (ValidationError, TypeError) as e:
                raise RegionError(f"{path}: {section}: {k}: {e}") from e
            if not (k.isdigit() and len(k) in sizes):
                raise RegionError(f"{path}: {section}: {k!r} must be a {' or '.join(map(str, sizes))}-digit code")
            if m.region not in regions:
                raise RegionError(f"{path}: {section}: {k} -> unknown region {m.region!r}")
            codes[k] = m
    return RegionTable(regions, codes)
