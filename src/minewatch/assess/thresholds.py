"""Thresholds as sourced data: (region, 三调 land class) -> expected measure and value."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ThresholdError(Exception):
    pass


class Threshold(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    region: str
    land_class: str = Field(pattern=r"^[0-9]{2}([0-9]{2}|H[0-9])?[A-Z]?$")
    measure: str = Field(pattern=r"^(fvc|none)$")
    min: float | None = Field(None, ge=0, le=1)
    provisional: bool = True
    source: str = Field(min_length=1)


@dataclass(frozen=True)
class ThresholdTable:
    rows: tuple[Threshold, ...]

    def lookup(self, land_class: str, region: str = "default") -> Threshold | None:
        """Exact code first, then its first-level group; the region's rows before default."""
        for reg in dict.fromkeys((region, "default")):
            for key in (land_class, land_class[:2]):
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
        if t.measure == "fvc" and t.min is None:
            raise ThresholdError(f"{path}: row {i + 1}: measure fvc needs `min`")
        rows.append(t)
    if not rows:
        raise ThresholdError(f"{path}: no threshold rows")
    return ThresholdTable(tuple(rows))
