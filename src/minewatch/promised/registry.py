"""The mining-right registry (采矿权登记): CSV with 拐点坐标 text, or GeoJSON / GeoPackage.

CSV: columns ``REGISTRY_COLUMNS``, in UTF-8 (with or without Excel's BOM), UTF-16 (with
or without BOM) or GB18030/GBK as Chinese Excel exports it; the encoding is detected and
said (a warning finding when it is not UTF-8). The boundary is the licence's 拐点坐标 text
in ``corner_points`` (see :mod:`minewatch.promised.coords`). GeoJSON / GeoPackage: the
same attributes, the boundary as geometry (GeoJSON is RFC 7946 lon/lat, taken as
CGCS2000; other CRSs are transformed to EPSG:4490).

One bad row never costs the others: each bad value is a :class:`Finding` naming file,
row, field and value, the row is left out, and every good row is returned. Rows are
numbered as in a spreadsheet (header = row 1, first record = row 2).
"""
from __future__ import annotations

import codecs
import csv
import io
import logging
import math
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from shapely.geometry import MultiPolygon, Polygon
from shapely.validation import explain_validity

from .coords import (
    GEOGRAPHIC_EPSG,
    CoordinateError,
    format_corner_points,
    parse_corner_points,
)
from .findings import ERROR, WARNING, Finding
from .models import MiningRight

__all__ = ["REGISTRY_COLUMNS", "RULE_PREFIX", "RegistryRead", "read_registry", "registry_encoding",
           "write_registry_csv"]

log = logging.getLogger("minewatch")

REGISTRY_COLUMNS = (
    "license_no", "holder", "mine_name", "valid_from", "valid_to", "county_code", "mineral",
    "mining_method", "abnormal_list", "seriously_dishonest", "contact_name", "contact_phone",
    "contact_address", "corner_points",
)
RULE_PREFIX = "REGISTRY_"      # every registry finding's rule starts with it
_REQUIRED = ("license_no", "holder", "mine_name", "valid_from", "valid_to", "county_code")
_TRUE = {"true", "1", "yes", "y", "是", "√"}
_FALSE = {"false", "0", "no", "n", "否", "×", ""}
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_ENCODING_ZH = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8(BOM)", "utf-16": "UTF-16", "utf-16-le": "UTF-16LE",
                "utf-16-be": "UTF-16BE", "utf-32": "UTF-32", "gb18030": "GB18030/GBK"}


@dataclass(frozen=True)
class RegistryRead:
    """The good rights, a finding per bad value (rows left out), and the CSV's encoding
    ("" for GeoJSON / GeoPackage)."""
    rights: list[MiningRight]
    findings: list[Finding]
    encoding: str = ""


def registry_encoding(data: bytes) -> tuple[str, bool]:
    """(codec, certain): from the BOM, from the NUL bytes of UTF-16 text without one, else the
    first of UTF-8 and GB18030 (GBK's superset) that decodes every byte; ("utf-8", False)
    when none does (the text is then read with U+FFFD for the bytes that do not decode)."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return codec, True
    head = data[:4096]
    if head.count(0) * 4 > len(head):            # ASCII in UTF-16: every other byte NUL
        return ("utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"), True
    for codec in ("utf-8", "gb18030"):
        try:
            data.decode(codec)
        except UnicodeDecodeError:
            continue
        return codec, True
    return "utf-8", False


class _Rows:
    """Findings of one registry file, and the licences already taken by a good row."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.findings: list[Finding] = []
        self.seen: dict[str, int] = {}

    def add(self, row: int | None, fld: str, value: Any, rule: str, msg: str, severity: str = ERROR) -> None:
        self.findings.append(Finding(file=self.file, sheet="", row=row, field=fld, value=_text(value),
                                     rule=RULE_PREFIX + rule, severity=severity, message_zh=msg))


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


def _row_to_right(rec: dict[str, Any], rowno: int, geometry, rows: _Rows) -> MiningRight | None:
    """One record as a right, or None with a finding for each bad value."""
    n_before = len(rows.findings)

    def bad(fld: str, value: Any, rule: str, msg: str) -> None:
        rows.add(rowno, fld, value, rule, msg)

    vals = {k: _text(rec.get(k)) for k in REGISTRY_COLUMNS if k != "corner_points"}
    for k in _REQUIRED:
        if not vals[k]:
            bad(k, "", "MISSING_VALUE", "必填项为空 / required value is empty")
    lic = vals["license_no"]
    if lic in rows.seen:
        bad("license_no", lic, "DUPLICATE_LICENCE", f"采矿权证号与第{rows.seen[lic]}行重复, 本行未采用 / "
                                                    f"duplicate licence number (row {rows.seen[lic]} is used)")
    if vals["county_code"] and not re.fullmatch(r"\d{6}", vals["county_code"]):
        bad("county_code", vals["county_code"], "BAD_COUNTY_CODE",
            "县级行政区划代码应为6位数字 / county_code must be 6 digits")
    dates: dict[str, date] = {}
    for k in ("valid_from", "valid_to"):
        if vals[k]:
            try:
                dates[k] = date.fromisoformat(vals[k][:10] if re.match(r"^\d{4}-\d{2}-\d{2}[ T]", vals[k])
                                              else vals[k])
            except ValueError:
                bad(k, vals[k], "BAD_DATE", "日期应为ISO格式YYYY-MM-DD / date must be ISO YYYY-MM-DD")
    if len(dates) == 2 and dates["valid_from"] > dates["valid_to"]:
        bad("valid_to", vals["valid_to"], "BAD_VALIDITY", "有效期止早于有效期起 / valid_to is before valid_from")
    flags: dict[str, bool] = {}
    for k in ("abnormal_list", "seriously_dishonest"):
        s = vals[k].lower()
        if s in _TRUE:
            flags[k] = True
        elif s in _FALSE:
            flags[k] = False
        else:
            bad(k, vals[k], "BAD_FLAG", "应为true/false / must be true or false")
    if geometry is None:
        bad("corner_points" if "corner_points" in rec else "geometry", "", "BAD_BOUNDARY",
            "缺少矿区范围 / boundary is missing")
    elif isinstance(geometry, str):
        try:
            geometry = parse_corner_points(geometry)
        except CoordinateError as e:
            bad("corner_points", geometry, "BAD_BOUNDARY", str(e))
            geometry = None
    else:
        if not isinstance(geometry, (Polygon, MultiPolygon)) or geometry.is_empty:
            bad("geometry", geometry.geom_type, "BAD_BOUNDARY", "矿区范围应为面 / boundary must be a (multi)polygon")
            geometry = None
        elif not geometry.is_valid:
            bad("geometry", geometry.geom_type, "BAD_BOUNDARY", f"矿区范围无效 / invalid boundary: "
                                                                f"{explain_validity(geometry)}")
            geometry = None
    if len(rows.findings) > n_before:
        return None
    rows.seen[lic] = rowno
    return MiningRight(
        license_no=lic, holder=vals["holder"], mine_name=vals["mine_name"],
        valid_from=dates["valid_from"], valid_to=dates["valid_to"],
        county_code=vals["county_code"], boundary=geometry, mineral=vals["mineral"],
        mining_method=vals["mining_method"], abnormal_list=flags["abnormal_list"],
        seriously_dishonest=flags["seriously_dishonest"], contact_name=vals["contact_name"],
        contact_phone=vals["contact_phone"], contact_address=vals["contact_address"])


def _one_row(rec: dict[str, Any], rowno: int, geometry, rows: _Rows) -> MiningRight | None:
    """_row_to_right, and what it did not foresee (a value no parser expected) as the row's
    finding: a bad row never costs the file."""
    try:
        return _row_to_right(rec, rowno, geometry, rows)
    except Exception as e:  # noqa: BLE001 - isolation of one row is the point
        rows.add(rowno, "", "", "BAD_ROW", f"本行无法读取 / row unreadable: {type(e).__name__}: {e}")
        return None


def read_registry(path: str | Path) -> RegistryRead:
    """Mining rights from .csv (拐点坐标 text) or .geojson/.json/.gpkg (geometry).

    Never raises for what is in the file (a file that cannot be opened raises OSError).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    rows = _Rows(path.name)
    if suffix == ".csv":
        out, encoding = _read_csv(path, rows)
    elif suffix in (".geojson", ".json", ".gpkg"):
        out, encoding = _read_geo(path, rows), ""
    else:
        rows.add(None, "", suffix, "UNREADABLE",
                 "不支持的文件类型(应为.csv/.geojson/.gpkg) / unsupported file type")
        out, encoding = [], ""
    n_bad = len({f.row for f in rows.findings if f.severity == ERROR})
    log.info("registry %s%s: %d rights, %d bad rows left out", path.name,
             f" ({encoding})" if encoding else "", len(out), n_bad)
    return RegistryRead(out, rows.findings, encoding)


def _read_csv(path: Path, rows: _Rows) -> tuple[list[MiningRight], str]:
    data = path.read_bytes()
    encoding, certain = registry_encoding(data)
    if not certain:
        rows.add(None, "encoding", "", "ENCODING", "编码无法识别(不是UTF-8/UTF-16/GB18030), 按UTF-8读取, 无法解码的字符"
                 "显示为\ufffd / encoding not recognised: read as UTF-8 with U+FFFD for undecodable bytes")
    elif encoding not in ("utf-8", "utf-8-sig"):
        rows.add(None, "encoding", _ENCODING_ZH[encoding], "ENCODING",
                 f"文件编码为{_ENCODING_ZH[encoding]}, 已按此读取(建议另存为UTF-8) / read as {encoding}",
                 severity=WARNING)
    text = data.decode(encoding, errors="replace")
    with _field_limit(len(text)):
        return _csv_rights(csv.DictReader(io.StringIO(text, newline="")), rows), encoding


@contextmanager
def _field_limit(n: int) -> Iterator[None]:
    """csv's field size limit (128 Ki characters) raised to the text's length while it is
    read: the text is in memory already, and a reader that stops inside a record resumes
    in the middle of it (a multi-line 拐点坐标 cell), turning the rows after it to garbage."""
    old = csv.field_size_limit()
    csv.field_size_limit(max(old, n + 1))
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _csv_rights(reader: csv.DictReader, rows: _Rows) -> list[MiningRight]:
    try:
        cols = [(c or "").strip() for c in (reader.fieldnames or [])]
    except csv.Error as e:
        cols = []
        rows.add(1, "", "", "UNREADABLE", f"表头无法读取 / header unreadable: {e}")
    missing = [c for c in (*_REQUIRED, "corner_points") if c not in cols]
    for c in missing:
        rows.add(1, c, "", "MISSING_COLUMN", "缺少列 / missing column")
    if missing:
        return []
    out: list[MiningRight] = []
    it = iter(reader)
    rowno = 1                    # records as spreadsheet rows: a multi-line 拐点坐标 cell is one row
    while True:
        rowno += 1
        try:
            raw = next(it)
        except StopIteration:
            break
        except csv.Error as e:   # what the csv module still refuses: that row only
            rows.add(rowno, "", "", "BAD_ROW", f"本行无法读取 / row unreadable: {e}")
            continue
        rec = {(k or "").strip(): v for k, v in raw.items() if isinstance(v, str)}
        cp = rec.get("corner_points") or ""
        right = _one_row(rec, rowno, cp if cp.strip() else None, rows)
        if right is not None:
            out.append(right)
    return out


def _read_geo(path: Path, rows: _Rows) -> list[MiningRight]:
    import geopandas as gpd
    try:
        gdf = gpd.read_file(path)
    except Exception as e:  # noqa: BLE001 - pyogrio DataSourceError etc.: the file's finding
        rows.add(None, "", "", "UNREADABLE", f"无法读取 / cannot read: {type(e).__name__}: {e}")
        return []
    missing = [c for c in _REQUIRED if c not in gdf.columns]
    for c in missing:
        rows.add(1, c, "", "MISSING_COLUMN", "缺少字段 / missing attribute")
    if missing:
        return []
    if gdf.crs is not None and gdf.crs.to_epsg() not in (GEOGRAPHIC_EPSG, 4326):
        gdf = gdf.to_crs(GEOGRAPHIC_EPSG)
    out = []
    for i, (_, rec) in enumerate(gdf.iterrows(), start=2):
        right = _one_row(rec.to_dict(), i, rec.geometry, rows)
        if right is not None:
            out.append(right)
    return out


def _bool(v: bool) -> str:
    return "true" if v else "false"


def write_registry_csv(rights: Iterable[MiningRight], path: str | Path) -> Path:
    """Write rights as UTF-8 CSV; the boundary as canonical 拐点坐标 text (3° zone, 2 decimals).

    An input file (the sample's and the tests' registries), so values are written exactly as
    :func:`read_registry` must read them back: no ``'`` before formula-like text (the run
    folder's spreadsheets neutralise it, :mod:`minewatch.plumbing.cells`)."""
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
