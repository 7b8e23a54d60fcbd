"""The "one map" (国土空间规划一张图) package: a GeoPackage in CGCS2000 (EPSG:4490).

Layers
- ``anomalies``: one row per finding (the anomaly GeoJSON, lifecycle fields included).
- ``restoration_units``: every row of every annual-plan table (修复单元 and damaged areas),
  with the latest status per unit when given.
- ``mines``: one row per mining right; personal data (联系人, 联系电话, 联系地址) only when
  ``include_personal=True``.
- ``unit_history``: non-spatial table, one row per plan row, acceptance record and season
  observation of each ledger unit (outputs/unit_history.py), when the night has a ledger.
- ``data_dictionary``: non-spatial table (layer, field, alias_zh, type, unit, meaning,
  confidential) - the same rows as docs/data-dictionary.md (`data_dictionary_markdown`).
- ``changes``: non-spatial, what is new / updated / resolved since the previous night, with
  each feature's layer, BSM and key fields (`onemap_changes`).
- ``layer_styles`` (QGIS default style per feature layer) and ``gpkg_data_columns`` (the
  Chinese aliases), from the same layer definition (`onemap_styles`).
- ``<layer>_gk`` (with `gk_epsg`): the three feature layers again in a CGCS2000 3° Gauss-Krüger
  zone (`onemap_gk`); ``gpkg_metadata``: the package's metadata record and each table's
  Chinese ``gpkg_contents.description`` (`onemap_meta`). The File Geodatabase and shapefile
  writers (`onemap_formats`) take the same layers.

Every layer has an ``upsert_key`` column the platform can merge on: the anomaly id,
``license_no|plan_year|section|seq`` for units, ``license_no`` for mines.

Determinism: the same inputs and ``run_date`` give a byte-identical file (GeoPackage
``last_change`` timestamps come from ``OGR_CURRENT_DATE``, set to the run date while
writing). The file is written as GeoPackage 1.2 for older readers (GDAL 3.6 warns on 1.4),
to a temp file beside the target, then renamed.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyogrio
from pandas.api.extensions import ExtensionArray
from pyproj import Geod
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry

from minewatch.labels import UNIT_STATUS_ZH
from minewatch.outputs.onemap_changes import UNIQUE_KEYS, changes, index_keys, read_layers
from minewatch.outputs.onemap_gk import GK_SUFFIX, project_layers
from minewatch.outputs.onemap_meta import PackageInfo, write_gpkg_metadata
from minewatch.outputs.onemap_styles import layer_styles_frame, write_data_columns
from minewatch.plumbing.atomic import write_text
from minewatch.promised.coords import format_corner_points, gk3_epsg
from minewatch.promised.models import AnnualPlan, MiningRight

EPSG = 4490
LAYERS = ("anomalies", "restoration_units", "mines")
LEDGER_TABLES = ("unit_history",)   # tables without geometry from the ledger (outputs/unit_history.py builds them)
SECTION_ZH = {"restored": "上年度已修复", "damage": "现状损毁", "planned": "本年度计划修复"}
PERSONAL_FIELDS = ("contact_name", "contact_phone", "contact_address")
_GEOD = Geod(a=6378137.0, rf=298.257222101)   # CGCS2000 ellipsoid
_CONFIG_LOCK = threading.Lock()               # GDAL config options are process-global


# Standards the platform's loaders follow; each field names the one it is taken from.
STD_GHSJK = "国土空间规划数据库规范（自然资源部《市级国土空间总体规划数据库规范（试行）》）"
STD_SANDIAO = "三调数据库标准（《第三次全国国土调查技术规程》TD/T 1055-2019 及其数据库标准）"
STD_XZQ = "GB/T 2260 中华人民共和国行政区划代码"
STD_KYQ = "DZ/T 0443 矿业权登记数据规范"
STD_PLAN = "年度矿区生态修复计划附表（三张表）"
STD_MW = "minewatch"

# 要素代码 (YSDM) per layer. The standards' code tables have no entry for remote-sensing
# findings or plan units, so these are minewatch's own, in their 10-digit form; the
# platform maps them (docs/data-dictionary.md).
YSDM = {"anomalies": "2099010100", "restoration_units": "2099020100", "mines": "2099030100",
        "unit_history": "2099040100"}


@dataclass(frozen=True)
class Field:
    layer: str
    name: str
    alias_zh: str
    type: str           # TEXT, INTEGER, REAL, BOOLEAN, DATE, MULTIPOLYGON
    unit: str
    meaning: str
    standard: str = STD_MW
    shp: str = ""       # shapefile name when `name` is longer than 10 characters
    confidential: bool = False
    detail: bool = False  # long text: in the shapefile set's <layer>_detail.dbf, not the .shp (onemap_formats)

    @property
    def shp_name(self) -> str:
        return self.shp or self.name

    @property
    def shp_place(self) -> str:
        """Where the shapefile set keeps the field: its .shp column, or the detail table's FIELD value."""
        return f"{self.layer}_detail.dbf:{self.shp_name}" if self.detail else self.shp_name


def _platform_fields(layer: str, what: str) -> tuple[Field, ...]:
    """BSM, YSDM, XZQDM, XZQMC: the four fields every layer of the platform carries first."""
    return (
        Field(layer, "BSM", "标识码", "INTEGER", "",
              f"Stable integer id of the {what}: int(sha1(layer|upsert_key)[:8], 16) mod 10^9", STD_SANDIAO),
        Field(layer, "YSDM", "要素代码", "TEXT", "", f"Feature code of this layer: {YSDM[layer]}", STD_GHSJK),
        Field(layer, "XZQDM", "行政区代码", "TEXT", "", "6-digit county code (registry county_code)", STD_XZQ),
        Field(layer, "XZQMC", "行政区名称", "TEXT", "", "County name, when the caller gives county_names", STD_XZQ),
    )


F = Field
LIC = "采矿许可证号"
DICTIONARY: tuple[Field, ...] = (
    # anomalies
    *_platform_fields("anomalies", "finding"),
    F("anomalies", "upsert_key", "更新键", "TEXT", "", "Merge key for the platform: the anomaly id"),
    F("anomalies", "id", "异常编号", "TEXT", "", "sha1(license_no|plan_year|type|key)[:16]; stable across runs"),
    F("anomalies", "type", "异常类型代码", "TEXT", "", "Anomaly code (see schemas/anomaly.schema.json)"),
    F("anomalies", "type_zh", "异常类型", "TEXT", "", "Anomaly type in Chinese"),
    F("anomalies", "severity", "严重程度代码", "TEXT", "", "high | medium | low"),
    F("anomalies", "severity_zh", "严重程度", "TEXT", "", "高 | 中 | 低", shp="sev_zh"),
    F("anomalies", "confidence", "置信度", "TEXT", "", "low | high | highest (docs/assessment.md)"),
    F("anomalies", "license_no", LIC, "TEXT", "", "Mining licence number (the key to the mines layer)", STD_KYQ),
    F("anomalies", "mine_name", "矿山名称", "TEXT", "", "Mine name", STD_KYQ),
    F("anomalies", "plan_year", "计划年度", "INTEGER", "year", "Annual plan year the finding is judged against",
      STD_PLAN),
    F("anomalies", "unit_section", "计划表分区", "TEXT", "",
      "restored | damage | planned; empty when not about one unit",
      STD_PLAN, shp="unit_sect"),
    F("anomalies", "unit_seq", "序号", "INTEGER", "",
      "Row number (序号) in the plan table; empty when not about one unit",
      STD_PLAN),
    F("anomalies", "unit_id", "单元标识码", "TEXT", "",
      "The ledger's 标识码 of the unit (minewatch.ledger, stable across plan years); empty when not about one unit"),
    F("anomalies", "target_land_class", "目标地类", "TEXT", "", "三调 land-class code, as a string", STD_SANDIAO,
      shp="tgt_lclass"),
    F("anomalies", "area_hm2", "面积", "REAL", "hm²", "Area of the finding on the CGCS2000 ellipsoid, 4 decimals"),
    F("anomalies", "period", "证据时段", "TEXT", "", "YYYY-MM-DD/YYYY-MM-DD the evidence covers"),
    F("anomalies", "observed", "观测值", "TEXT", "", "JSON object: what the imagery showed", detail=True),
    F("anomalies", "expected", "应达值", "TEXT", "", "JSON object: what the plan/threshold required, with its source",
      detail=True),
    F("anomalies", "evidence_scenes", "证据影像", "TEXT", "", "JSON array of Sentinel-2 scene ids", shp="evidence",
      detail=True),
    F("anomalies", "notes_zh", "说明", "TEXT", "", "Note for the inspector"),
    F("anomalies", "status", "状态", "TEXT", "", "new | ongoing | resolved (vs the previous run)"),
    F("anomalies", "first_seen", "首次发现日期", "DATE", "", "Run date the finding was first reported"),
    F("anomalies", "last_seen", "最近发现日期", "DATE", "", "Last run date that reported it"),
    F("anomalies", "resolved_on", "消除日期", "DATE", "", "Run date it was no longer reported", shp="resolved"),
    F("anomalies", "geom", "图形", "MULTIPOLYGON", "EPSG:4490", "Finding outline, CGCS2000 lon/lat"),
    # restoration units
    *_platform_fields("restoration_units", "plan unit"),
    F("restoration_units", "upsert_key", "更新键", "TEXT", "", "license_no|plan_year|section|seq"),
    F("restoration_units", "license_no", LIC, "TEXT", "", "Mining licence number", STD_KYQ),
    F("restoration_units", "plan_year", "计划年度", "INTEGER", "year", "Year of the annual plan the row comes from",
      STD_PLAN),
    F("restoration_units", "section", "计划表分区代码", "TEXT", "", "restored | damage | planned", STD_PLAN),
    F("restoration_units", "section_zh", "计划表分区", "TEXT", "",
      "上年度已修复 | 现状损毁 | 本年度计划修复", STD_PLAN),
    F("restoration_units", "seq", "序号", "INTEGER", "", "Row number (序号) in that section of the table", STD_PLAN),
    F("restoration_units", "unit_id", "单元标识码", "TEXT", "",
      "The ledger's 标识码: the same ground keeps it across plan years (minewatch.ledger)"),
    F("restoration_units", "lifecycle_state", "全流程状态代码", "TEXT", "",
      "damaged | planned | restored | accepted | in_management, from the ledger's plan rows and acceptance "
      "records at the run date (minewatch.ledger.events)", shp="lc_state"),
    F("restoration_units", "lifecycle_state_zh", "全流程状态", "TEXT", "",
      "损毁 | 计划修复 | 已修复 | 已验收 | 管护期内", shp="lc_stat_zh"),
    F("restoration_units", "is_temporary", "是否为临时用地", "BOOLEAN", "", "Temporary land (临时用地)", STD_PLAN,
      shp="is_temp"),
    F("restoration_units", "land_class", "地类", "TEXT", "", "修复后地类 / 目标地类 (三调 code)", STD_SANDIAO),
    F("restoration_units", "area_hm2", "面积(申报)", "REAL", "hm²",
      "Area as declared in the plan, 4 decimals", STD_PLAN),
    F("restoration_units", "area_hm2_drawn", "面积(图形)", "REAL", "hm²",
      "Area of the declared outline on the CGCS2000 ellipsoid, 4 decimals", shp="area_drawn"),
    F("restoration_units", "quality", "质量", "TEXT", "", "Quality as declared", STD_PLAN),
    F("restoration_units", "accepted", "是否完成验收", "BOOLEAN", "",
      "Acceptance done (restored section only)", STD_PLAN),
    F("restoration_units", "problem_type", "问题类型", "TEXT", "", "Problem type (damage section only)", STD_PLAN,
      shp="prob_type"),
    F("restoration_units", "damage_degree", "损毁程度", "TEXT", "", "Damage degree (damage section only)", STD_PLAN,
      shp="dmg_degree"),
    F("restoration_units", "measures", "主要工程措施", "TEXT", "", "Main engineering measures (planned section only)",
      STD_PLAN),
    F("restoration_units", "corner_points", "拐点坐标", "TEXT", "",
      "The unit's outline as 点号,X,Y lines in the licence's 3° Gauss-Krüger zone (promised.coords)", STD_KYQ,
      shp="corner_pts", detail=True),
    F("restoration_units", "n_anomalies", "异常数", "INTEGER", "", "Findings on this unit still reported in this run",
      shp="n_anomaly"),
    F("restoration_units", "latest_status", "最新状态代码", "TEXT", "",
      "Tonight's status: the most severe active finding's type, the reason it was not judged, or OK", shp="lt_status"),
    F("restoration_units", "latest_status_zh", "最新状态", "TEXT", "", "Latest status in Chinese", shp="lt_stat_zh"),
    F("restoration_units", "latest_fvc", "最新植被覆盖度", "REAL", "0-1",
      "Unit-mean FVC (dimidiate pixel model, clear pixels) of its latest observation with clear pixels"),
    F("restoration_units", "latest_as_of", "状态日期", "DATE", "",
      "Date of that observation (the run date when there is none)", shp="lt_as_of"),
    F("restoration_units", "geom", "图形", "MULTIPOLYGON", "EPSG:4490", "范围(拐点坐标) as filed, CGCS2000 lon/lat"),
    # mines
    *_platform_fields("mines", "mining right"),
    F("mines", "upsert_key", "更新键", "TEXT", "", "license_no"),
    F("mines", "license_no", LIC, "TEXT", "", "Mining licence number: the layer's key", STD_KYQ),
    F("mines", "holder", "采矿权人", "TEXT", "", "Holder of the mining right", STD_KYQ),
    F("mines", "mine_name", "矿山名称", "TEXT", "", "Mine name", STD_KYQ),
    F("mines", "mineral", "开采矿种", "TEXT", "", "Mineral", STD_KYQ),
    F("mines", "mining_method", "开采方式", "TEXT", "", "Mining method", STD_KYQ, shp="min_method"),
    F("mines", "valid_from", "有效期起始日期", "DATE", "", "Licence valid from", STD_KYQ),
    F("mines", "valid_to", "有效期截止日期", "DATE", "", "Licence valid to", STD_KYQ),
    F("mines", "corner_points", "拐点坐标", "TEXT", "",
      "Mining-right boundary as 点号,X,Y lines in its 3° Gauss-Krüger zone (promised.coords)", STD_KYQ,
      shp="corner_pts", detail=True),
    F("mines", "abnormal_list", "列入异常名录", "BOOLEAN", "", "On the abnormal list (异常名录)", shp="abnormal"),
    F("mines", "seriously_dishonest", "严重失信主体", "BOOLEAN", "", "Judged seriously dishonest (严重失信主体)",
      shp="dishonest"),
    F("mines", "plan_year", "计划年度", "INTEGER", "year", "Year of the annual plan in this package", STD_PLAN),
    F("mines", "plan_status", "年度计划状态", "TEXT", "", "submitted | missing", STD_PLAN, shp="plan_stat"),
    F("mines", "plan_submitted", "计划报送日期", "DATE", "", "Date the county bureau received the plan", STD_PLAN,
      shp="plan_subm"),
    F("mines", "n_anomalies", "异常数", "INTEGER", "", "Findings still reported in this run", shp="n_anomaly"),
    F("mines", "area_hm2_anomalies", "异常面积", "REAL", "hm²",
      "Sum of the findings' areas, 4 decimals", shp="area_anom"),
    F("mines", "contact_name", "联系人", "TEXT", "", "Personal data: only with include_personal", shp="ct_name",
      confidential=True),
    F("mines", "contact_phone", "联系电话", "TEXT", "", "Personal data: only with include_personal", shp="ct_phone",
      confidential=True),
    F("mines", "contact_address", "联系地址", "TEXT", "", "Personal data: only with include_personal", shp="ct_addr",
      confidential=True),
    F("mines", "geom", "图形", "MULTIPOLYGON", "EPSG:4490", "Mining-right boundary, CGCS2000 lon/lat"),
    # unit history (no geometry: the units' outlines are in restoration_units)
    *_platform_fields("unit_history", "history row"),
    F("unit_history", "upsert_key", "更新键", "TEXT", "",
      "unit_id|kind|year|section|seq|file|row: one key per plan row, acceptance record or season"),
    F("unit_history", "license_no", LIC, "TEXT", "", "Mining licence number", STD_KYQ),
    F("unit_history", "unit_id", "单元标识码", "TEXT", "", "The ledger's 标识码 (key to restoration_units)"),
    F("unit_history", "kind", "记录类型代码", "TEXT", "", "mention | acceptance | season"),
    F("unit_history", "kind_zh", "记录类型", "TEXT", "", "计划记录 | 验收记录 | 生长季观测"),
    F("unit_history", "year", "年度", "INTEGER", "year",
      "Plan year (mention), acceptance or else application year (acceptance), season year (season)"),
    F("unit_history", "section", "计划表分区代码", "TEXT", "", "mention: restored | damage | planned", STD_PLAN),
    F("unit_history", "seq", "序号", "INTEGER", "", "mention: row number (序号) in that section", STD_PLAN),
    F("unit_history", "land_class", "地类", "TEXT", "", "mention: 修复后地类 / 目标地类 (三调 code)", STD_SANDIAO),
    F("unit_history", "area_hm2", "面积", "REAL", "hm²",
      "mention: area declared; acceptance: area accepted; 4 decimals"),
    F("unit_history", "accepted", "是否完成验收", "BOOLEAN", "", "mention: acceptance as the plan claims it",
      STD_PLAN),
    F("unit_history", "applied_on", "申请日期", "DATE", "", "acceptance: date applied for", shp="applied"),
    F("unit_history", "accepted_on", "验收日期", "DATE", "", "acceptance: date accepted", shp="accepted_d"),
    F("unit_history", "result", "验收结果", "TEXT", "", "acceptance: 合格 | 不合格"),
    F("unit_history", "certificate_no", "验收合格确认书编号", "TEXT", "", "acceptance: certificate number",
      shp="cert_no"),
    F("unit_history", "fvc", "植被覆盖度", "REAL", "0-1", "season: the unit's median FVC over clear dates"),
    F("unit_history", "reference_fvc", "对照区植被覆盖度", "REAL", "0-1", "season: the reference ring's",
      shp="ref_fvc"),
    F("unit_history", "fvc_min", "植被覆盖度阈值", "REAL", "0-1",
      "season: the FVC minimum of the unit's target land class (thresholds table); empty when none"),
    F("unit_history", "clear_obs", "晴空观测数", "INTEGER", "", "season: clear dates used"),
    F("unit_history", "observed_to", "观测截止日期", "DATE", "", "season: last clear date used", shp="obs_to"),
    F("unit_history", "file", "来源文件", "TEXT", "", "mention: plan file; acceptance: the acceptance list"),
    F("unit_history", "row", "行号", "INTEGER", "", "Sheet row in that file"),
    # changes since the previous night (non-spatial; outputs.onemap_changes says what counts)
    F("changes", "layer", "图层", "TEXT", "", "anomalies | restoration_units | mines"),
    F("changes", "BSM", "标识码", "INTEGER", "", "The feature's BSM in that layer", STD_SANDIAO),
    F("changes", "upsert_key", "更新键", "TEXT", "", "The feature's upsert_key in that layer"),
    F("changes", "anomaly_id", "异常编号", "TEXT", "", "Anomaly id (anomalies only)"),
    F("changes", "license_no", LIC, "TEXT", "", "Mining licence number", STD_KYQ),
    F("changes", "plan_year", "计划年度", "INTEGER", "year", "Plan year (anomalies and units)", STD_PLAN),
    F("changes", "section", "计划表分区代码", "TEXT", "", "restored | damage | planned (units only)", STD_PLAN),
    F("changes", "seq", "序号", "INTEGER", "", "Row number in the plan table (units only)", STD_PLAN),
    F("changes", "status", "变化类型代码", "TEXT", "", "new | updated | resolved since the previous night"),
    F("changes", "status_zh", "变化类型", "TEXT", "", "新增 | 更新 | 消除"),
    F("changes", "changed_fields", "变化字段", "TEXT", "", "Fields that changed (updated only), comma-separated",
      shp="chg_fields"),
    F("changes", "night", "运行日期", "DATE", "", "This night's run date"),
    F("changes", "previous_night", "上次运行日期", "DATE", "", "The night compared with; empty on the first night",
      shp="prev_night"),
)
TABLES = (*LAYERS, "changes", *LEDGER_TABLES)   # what the data dictionary documents: feature layers, then tables
CONFIDENTIAL_FIELDS = frozenset(f.name for f in DICTIONARY if f.confidential)


def layer_fields(layer: str, include_personal: bool = False) -> list[Field]:
    return [f for f in DICTIONARY if f.layer == layer and f.name != "geom"
            and (include_personal or not f.confidential)]


def data_dictionary_frame() -> pd.DataFrame:
    return pd.DataFrame([{"layer": f.layer, "field": f.name, "alias_zh": f.alias_zh, "type": f.type,
                          "unit": f.unit, "meaning": f.meaning, "standard": f.standard,
                          "shapefile_field": f.shp_place,
                          "confidential": int(f.confidential)} for f in DICTIONARY])


def data_dictionary_markdown() -> str:
    """docs/data-dictionary.md, generated from DICTIONARY (a test keeps the file in sync)."""
    lines = ["# Data dictionary (数据字典)", "",
             "Generated from `minewatch.outputs.onemap.DICTIONARY`, the layer definition the GeoPackage and",
             "shapefile writers use; the same rows are in the package's non-spatial `data_dictionary` table.",
             "CRS of every layer: CGCS2000 (EPSG:4490), lon/lat. Areas in hm² and money in 万元, REAL with",
             "4 decimals; dates are typed DATE fields. `upsert_key` is the column to merge on; `BSM` is the",
             "same integer for the same feature night after night. Fields marked confidential are left out",
             "of the package unless asked for and are stripped by `disclosure.public_profile`.",
             "The anomaly GeoJSON (`anomalies.geojson`, schema `schemas/anomaly.schema.json`) carries the",
             "`anomalies` fields with minewatch's English keys (not BSM/YSDM/XZQDM/XZQMC), with `observed`,",
             "`expected` and `evidence_scenes` as JSON values instead of text.", "",
             "Formats (`onemap.formats`, docs/operations.md): `onemap.gpkg` (GeoPackage, default), `onemap.gdb`",
             "(File Geodatabase; DATE fields are its classic Date type, a date-time at 00:00, or date-only",
             "with `onemap.filegdb_target: pro3.2`) and `shapefile/`",
             "(UTF-8 `.cpg`; the *shapefile* column is the 10-character field name; a `<layer>_detail.dbf:NAME`",
             "entry means the field is not in the .shp but in the DBF-only table `<layer>_detail.dbf`, columns",
             "BSM, FIELD, PART, TEXT: the value in pieces of at most 254 bytes, joined in PART order).",
             "With `onemap.gk_layers` every format also has `anomalies_gk`, `restoration_units_gk` and",
             "`mines_gk`: the same fields and values (areas stay the ellipsoidal hm²), geometry in the CGCS2000",
             "3° Gauss-Krüger zone of most of the night's mines (EPSG:4513-4533, easting with the zone",
             "prefix as in 拐点坐标), named in the GeoPackage's metadata record.", "",
             "要素代码 (YSDM): " + ", ".join(f"`{k}` {v}" for k, v in YSDM.items()) + ". The standards' code",
             "tables have no entry for remote-sensing findings or plan units: these codes are minewatch's own",
             "in the 10-digit form, for the platform to map.", "",
             "For GIS users the package carries `gpkg_data_columns` (GeoPackage schema extension: every",
             "field's 中文 name below as `name` and `title`, its meaning as `description`) and QGIS's",
             "`layer_styles` table with a default style per feature layer (aliases; anomalies coloured by",
             "type, severity as shade and outline width; units by plan section, labelled 序号 and target",
             "land class; mines as outlines). The `changes` table lists what is new, updated or resolved",
             "since the previous night (`minewatch.outputs.onemap_changes`), keyed like the layers.", "",
             "Merging nights: `upsert_key` has a UNIQUE index in every layer (`changes`: night, layer,",
             "upsert_key), so `ogr2ogr -upsert -unsetFid copy.gpkg onemap.gpkg <layer>` merges a night into a",
             "GeoPackage copy. GDAL's upsert does not reach PostgreSQL (only GPKG, Elasticsearch, MongoDB):",
             "there, load each layer with ogr2ogr into a staging table and merge with",
             "`INSERT ... ON CONFLICT (upsert_key) DO UPDATE` into a table with a UNIQUE `upsert_key`",
             "(`tests/support/platform_load.py` does this in the tests, on two nights).", "",
             "Standards cited:", *[f"- {x}" for x in (STD_GHSJK, STD_SANDIAO, STD_XZQ, STD_KYQ, STD_PLAN)], ""]
    for layer in TABLES:
        lines += [f"## {layer}", "", "| field | 中文 | type | unit | meaning | standard | shapefile |",
                  "|---|---|---|---|---|---|---|"]
        for f in DICTIONARY:
            if f.layer == layer:
                meaning = f.meaning.replace("|", "\\|") + (" **(confidential)**" if f.confidential else "")
                lines.append(f"| `{f.name}` | {f.alias_zh} | {f.type} | {f.unit} | {meaning} | {f.standard} "
                             f"| `{f.shp_place}` |")
        lines.append("")
    return "\n".join(lines)


def write_data_dictionary_md(path: str | Path) -> Path:
    return write_text(path, data_dictionary_markdown())


# ---------------------------------------------------------------- frames

def _multi(g: BaseGeometry) -> MultiPolygon:
    if isinstance(g, Polygon):
        return MultiPolygon([g])
    if isinstance(g, MultiPolygon):
        return g
    polys = [p for p in getattr(g, "geoms", []) if isinstance(p, Polygon)]
    if not polys:
        raise ValueError(f"not a polygon geometry: {g.geom_type}")
    return MultiPolygon(polys)


def _geodesic_hm2(g: BaseGeometry) -> float:
    return round(abs(_GEOD.geometry_area_perimeter(g)[0]) / 10_000.0, 4)


_PANDAS = {"TEXT": "string", "INTEGER": "Int32", "REAL": "Float64", "BOOLEAN": "boolean"}
_DATE = pd.ArrowDtype(pa.date32())      # written through Arrow: OGR's Date type, not text


def bsm(layer: str, upsert_key: str) -> int:
    """标识码: an integer that depends only on the feature's stable key (fits a 32-bit field)."""
    return int(hashlib.sha1(f"{layer}|{upsert_key}".encode()).hexdigest()[:8], 16) % 1_000_000_000


def _date(v: date | str | None) -> date | None:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return None
    return v if isinstance(v, date) else date.fromisoformat(str(v)[:10])


def table_frame(rows: list[dict], layer: str, include_personal: bool = False,
                county_names: dict[str, str] | None = None) -> pd.DataFrame:
    """Rows -> the layer's columns in DICTIONARY order and types; the platform fields are
    derived here (each row's `XZQDM` is given, BSM from its upsert_key)."""
    for r in rows:
        r.update(BSM=bsm(layer, r["upsert_key"]), YSDM=YSDM[layer],
                 XZQMC=(county_names or {}).get(r.get("XZQDM") or ""))
    return pd.DataFrame(_columns(rows, layer, include_personal))


def _typed(rows: list[dict], layer: str, geoms: list, include_personal: bool = False,
           county_names: dict[str, str] | None = None) -> gpd.GeoDataFrame:
    """`table_frame` with the rows' geometries."""
    data = table_frame(rows, layer, include_personal, county_names)
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([_multi(g) for g in geoms], crs=EPSG), crs=EPSG)


def _columns(rows: list[dict], layer: str, include_personal: bool = False) -> dict[str, ExtensionArray]:
    """Rows -> one typed array per field of `layer`, in DICTIONARY order."""
    data = {}
    for f in layer_fields(layer, include_personal):
        values = [r.get(f.name) for r in rows]
        if f.type == "DATE":
            data[f.name] = pd.array([_date(v) for v in values], dtype=_DATE)
        else:
            data[f.name] = pd.array(values, dtype=_PANDAS.get(f.type, "string"))
    return data


def _active(anomalies_fc: dict) -> list[dict]:
    return [f for f in anomalies_fc.get("features", []) if f["properties"].get("status") != "resolved"]


def anomalies_frame(anomalies_fc: dict, county: dict[str, str] | None = None,
                    county_names: dict[str, str] | None = None) -> gpd.GeoDataFrame:
    """`county`: licence -> county code (from the registry)."""
    rows, geoms = [], []
    for f in sorted(anomalies_fc.get("features", []),
                    key=lambda f: (f["properties"]["license_no"], f["properties"]["id"])):
        p = dict(f["properties"])
        for k in ("observed", "expected", "evidence_scenes"):
            p[k] = json.dumps(p.get(k), ensure_ascii=False, sort_keys=True)
        p["upsert_key"] = p["id"]
        p["XZQDM"] = (county or {}).get(p["license_no"])
        rows.append(p)
        geoms.append(shape(f["geometry"]))
    return _typed(rows, "anomalies", geoms, county_names=county_names)


def _latest_status(unit_status: pd.DataFrame | None) -> dict[tuple[str, str], dict]:
    if unit_status is None or unit_status.empty:
        return {}
    df = unit_status.copy()
    if "unit" not in df.columns:
        df["unit"] = df["section"].astype(str) + ":" + df["seq"].astype(int).astype(str)
    if "as_of" in df.columns:
        df["as_of"] = pd.to_datetime(df["as_of"]).dt.date.astype(str)
        df = df.sort_values(["license_no", "unit", "as_of"])
    out = {}
    for r in df.to_dict("records"):
        out[(str(r["license_no"]), str(r["unit"]))] = r   # last row per unit wins: the latest
    return out


_SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}


def night_unit_status(anomalies_fc: dict, series: dict[str, pd.DataFrame],
                      unjudged: list[dict], run_date: date,
                      unit_ids: Mapping[tuple[str, int, str, int], str] | None = None) -> pd.DataFrame:
    """Each plan unit's status after tonight, in `units_frame`'s `unit_status` shape.

    status: the most severe active finding's type on the unit; else the reason it could not
    be judged (`unjudged` rows); else ``OK`` when the series has the unit. `unit_ids`: the
    ledger's (licence, year, section, seq) -> 标识码, so a finding on an earlier year's row is
    not put on this year's row of the same 序号 (another unit). fvc: the unit-mean
    FVC (clear pixels) of its latest observation with any clear pixel; as_of: that date, or
    the run date when the unit has no clear observation. `series`: licence -> per-unit series.
    """
    unit_ids = unit_ids or {}
    rows: dict[tuple[str, str], dict] = {}
    for lic in sorted(series):
        df = series[lic]
        if df is None or df.empty or "fvc_mean" not in df.columns:
            continue
        df = df[df["fvc_mean"].notna()]
        if "clear_fraction" in df.columns:
            df = df[df["clear_fraction"] > 0]
        for unit, g in df.sort_values(["unit", "datetime"]).groupby("unit", sort=True):
            if unit == "reference":
                continue
            last = g.iloc[-1]
            rows[(lic, str(unit))] = {"status": "OK", "status_zh": UNIT_STATUS_ZH["OK"],
                                      "fvc": round(float(last["fvc_mean"]), 4),
                                      "as_of": pd.Timestamp(last["datetime"]).date().isoformat()}
    for u in sorted(unjudged, key=lambda u: (u["license_no"], u["unit"])):
        r = rows.setdefault((u["license_no"], u["unit"]), {"fvc": None, "as_of": run_date.isoformat()})
        r.update(status=u["reason"], status_zh=u["reason_zh"])
    flagged = sorted((f["properties"] for f in _active(anomalies_fc) if f["properties"].get("unit_seq") is not None),
                     key=lambda p: (_SEVERITY_RANK.get(p["severity"], 9), p["type"], p["id"]), reverse=True)
    for p in flagged:   # most severe last, so it wins
        this_year = unit_ids.get((p["license_no"], p["plan_year"], p["unit_section"], p["unit_seq"]))
        if p.get("unit_id") is not None and this_year is not None and p["unit_id"] != this_year:
            continue    # a finding on another unit's earlier row (``restored:1@2025``) that shares the 序号
        r = rows.setdefault((p["license_no"], f"{p['unit_section']}:{p['unit_seq']}"),
                            {"fvc": None, "as_of": run_date.isoformat()})
        r.update(status=p["type"], status_zh=p["type_zh"])
    return pd.DataFrame([{"license_no": lic, "unit": unit, **r} for (lic, unit), r in sorted(rows.items())],
                        columns=["license_no", "unit", "status", "status_zh", "fvc", "as_of"])


def units_frame(plans: dict[str, AnnualPlan], anomalies_fc: dict,
                unit_status: pd.DataFrame | None = None, rights: list[MiningRight] | None = None,
                county_names: dict[str, str] | None = None,
                unit_ledger: Mapping[tuple[str, int, str, int], dict] | None = None) -> gpd.GeoDataFrame:
    """`rights` give each unit its county and the 3° zone its 拐点坐标 are written in (the licence's);
    `unit_ledger`: (licence, year, section, 序号) -> the ledger's fields of that row
    (unit_history.ledger_unit_fields)."""
    status = _latest_status(unit_status)
    by_lic = {r.license_no: r for r in rights or []}
    counts: dict[tuple, int] = {}
    for f in _active(anomalies_fc):
        p = f["properties"]
        if p.get("unit_seq") is not None and p.get("unit_section"):
            k = (p["license_no"], p["plan_year"], p["unit_section"], p["unit_seq"])
            counts[k] = counts.get(k, 0) + 1
    rows, geoms = [], []
    keys: set[str] = set()
    for lic in sorted(plans):
        plan = plans[lic]
        right = by_lic.get(plan.license_no)
        zone = gk3_epsg(right.boundary.centroid.x) if right else None
        for u in sorted(plan.units, key=lambda u: (u.section, u.seq)):
            st = status.get((plan.license_no, f"{u.section}:{u.seq}"), {})
            fvc = st.get("fvc")
            key = base = f"{plan.license_no}|{plan.plan_year}|{u.section}|{u.seq}"
            n = 1
            while key in keys:     # a 序号 filed twice: the second row gets #2, never the same key
                n += 1
                key = f"{base}#{n}"
            keys.add(key)
            rows.append({
                "upsert_key": key,
                "XZQDM": right.county_code if right else None,
                "corner_points": format_corner_points(u.geometry, zone), "license_no": plan.license_no,
                "plan_year": plan.plan_year, "section": u.section,
                "section_zh": SECTION_ZH.get(u.section, u.section), "seq": u.seq,
                "is_temporary": u.is_temporary, "land_class": u.land_class or None,
                "area_hm2": None if u.area_hm2 is None else round(u.area_hm2, 4),
                "area_hm2_drawn": _geodesic_hm2(u.geometry), "quality": u.quality or None,
                "accepted": u.accepted, "problem_type": u.problem_type or None,
                "damage_degree": u.damage_degree or None, "measures": u.measures or None,
                "n_anomalies": counts.get((plan.license_no, plan.plan_year, u.section, u.seq), 0),
                "latest_status": st.get("status"), "latest_status_zh": st.get("status_zh"),
                "latest_fvc": None if fvc is None or pd.isna(fvc) else round(float(fvc), 4),
                "latest_as_of": st.get("as_of"),
                **(unit_ledger or {}).get((plan.license_no, plan.plan_year, u.section, u.seq), {}),
            })
            geoms.append(u.geometry)
    return _typed(rows, "restoration_units", geoms, county_names=county_names)


def mines_frame(rights: list[MiningRight], plans: dict[str, AnnualPlan], anomalies_fc: dict,
                include_personal: bool = False, county_names: dict[str, str] | None = None) -> gpd.GeoDataFrame:
    n: dict[str, int] = {}
    area: dict[str, float] = {}
    for f in _active(anomalies_fc):
        p = f["properties"]
        n[p["license_no"]] = n.get(p["license_no"], 0) + 1
        area[p["license_no"]] = area.get(p["license_no"], 0.0) + float(p.get("area_hm2") or 0.0)
    rows, geoms = [], []
    for r in sorted(rights, key=lambda r: r.license_no):
        plan = plans.get(r.license_no)
        rows.append({
            "upsert_key": r.license_no, "XZQDM": r.county_code, "license_no": r.license_no, "holder": r.holder,
            "mine_name": r.mine_name, "mineral": r.mineral or None,
            "mining_method": r.mining_method or None, "valid_from": r.valid_from, "valid_to": r.valid_to,
            "corner_points": format_corner_points(r.boundary), "abnormal_list": r.abnormal_list,
            "seriously_dishonest": r.seriously_dishonest,
            "plan_year": plan.plan_year if plan else None,
            "plan_status": "submitted" if plan else "missing",
            "plan_submitted": plan.submitted if plan and plan.submitted else None,
            "n_anomalies": n.get(r.license_no, 0), "area_hm2_anomalies": round(area.get(r.license_no, 0.0), 4),
            "contact_name": r.contact_name or (plan.contact_name if plan else None) or None,
            "contact_phone": r.contact_phone or (plan.contact_phone if plan else None) or None,
            "contact_address": r.contact_address or (plan.contact_address if plan else None) or None,
        })
        geoms.append(r.boundary)
    return _typed(rows, "mines", geoms, include_personal, county_names)


# ---------------------------------------------------------------- writers

@contextmanager
def gdal_config(options: dict[str, str]) -> Iterator[None]:
    """GDAL config options for the duration of one write, then the old values back; the options
    are process-global, so one such write at a time."""
    with _CONFIG_LOCK:
        old = {k: pyogrio.get_gdal_config_option(k) for k in options}
        pyogrio.set_gdal_config_options(options)
        try:
            yield
        finally:
            pyogrio.set_gdal_config_options(old)


def _current_date(run_date: date | None) -> dict[str, str]:
    """OGR_CURRENT_DATE pins GeoPackage last_change to the run date."""
    return {"OGR_CURRENT_DATE": f"{(run_date or date(1970, 1, 1)).isoformat()}T00:00:00.000Z"}


@contextmanager
def _gpkg_temp(path: Path) -> Iterator[Path]:
    """Like atomic.atomic_path, but the temp name ends in .gpkg (GDAL checks the extension)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.pid{os.getpid()}.{threading.get_ident()}.tmp.gpkg"
    tmp.unlink(missing_ok=True)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def layer_frames(anomalies_fc: dict, rights: list[MiningRight], plans: dict[str, AnnualPlan],
                 unit_status: pd.DataFrame | None = None, include_personal: bool = False,
                 county_names: dict[str, str] | None = None,
                 unit_ledger: Mapping[tuple[str, int, str, int], dict] | None = None
                 ) -> dict[str, gpd.GeoDataFrame]:
    """The three feature layers, from the one layer definition (DICTIONARY)."""
    county = {r.license_no: r.county_code for r in rights}
    return {
        "anomalies": anomalies_frame(anomalies_fc, county, county_names),
        "restoration_units": units_frame(plans, anomalies_fc, unit_status, rights, county_names, unit_ledger),
        "mines": mines_frame(rights, plans, anomalies_fc, include_personal, county_names),
    }


def write_onemap(path: str | Path, anomalies_fc: dict, rights: list[MiningRight],
                 plans: dict[str, AnnualPlan], unit_status: pd.DataFrame | None = None, *,
                 run_date: date | None = None, include_personal: bool = False,
                 county_names: dict[str, str] | None = None, gk_epsg: int | None = None,
                 info: PackageInfo | None = None, previous: Path | None = None,
                 previous_run_date: date | None = None,
                 unit_ledger: Mapping[tuple[str, int, str, int], dict] | None = None,
                 tables: Mapping[str, pd.DataFrame] | None = None) -> Path:
    """Write the one-map GeoPackage atomically; `run_date` stamps gpkg_contents.last_change
    (1970-01-01 when not given, so the bytes still depend only on the inputs). `gk_epsg`: also
    the `<layer>_gk` layers in that Gauss-Krüger zone (onemap_gk); `info`: what the metadata
    record says about the night (onemap_meta).

    `previous`: the previous night's onemap.gpkg (from `previous_run_date`), which the
    ``changes`` table is computed against; without it every feature is new. The package also
    carries the GIS side (`onemap_styles`): gpkg_data_columns aliases and QGIS default styles,
    for the `_gk` layers too. `unit_ledger` adds the ledger's fields to restoration_units;
    `tables` (LEDGER_TABLES: unit_history from outputs/unit_history.py) are written as tables
    without geometry.
    """
    frames = layer_frames(anomalies_fc, rights, plans, unit_status, include_personal, county_names, unit_ledger)
    layers = dict(frames) | (project_layers(frames, gk_epsg) if gk_epsg is not None else {})
    path = Path(path)
    night = run_date or date(1970, 1, 1)
    before = read_layers(previous, LAYERS) if previous is not None and Path(previous).is_file() else None
    with _gpkg_temp(path) as tmp, gdal_config(_current_date(run_date)):
        for name, df in layers.items():
            pyogrio.write_dataframe(df, tmp, layer=name, driver="GPKG", geometry_type="MultiPolygon",
                                    promote_to_multi=True, append=tmp.exists(), VERSION="1.2",
                                    SPATIAL_INDEX="YES", GEOMETRY_NAME="geom", FID="fid", use_arrow=True)
        for name in LEDGER_TABLES:
            if tables and name in tables:
                pyogrio.write_dataframe(tables[name], tmp, layer=name, driver="GPKG", append=True,
                                        use_arrow=True)
        pyogrio.write_dataframe(data_dictionary_frame(), tmp, layer="data_dictionary", driver="GPKG",
                                append=True)
        # compared as written: tonight's layers read back exactly as the previous night's are
        delta = changes(read_layers(tmp, LAYERS), before, night, previous_run_date if before is not None else None)
        pyogrio.write_dataframe(pd.DataFrame(_columns(delta, "changes")), tmp, layer="changes", driver="GPKG",
                                append=True, use_arrow=True)
        gk = [name for name in layers if name not in LAYERS]        # <layer>_gk: the same rows, keyed alike
        index_keys(tmp, {**UNIQUE_KEYS, **{name: ("upsert_key",) for name in gk}})
        base = {name: name.removesuffix(GK_SUFFIX) for name in layers}
        fields = {name: layer_fields(base[name], include_personal) for name in layers}
        pyogrio.write_dataframe(layer_styles_frame(fields, {n: frames[b] for n, b in base.items()}, run_date, base),
                                tmp, layer="layer_styles", driver="GPKG", append=True, FID="id")
        written = [n for n in LEDGER_TABLES if tables and n in tables]
        write_data_columns(tmp, [replace(f, layer=t) for t in (*layers, "changes", *written) for f in DICTIONARY
                                 if f.layer == base.get(t, t) and (include_personal or not f.confidential)])
        write_gpkg_metadata(tmp, frames, replace(info or PackageInfo(), gk_epsg=gk_epsg), run_date)
    return path
