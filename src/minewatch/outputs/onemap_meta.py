"""The one-map GeoPackage's metadata: one XML record and a Chinese description per layer.

The record follows the arrangement of the metadata the 国土空间规划 / 国土资源 databases
carry (TD/T 1016 国土资源信息核心元数据, itself after GB/T 19710 地理信息 元数据): 元数据
实体信息, 标识信息 (title, abstract, responsible party, time, extent, layers), 参照系信息 (CGCS2000
EPSG:4490 and the Gauss-Krüger zone when written), 数据质量信息 (lineage: software version,
run id, the Sentinel-2 scenes used; quality notes). Element names are the standard's Chinese
names; the values are minewatch's. It is stored with the GeoPackage metadata extension
(`gpkg_metadata`, `gpkg_metadata_reference` scoped to the whole package) by plain SQL in the
temp file before the atomic rename, with every timestamp the run date: the same night gives
the same bytes.
"""
from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import geopandas as gpd

from minewatch.config import OnemapSettings
from minewatch.labels import ONEMAP_TABLES_ZH
from minewatch.outputs.onemap_gk import GK_SUFFIX, zone_text_zh

__all__ = ["LAYER_ZH", "MD_STANDARD_URI", "PackageInfo", "layers_extent", "metadata_xml", "write_gpkg_metadata"]

MD_STANDARD_URI = "urn:minewatch:onemap-metadata:td-t-1016-style:1"
MD_STANDARD_ZH = "国土资源信息核心元数据 (TD/T 1016) / 地理信息 元数据 (GB/T 19710) 样式"
_EXT_URI = "http://www.geopackage.org/spec120/#extension_metadata"

LAYER_ZH = ONEMAP_TABLES_ZH    # gpkg_contents.description of each table (what QGIS and loaders show)


@dataclass(frozen=True)
class PackageInfo:
    """What the night knows about itself that the package's metadata records."""
    run_id: str = ""                        # the run folder's name (OUT/<run date>)
    scenes: tuple[str, ...] = ()            # Sentinel-2 scene ids the night judged with
    software: str = "minewatch"             # name and version
    responsible_party: str = OnemapSettings().responsible_party
    gk_epsg: int | None = None              # the Gauss-Krüger zone of the `_gk` layers, when written


def layers_extent(frames: Mapping[str, gpd.GeoDataFrame]) -> tuple[float, float, float, float] | None:
    """(west, south, east, north) over every non-empty layer, lon/lat degrees."""
    bounds = [df.total_bounds for df in frames.values() if len(df) and not df.geometry.is_empty.all()]
    if not bounds:
        return None
    return (min(b[0] for b in bounds), min(b[1] for b in bounds),
            max(b[2] for b in bounds), max(b[3] for b in bounds))


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    e = ET.SubElement(parent, tag, attrib)
    if text is not None:
        e.text = text
    return e


def metadata_xml(frames: Mapping[str, gpd.GeoDataFrame], info: PackageInfo, run_date: date | None) -> str:
    """The record, from the EPSG:4490 feature layers (`frames`) and the night's facts."""
    day = (run_date or date(1970, 1, 1)).isoformat()
    root = ET.Element("元数据", {"标准": MD_STANDARD_ZH})
    ent = _sub(root, "元数据实体信息")
    _sub(ent, "元数据标准名称", MD_STANDARD_ZH)
    _sub(ent, "元数据创建日期", day)
    _sub(ent, "语种", "zh-CN")
    _sub(ent, "字符集", "UTF-8")

    ident = _sub(root, "标识信息")
    _sub(ident, "名称", f"矿山生态修复年度计划遥感监测一张图 ({day})")
    _sub(ident, "摘要", "按采矿权核对年度矿区生态修复计划 (三张表) 与 Sentinel-2 L2A 卫星影像: 修复单元的植被覆盖度、"
                      "损毁与计划范围外扰动, 以及计划报送情况。图层: 异常图斑、修复单元、采矿权, 附数据字典。")
    party = _sub(ident, "负责单位")
    _sub(party, "单位名称", info.responsible_party)
    _sub(party, "职责", "数据生产")
    when = _sub(ident, "时间信息")
    _sub(when, "监测日期", day)
    ext = layers_extent(frames)
    box = _sub(ident, "地理范围", 坐标系="EPSG:4490")
    for tag, v in zip(("西边经度", "南边纬度", "东边经度", "北边纬度"), ext or (None,) * 4):
        _sub(box, tag, "" if v is None else f"{v:.6f}")
    layers = _sub(ident, "图层列表")
    for name, df in frames.items():
        _sub(layers, "图层", LAYER_ZH.get(name, ""), 名称=name, 要素数=str(len(df)), 坐标系="EPSG:4490")
        if info.gk_epsg is not None:
            _sub(layers, "图层", LAYER_ZH.get(name, ""), 名称=f"{name}{GK_SUFFIX}", 要素数=str(len(df)),
                 坐标系=f"EPSG:{info.gk_epsg}")

    ref = _sub(root, "参照系信息")
    _sub(ref, "大地坐标系", "2000国家大地坐标系 (CGCS2000)")
    _sub(ref, "坐标参照系", "CGCS2000 地理坐标 (经度, 纬度; 度)", EPSG="4490")
    if info.gk_epsg is not None:
        _sub(ref, "投影坐标参照系", zone_text_zh(info.gk_epsg), EPSG=str(info.gk_epsg),
             图层=",".join(f"{n}{GK_SUFFIX}" for n in frames))
    _sub(ref, "高程基准", "无 (二维数据)")

    quality = _sub(root, "数据质量信息")
    lineage = _sub(quality, "数据志")
    _sub(lineage, "软件", info.software)
    _sub(lineage, "运行编号", info.run_id or day)
    scenes = sorted(set(info.scenes))        # a scene several mines share is listed once
    source = _sub(lineage, "数据源", 名称="Sentinel-2 L2A", 景数=str(len(scenes)))
    for scene in scenes:
        _sub(source, "影像", 标识=scene)
    _sub(lineage, "数据源", 名称="采矿权登记库与年度矿区生态修复计划 (三张表)")
    _sub(lineage, "处理过程", "影像按 SCL 掩膜云与阴影, 计算 NDVI 与植被覆盖度 (像元二分模型), 按修复单元统计, "
                          "与周边自然植被参照环对比后按 docs/assessment.md 的规则判定。")
    notes = _sub(quality, "质量说明")
    for text in ("面积为 CGCS2000 椭球面上的面积, 单位公顷 (hm²), 4 位小数; 投影图层的面积字段沿用椭球面积。",
                 "低置信度的异常未列入 anomalies 图层 (见 anomalies_low_confidence.geojson); 有效观测不足、"
                 "未能判定的修复单元见 unjudged.csv 与 restoration_units.latest_status。",
                 "异常为遥感发现, 须经现场核查确认。"):
        _sub(notes, "说明", text)
    ET.indent(root, space=" ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_gpkg_metadata(gpkg: Path, frames: Mapping[str, gpd.GeoDataFrame], info: PackageInfo,
                        run_date: date | None) -> None:
    """Add the metadata record (package scope) and each table's Chinese description to `gpkg`."""
    stamp = f"{(run_date or date(1970, 1, 1)).isoformat()}T00:00:00.000Z"
    xml = metadata_xml(frames, info, run_date)
    with closing(sqlite3.connect(gpkg)) as db, db:     # commit, then close before the rename
        db.execute("""CREATE TABLE IF NOT EXISTS gpkg_metadata (
            id INTEGER CONSTRAINT m_pk PRIMARY KEY ASC NOT NULL,
            md_scope TEXT NOT NULL DEFAULT 'dataset',
            md_standard_uri TEXT NOT NULL,
            mime_type TEXT NOT NULL DEFAULT 'text/xml',
            metadata TEXT NOT NULL DEFAULT '')""")
        db.execute("""CREATE TABLE IF NOT EXISTS gpkg_metadata_reference (
            reference_scope TEXT NOT NULL,
            table_name TEXT,
            column_name TEXT,
            row_id_value INTEGER,
            timestamp DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
            md_file_id INTEGER NOT NULL,
            md_parent_id INTEGER,
            CONSTRAINT crmr_mfi_fk FOREIGN KEY (md_file_id) REFERENCES gpkg_metadata(id),
            CONSTRAINT crmr_mpi_fk FOREIGN KEY (md_parent_id) REFERENCES gpkg_metadata(id))""")
        for table in ("gpkg_metadata", "gpkg_metadata_reference"):
            if not db.execute("SELECT 1 FROM gpkg_extensions WHERE table_name = ? AND extension_name = "
                              "'gpkg_metadata'", (table,)).fetchone():
                db.execute("INSERT INTO gpkg_extensions (table_name, column_name, extension_name, definition, scope) "
                           "VALUES (?, NULL, 'gpkg_metadata', ?, 'read-write')", (table, _EXT_URI))
        cur = db.execute("INSERT INTO gpkg_metadata (md_scope, md_standard_uri, mime_type, metadata) "
                         "VALUES ('dataset', ?, 'text/xml', ?)", (MD_STANDARD_URI, xml))
        db.execute("INSERT INTO gpkg_metadata_reference (reference_scope, table_name, column_name, row_id_value, "
                   "timestamp, md_file_id, md_parent_id) VALUES ('geopackage', NULL, NULL, NULL, ?, ?, NULL)",
                   (stamp, cur.lastrowid))
        for name, text in LAYER_ZH.items():
            db.execute("UPDATE gpkg_contents SET description = ? WHERE table_name = ?", (text, name))
            if info.gk_epsg is not None:
                db.execute("UPDATE gpkg_contents SET description = ? WHERE table_name = ?",
                           (f"{text} ({zone_text_zh(info.gk_epsg)})", f"{name}{GK_SUFFIX}"))
