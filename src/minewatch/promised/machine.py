"""The annual plan in a machine format, equivalent to the 附表 .xlsx.

Two files:

* a GeoJSON FeatureCollection (RFC 7946) of the units, one Feature per table row, in
  table order. Geometry: Polygon/MultiPolygon in lon/lat degrees (CGCS2000 EPSG:4490, which
  RFC 7946 readers take as WGS 84; the two differ by centimetres), exterior rings
  counter-clockwise. Properties: ``section`` (restored | damage | planned), ``seq``,
  ``is_temporary``, ``land_class`` (三调 code), ``area_hm2``, ``quality``, ``accepted``,
  ``problem_type``, ``damage_degree``, ``measures``, ``corner_points`` (the 拐点坐标 text as
  filed; when given it is the unit's legal extent and must describe the same polygon as the
  geometry).
* a YAML (or JSON, by the ``.json`` suffix) mapping of the plan's attributes, keys named as
  the fields of :class:`~minewatch.promised.models.AnnualPlan`: ``plan_year``,
  ``license_no``, ``holder``, ``mine_name``, ``validity``, ``contact_name``,
  ``contact_phone``, ``contact_address``, the four ``fees_*`` amounts (万元) and
  ``submitted`` (date or null).

:func:`read_plan_machine` returns the same :class:`PlanReadResult` as
:func:`~minewatch.promised.planreader.read_plan_xlsx`: bad values become findings (``file`` the
file's name, ``row`` the 1-based feature number, i.e. ``features[row-1]``, ``None`` for the
attribute file, ``field`` the property or key), a unit with an error is left out, land
classes are checked against the same 三调 catalogue. A file that is not JSON/YAML or not a
FeatureCollection raises :class:`~minewatch.promised.package.PlanFormatError`.
"""
from __future__ import annotations

import json
import math
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient
from shapely.validation import explain_validity

from .coords import CoordinateError, area_hm2, parse_corner_points
from .findings import ERROR, WARNING, Finding
from .landclasses import group_of_name, lookup
from .models import PLANNED, SECTIONS, AnnualPlan, Unit
from .package import MAX_FILE_BYTES, PlanFormatError
from .planreader import DEFAULT_AREA_TOLERANCE, PlanReadResult
from .table import CAPTIONS, COLUMNS

__all__ = ["write_plan_machine", "read_plan_machine", "UNIT_PROPERTIES", "PLAN_ATTRIBUTES"]

UNIT_PROPERTIES = ("section", "seq", "is_temporary", "land_class", "area_hm2", "quality", "accepted",
                   "problem_type", "damage_degree", "measures", "corner_points")
_TEXT_ATTRS = ("license_no", "holder", "mine_name", "validity", "contact_name", "contact_phone",
               "contact_address")
_FEES = ("fees_last_year_drawn", "fees_last_year_used", "fees_this_year_planned_draw",
         "fees_this_year_planned_use")
PLAN_ATTRIBUTES = ("plan_year",) + _TEXT_ATTRS + _FEES + ("submitted",)
_SECTION_OF = {**{s: s for s in SECTIONS}, **{v: k for k, v in CAPTIONS.items()}}
# properties that a section's table has (the rest must be empty there)
_APPLIES = {s: {f for f, _ in cols} for s, cols in COLUMNS.items()}
_HAUSDORFF_DEG = 1e-7  # ~1 cm: geometry written by a GIS with fewer digits still matches


# ============================================================================ writer

def _oriented(g: BaseGeometry) -> BaseGeometry:
    if g.geom_type == "Polygon":
        return orient(g, sign=1.0)
    if g.geom_type == "MultiPolygon":
        return type(g)([orient(p, sign=1.0) for p in g.geoms])
    return g


def _geojson_geometry(g: BaseGeometry) -> dict:
    def lists(c: Any) -> list:
        return [lists(x) for x in c] if isinstance(c, (list, tuple)) and c and isinstance(
            c[0], (list, tuple)) else [float(x) for x in c]
    m = mapping(_oriented(g))
    return {"type": m["type"], "coordinates": lists(m["coordinates"])}


def _money(v: float | None) -> float | None:
    return None if v is None else round(float(v), 4)


def write_plan_machine(plan: AnnualPlan, geojson_path: str | Path, attrs_path: str | Path) -> tuple[Path, Path]:
    """Write ``plan`` as GeoJSON units + YAML/JSON attributes. Same plan -> same bytes."""
    geojson_path, attrs_path = Path(geojson_path), Path(attrs_path)
    features = []
    for u in plan.units:
        props = {
            "section": u.section, "seq": u.seq, "is_temporary": bool(u.is_temporary),
            "land_class": u.land_class, "area_hm2": None if u.area_hm2 is None else round(float(u.area_hm2), 4),
            "quality": u.quality, "accepted": u.accepted, "problem_type": u.problem_type,
            "damage_degree": u.damage_degree, "measures": u.measures, "corner_points": u.corner_points,
        }
        features.append({"type": "Feature", "properties": props, "geometry": _geojson_geometry(u.geometry)})
    # one feature a line: readable diffs, still plain RFC 7946 JSON
    body = ",\n".join(json.dumps(f, ensure_ascii=False) for f in features)
    geojson_path.parent.mkdir(parents=True, exist_ok=True)
    geojson_path.write_text('{"type": "FeatureCollection", "features": [\n' + body + "\n]}\n",
                            encoding="utf-8")

    attrs: dict[str, Any] = {"plan_year": plan.plan_year}
    attrs.update({k: getattr(plan, k) for k in _TEXT_ATTRS})
    attrs.update({k: _money(getattr(plan, k)) for k in _FEES})
    attrs["submitted"] = plan.submitted
    attrs_path.parent.mkdir(parents=True, exist_ok=True)
    if attrs_path.suffix.lower() == ".json":
        attrs["submitted"] = plan.submitted.isoformat() if plan.submitted else None
        text = json.dumps(attrs, ensure_ascii=False, indent=1) + "\n"
    else:
        text = (f"# {plan.plan_year}年度矿区生态修复情况表: plan attributes (minewatch machine format).\n"
                f"# Units: {geojson_path.name}. Fees in 万元, 4 decimals; submitted: date received.\n"
                + yaml.safe_dump(attrs, allow_unicode=True, sort_keys=False))
    attrs_path.write_text(text, encoding="utf-8")
    return geojson_path, attrs_path


# ============================================================================ reader

def _load(path: Path, kind: str) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: 文件不存在 / no such file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise PlanFormatError(f"{path.name}: 文件过大 / file larger than {MAX_FILE_BYTES} bytes")
    try:
        text = path.read_text(encoding="utf-8-sig")
        return json.loads(text) if kind == "json" else yaml.safe_load(text)
    except (UnicodeDecodeError, ValueError, yaml.YAMLError) as e:
        raise PlanFormatError(f"{path.name}: 无法解析 / not readable {kind.upper()}: "
                              f"{type(e).__name__}: {e}") from None


def _num(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        if isinstance(v, str):
            v = float(v.strip())  # ValueError for junk
        else:
            raise ValueError(v)
    v = float(v)
    if not math.isfinite(v):
        raise ValueError(v)
    return v


def _bool(v: Any) -> bool | None:
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, str):
        s = v.strip().lower()
        if s in ("是", "true", "yes", "√", "1"):
            return True
        if s in ("否", "false", "no", "×", "0"):
            return False
        if s == "":
            return None
    raise ValueError(v)


def _text(v: Any) -> str:
    """Text property: None -> "", numbers (YAML reads an unquoted phone as int) -> str."""
    if v is None:
        return ""
    if isinstance(v, str):
        return v.strip()
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    raise ValueError(v)


def read_plan_machine(geojson_path: str | Path, attrs_path: str | Path, *,
                      area_tolerance: float = DEFAULT_AREA_TOLERANCE) -> PlanReadResult:
    """Read the GeoJSON + attributes pair into an :class:`AnnualPlan` plus findings."""
    geojson_path, attrs_path = Path(geojson_path), Path(attrs_path)
    gfile, afile = geojson_path.name, attrs_path.name
    findings: list[Finding] = []

    def add(file: str, row: int | None, fld: str, value: Any, rule: str, severity: str, msg: str) -> None:
        shown = "" if value is None else (json.dumps(value, ensure_ascii=False, default=str)
                                          if not isinstance(value, str) else value)
        findings.append(Finding(file=file, sheet="", row=row, field=fld, value=shown, rule=rule,
                                severity=severity, message_zh=msg))

    attrs = _load(attrs_path, "yaml")  # JSON is YAML
    if attrs is None:
        attrs = {}
    if not isinstance(attrs, dict):
        raise PlanFormatError(f"{afile}: 应为键值对(mapping) / attributes file is not a mapping")
    fc = _load(geojson_path, "json")
    if not isinstance(fc, dict) or fc.get("type") != "FeatureCollection" or not isinstance(
            fc.get("features"), list):
        raise PlanFormatError(f"{gfile}: 不是GeoJSON FeatureCollection / not a GeoJSON FeatureCollection")

    # ---- attributes
    for k in attrs:
        if k not in PLAN_ATTRIBUTES:
            add(afile, None, str(k), attrs[k], "UNKNOWN_FIELD", WARNING, f"未知字段“{k}”, 已忽略")
    year = attrs.get("plan_year")
    if year is None:
        add(afile, None, "plan_year", None, "MISSING_PLAN_YEAR", ERROR, "缺少计划年度 plan_year")
    elif isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2200:
        add(afile, None, "plan_year", year, "BAD_PLAN_YEAR", ERROR, "计划年度应为四位整数年份")
        year = None
    text: dict[str, str] = {}
    for k in _TEXT_ATTRS:
        try:
            text[k] = _text(attrs.get(k))
        except ValueError:
            add(afile, None, k, attrs.get(k), "BAD_VALUE", ERROR, f"“{k}”应为文字")
            text[k] = ""
        if k in ("license_no", "holder", "mine_name") and not text[k]:
            add(afile, None, k, "", "MISSING_HEADER_VALUE", ERROR if k == "license_no" else WARNING,
                f"“{k}”未填写")
    fees: dict[str, float | None] = {}
    for k in _FEES:
        v = attrs.get(k)
        fees[k] = None
        if v is None or v == "":
            continue
        try:
            amount = _num(v)
        except ValueError:
            add(afile, None, k, v, "BAD_MONEY", ERROR, "金额无法识别, 应为以万元为单位的数字")
            continue
        if amount < 0:
            add(afile, None, k, v, "NEGATIVE_MONEY", ERROR, "金额不能为负数")
            continue
        fees[k] = round(amount, 4)
    submitted = attrs.get("submitted")
    if isinstance(submitted, datetime):
        submitted = submitted.date()
    elif isinstance(submitted, str) and submitted.strip():
        try:
            submitted = date.fromisoformat(submitted.strip())
        except ValueError:
            add(afile, None, "submitted", submitted, "BAD_DATE", ERROR, "报送日期应为YYYY-MM-DD")
            submitted = None
    elif not isinstance(submitted, date):
        if submitted not in (None, ""):
            add(afile, None, "submitted", submitted, "BAD_DATE", ERROR, "报送日期应为YYYY-MM-DD")
        submitted = None

    # ---- units
    units: list[Unit] = []
    counts = {s: 0 for s in SECTIONS}
    for i, feat in enumerate(fc["features"], start=1):
        errors = 0

        def bad(fld: str, value: Any, rule: str, msg: str, severity: str = ERROR, i: int = i) -> None:
            nonlocal errors
            errors += severity == ERROR
            add(gfile, i, fld, value, rule, severity, f"第{i}个要素: {msg}")

        if not isinstance(feat, dict) or feat.get("type") != "Feature":
            bad("", None, "BAD_FEATURE", "不是GeoJSON Feature")
            continue
        props = feat.get("properties") or {}
        if not isinstance(props, dict):
            bad("properties", props, "BAD_FEATURE", "properties应为对象")
            continue
        for k in props:
            if k not in UNIT_PROPERTIES:
                bad(str(k), props[k], "UNKNOWN_FIELD", f"未知属性“{k}”, 已忽略", WARNING)
        sec = props.get("section")
        section = _SECTION_OF.get(sec) if isinstance(sec, str) else None
        if section is None:
            bad("section", props.get("section"), "BAD_SECTION",
                f"section应为{'/'.join(SECTIONS)}之一")
            continue
        counts[section] += 1
        applies = _APPLIES[section]
        for k in ("is_temporary", "land_class", "quality", "accepted", "problem_type", "damage_degree",
                  "measures"):
            if k not in applies and props.get(k) not in (None, "", False):
                bad(k, props.get(k), "FIELD_NOT_IN_SECTION", f"“{CAPTIONS[section]}”没有“{k}”栏, 已忽略",
                    WARNING)
        # seq
        seq = counts[section]
        sv = props.get("seq")
        if sv is None:
            bad("seq", None, "MISSING_SEQ", f"序号未填写, 按顺序记为{seq}", WARNING)
        elif isinstance(sv, bool) or not isinstance(sv, int) or sv < 1:
            bad("seq", sv, "BAD_SEQ", f"序号应为正整数, 按顺序记为{seq}", WARNING)
        else:
            seq = sv
        # geometry, corner points
        geom = None
        gj = feat.get("geometry")
        if not gj:
            bad("geometry", None, "MISSING_GEOMETRY", "没有几何图形(范围)")
        else:
            try:
                geom = shape(gj)
            except Exception as e:  # noqa: BLE001  (shapely raises many kinds on junk)
                bad("geometry", gj.get("type") if isinstance(gj, dict) else gj, "BAD_GEOMETRY",
                    f"几何图形无法识别: {e}")
            if geom is not None:
                if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
                    bad("geometry", geom.geom_type, "BAD_GEOMETRY", "几何图形应为面(Polygon/MultiPolygon)")
                    geom = None
                elif not (-180 <= geom.bounds[0] and geom.bounds[2] <= 180
                          and -90 <= geom.bounds[1] and geom.bounds[3] <= 90):
                    bad("geometry", str(geom.bounds), "BAD_GEOMETRY",
                        "坐标不是经纬度(GeoJSON应为经度, 纬度, 单位度)")
                    geom = None
                elif not geom.is_valid:
                    bad("geometry", geom.geom_type, "BAD_GEOMETRY", f"几何图形无效: {explain_validity(geom)}")
                    geom = None
        cp = props.get("corner_points")
        try:
            cp = _text(cp)
        except ValueError:
            bad("corner_points", cp, "BAD_CORNER_POINTS", "拐点坐标应为文字")
            cp = ""
        if cp:
            try:
                filed = parse_corner_points(cp)
            except CoordinateError as e:
                bad("corner_points", cp, "BAD_CORNER_POINTS", f"拐点坐标有误: {e}")
                filed = None
            if filed is not None and geom is not None:
                if filed.equals(geom) or filed.hausdorff_distance(geom) <= _HAUSDORFF_DEG:
                    geom = filed  # the filed text is the legal extent; same polygon
                else:
                    bad("corner_points", cp, "CORNER_POINTS_MISMATCH", "拐点坐标与几何图形不是同一范围")
        # is_temporary / accepted
        is_temp = False
        if "is_temporary" in applies:
            try:
                is_temp = bool(_bool(props.get("is_temporary")))
            except ValueError:
                bad("is_temporary", props.get("is_temporary"), "BAD_YES_NO", "是否为临时用地应为true/false")
        accepted = None
        if "accepted" in applies:
            try:
                accepted = _bool(props.get("accepted"))
            except ValueError:
                bad("accepted", props.get("accepted"), "BAD_YES_NO", "是否完成验收应为true/false/null")
        # land class
        land = ""
        if "land_class" in applies:
            v = props.get("land_class")
            if isinstance(v, int) and not isinstance(v, bool):
                v = str(v).zfill(4)
            if v is None or v == "":
                bad("land_class", v, "MISSING_LAND_CLASS", "地类未填写(应填三调地类编码, 如“0404”)")
            elif not isinstance(v, str):
                bad("land_class", v, "UNKNOWN_LAND_CLASS", "地类应为三调地类编码文字, 如“0404”")
            else:
                lc = lookup(v)
                if lc is not None:
                    land = lc.code
                elif group_of_name(v):
                    bad("land_class", v, "LAND_CLASS_NOT_SPECIFIC", "地类只填了一级类, 应填三调二级地类(如“0103”)")
                else:
                    bad("land_class", v, "UNKNOWN_LAND_CLASS", "地类不在三调地类表中(应填三调地类编码, 如“0404”)")
        # area
        area = None
        v = props.get("area_hm2")
        if v is None or v == "":
            bad("area_hm2", v, "MISSING_AREA", "面积未填写", WARNING)
        else:
            try:
                area = round(_num(v), 4)
                if area <= 0:
                    bad("area_hm2", v, "NON_POSITIVE_AREA", "面积应大于0")
            except ValueError:
                bad("area_hm2", v, "BAD_AREA", "面积无法识别, 应为以hm²为单位的数字")
        if geom is not None and area is not None and area > 0:
            computed = area_hm2(geom)
            if abs(computed - area) > max(1e-4, area_tolerance * area):
                bad("area_hm2", v, "AREA_MISMATCH",
                    f"填报面积{area:.4f}hm²与范围计算面积{computed:.4f}hm²不符", WARNING)
        texts = {}
        for k in ("quality", "problem_type", "damage_degree", "measures"):
            texts[k] = ""
            if k in applies:
                try:
                    texts[k] = _text(props.get(k))
                except ValueError:
                    bad(k, props.get(k), "BAD_VALUE", f"“{k}”应为文字")
        if errors or geom is None:
            continue
        units.append(Unit(section=section, seq=seq, geometry=geom, corner_points=cp, area_hm2=area,
                          is_temporary=is_temp, land_class=land, accepted=accepted, row=i, **texts))

    if not any(u.section == PLANNED for u in units) and not counts[PLANNED]:
        add(gfile, None, "section", "", "MISSING_SECTION", WARNING, f"没有“{CAPTIONS[PLANNED]}”的单元")
    plan = None
    if year is not None and text["license_no"]:
        named: dict[str, Any] = {**text, **fees}   # texts and fees by field name
        plan = AnnualPlan(plan_year=year, units=tuple(units), submitted=submitted,
                          source=str(geojson_path), **named)
    return PlanReadResult(plan=plan, findings=findings, file=str(geojson_path), sheet="")

