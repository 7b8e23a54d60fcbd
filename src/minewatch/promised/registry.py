"""The mining-right registry (采矿权登记): CSV with 拐点坐标 text, or GeoJSON / GeoPackage.

CSV: UTF-8 (a BOM from Excel is accepted), columns ``REGISTRY_COLUMNS``; the boundary is
the licence's 拐点坐标 text in ``corner_points`` (see :mod:`minewatch.promised.coords`).
GeoJSON / GeoPackage: the same attributes, the boundary as geometry (GeoJSON is RFC 7946
lon/lat, taken as CGCS2000; other CRSs are transformed to EPSG:4490).

All bad rows are collected and reported together in one :class:`RegistryError`; rows are
numbered as in a spreadsheet (header = row 1, first record = row 2).
"""
from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable

from shapely.geometry import MultiPolygon, Polygon
from shapely.validation import explain_validity

from .coords import GEOGRAPHIC_EPSG, CoordinateError, format_corner_points, parse_corner_points
from .models import MiningRight

__all__ = ["REGISTRY_COLUMNS", "RegistryError", "RegistryProblem", "read_registry",
           "write_registry_csv"]

REGISTRY_COLUMNS = (
    "license_no", "holder", "mine_name", "valid_from", "valid_to", "county_code", "mineral",
    "mining_method", "abnormal_list", "seriously_dishonest", "contact_name", "contact_phone",
    "contact_address", "corner_points",
)
_REQUIRED = ("license_no", "holder", "mine_name", "valid_from", "valid_to", "county_code")
_TRUE = {"true", "1", "yes", "y", "是", "√"}
_FALSE = {"false", "0", "no", "n", "否", "×", ""}


@dataclass(frozen=True)
class RegistryProblem:
    row: int | None
    field: str
    value: str
    message: str

    def __str__(self) -> str:
        where = f"第{self.row}行" if self.row is not None else "文件"
        return f"{where} {self.field}={self.value!r}: {self.message}"


class RegistryError(ValueError):
    """Bad registry rows; ``problems`` lists each (row, field, value, message)."""

    def __init__(self, file: str, problems: list[RegistryProblem]) -> None:
        self.file = file
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems[:50])
        more = f"\n  ... 另有{len(problems) - 50}处" if len(problems) > 50 else ""
        super().__init__(f"{file}: 采矿权登记数据有{len(problems)}处错误 / "
                         f"{len(problems)} bad registry value(s):\n{lines}{more}")


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        if v == int(v):
            return str(int(v))
    if isinstance(v, datetime):
        return v.date().isoformat()
    if isinstance(v, date):
        return v.isoformat()
    try:  # pandas NaT / NA
        import pandas as pd
        if v is pd.NaT or (not isinstance(v, (str, bytes)) and pd.isna(v)):
            return ""
        if isinstance(v, pd.Timestamp):
            return v.date().isoformat()
    except (ImportError, TypeError, ValueError):
        pass
    return str(v).strip()


def _row_to_right(rec: dict[str, Any], rowno: int, geometry: Any, problems: list[RegistryProblem],
                  seen: dict[str, int]) -> MiningRight | None:
    n_before = len(problems)

    def bad(fld: str, value: Any, msg: str) -> None:
        problems.append(RegistryProblem(rowno, fld, _text(value), msg))

    vals = {k: _text(rec.get(k)) for k in REGISTRY_COLUMNS if k != "corner_points"}
    for k in _REQUIRED:
        if not vals[k]:
            bad(k, "", "必填项为空 / required value is empty")
    lic = vals["license_no"]
    if lic:
        if lic in seen:
            bad("license_no", lic, f"采矿权证号与第{seen[lic]}行重复 / duplicate licence number "
                                   f"(first in row {seen[lic]})")
        else:
            seen[lic] = rowno
    if vals["county_code"] and not re.fullmatch(r"\d{6}", vals["county_code"]):
        bad("county_code", vals["county_code"], "县级行政区划代码应为6位数字 / county_code must be 6 digits")
    dates: dict[str, date] = {}
    for k in ("valid_from", "valid_to"):
        if vals[k]:
            try:
                dates[k] = date.fromisoformat(vals[k][:10] if re.match(r"^\d{4}-\d{2}-\d{2}[ T]", vals[k])
                                              else vals[k])
            except ValueError:
                bad(k, vals[k], "日期应为ISO格式YYYY-MM-DD / date must be ISO YYYY-MM-DD")
    if len(dates) == 2 and dates["valid_from"] > dates["valid_to"]:
        bad("valid_to", vals["valid_to"], "有效期止早于有效期起 / valid_to is before valid_from")
    flags: dict[str, bool] = {}
    for k in ("abnormal_list", "seriously_dishonest"):
        s = vals[k].lower()
        if s in _TRUE:
            flags[k] = True
        elif s in _FALSE:
            flags[k] = False
        else:
            bad(k, vals[k], "应为true/false / must be true or false")
    if geometry is None:
        bad("corner_points" if "corner_points" in rec else "geometry", "",
            "缺少矿区范围 / boundary is missing")
    elif isinstance(geometry, str):
        try:
            geometry = parse_corner_points(geometry)
        except CoordinateError as e:
            bad("corner_points", geometry, str(e))
            geometry = None
    else:
        if not isinstance(geometry, (Polygon, MultiPolygon)) or geometry.is_empty:
            bad("geometry", geometry.geom_type, "矿区范围应为面 / boundary must be a (multi)polygon")
            geometry = None
        elif not geometry.is_valid:
            bad("geometry", geometry.geom_type, f"矿区范围无效 / invalid boundary: "
                                                f"{explain_validity(geometry)}")
            geometry = None
    if len(problems) > n_before:
        return None
    return MiningRight(
        license_no=lic, holder=vals["holder"], mine_name=vals["mine_name"],
        valid_from=dates["valid_from"], valid_to=dates["valid_to"],
        county_code=vals["county_code"], boundary=geometry, mineral=vals["mineral"],
        mining_method=vals["mining_method"], abnormal_list=flags["abnormal_list"],
        seriously_dishonest=flags["seriously_dishonest"], contact_name=vals["contact_name"],
        contact_phone=vals["contact_phone"], contact_address=vals["contact_address"])


def read_registry(path: str | Path) -> list[MiningRight]:
    """Read mining rights from .csv (拐点坐标 text) or .geojson/.json/.gpkg (geometry)."""
    path = Path(path)
    suffix = path.suffix.lower()
    problems: list[RegistryProblem] = []
    seen: dict[str, int] = {}
    out: list[MiningRight] = []
    if suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            cols = [c.strip() for c in (reader.fieldnames or [])]
            missing = [c for c in (*_REQUIRED, "corner_points") if c not in cols]
            if missing:
                raise RegistryError(path.name, [RegistryProblem(1, c, "", "缺少列 / missing column")
                                                for c in missing])
            for i, raw in enumerate(reader, start=2):
                rec = {(k or "").strip(): v for k, v in raw.items()}
                cp = rec.get("corner_points") or ""
                right = _row_to_right(rec, i, cp if cp.strip() else None, problems, seen)
                if right is not None:
                    out.append(right)
    elif suffix in (".geojson", ".json", ".gpkg"):
        import geopandas as gpd
        try:
            gdf = gpd.read_file(path)
        except Exception as e:  # pyogrio DataSourceError etc.
            raise RegistryError(path.name, [RegistryProblem(None, "", "", f"无法读取 / cannot read: {e}")]) \
                from None
        missing = [c for c in _REQUIRED if c not in gdf.columns]
        if missing:
            raise RegistryError(path.name, [RegistryProblem(1, c, "", "缺少字段 / missing attribute")
                                            for c in missing])
        if gdf.crs is not None and gdf.crs.to_epsg() not in (GEOGRAPHIC_EPSG, 4326):
            gdf = gdf.to_crs(GEOGRAPHIC_EPSG)
        for i, (_, rec) in enumerate(gdf.iterrows(), start=2):
            geom = rec.geometry
            right = _row_to_right(rec.to_dict(), i, geom if geom is not None else None,
                                  problems, seen)
            if right is not None:
                out.append(right)
    else:
        raise RegistryError(path.name, [RegistryProblem(
            None, "", suffix, "不支持的文件类型(应为.csv/.geojson/.gpkg) / unsupported file type")])
    if problems:
        raise RegistryError(path.name, problems)
    return out


def _bool(v: bool) -> str:
    return "true" if v else "false"


def write_registry_csv(rights: Iterable[MiningRight], path: str | Path) -> Path:
    """Write rights as UTF-8 CSV; the boundary as canonical 拐点坐标 text (3° zone, 2 decimals)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(REGISTRY_COLUMNS)
        for r in rights:
            w.writerow([
                r.license_no, r.holder, r.mine_name, r.valid_from.isoformat(), r.valid_to.isoformat(),
                r.county_code, r.mineral, r.mining_method, _bool(r.abnormal_list),
                _bool(r.seriously_dishonest), r.contact_name, r.contact_phone, r.contact_address,
                format_corner_points(r.boundary),
            ])
    return path
