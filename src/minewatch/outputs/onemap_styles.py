"""What GIS staff see when they open the one-map package: Chinese aliases and a default style.

- ``gpkg_data_columns`` (the GeoPackage schema extension): one row per field of every table
  the layer definition describes, ``name`` = ``title`` = the Chinese alias, ``description`` =
  its meaning. GDAL writes this table for OGR field alternative names, but pyogrio cannot pass
  them, so it is written here by SQL inside the temp file, before the atomic rename.
- ``layer_styles`` (QGIS's own convention, a non-spatial table QGIS reads through OGR): one
  default QML per feature layer, generated from the layer definition and `minewatch.labels`:
  the Chinese aliases; anomalies categorised by type (one colour per type, the same colour every
  night) with severity as fill opacity and outline width, resolved ones faint; restoration units
  categorised by plan section and labelled 序号 + target land class; mines as outlines.

Everything here is a function of its inputs: no clock, no random colours, so the package
keeps its bytes (``update_time`` is the run date).
"""
from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from contextlib import closing
from datetime import date, datetime
from pathlib import Path
from typing import Protocol

import pandas as pd

from minewatch.labels import TYPES_ZH
from minewatch.promised.landclasses import lookup

__all__ = ["QGIS_VERSION", "TYPE_COLOURS", "layer_qml", "layer_styles_frame", "write_data_columns"]

QGIS_VERSION = "3.22.0-Białowieża"      # the oldest QGIS the province's GIS staff use (issue #15)
GEOMETRY_COLUMN = "geom"
# one colour per anomaly type, fixed by the type's place in TYPES_ZH (ColorBrewer Set1 + Dark2, then
# more; a test keeps every type's colour its own)
_PALETTE = ("228,26,28", "255,127,0", "152,78,163", "77,175,74", "55,126,184", "166,86,40", "247,129,191",
            "27,158,119", "117,112,179", "231,41,138", "102,166,30", "230,171,2", "0,128,128", "128,0,0",
            "0,0,128", "188,189,34", "23,190,207", "140,86,75")
TYPE_COLOURS = {t: _PALETTE[i % len(_PALETTE)] for i, t in enumerate(TYPES_ZH)}
_OTHER_COLOUR = "128,128,128"
SECTION_COLOURS = {"restored": "56,168,0", "damage": "168,112,0", "planned": "0,112,255"}
# severity as shade and outline (QGIS expressions on the anomaly's own fields; QGIS 3.22 knows
# only the searched CASE WHEN <condition>, not CASE <value> WHEN)
_ALPHA = ("CASE WHEN \"status\" = 'resolved' THEN 40 WHEN \"severity\" = 'high' THEN 200 "
          "WHEN \"severity\" = 'medium' THEN 130 ELSE 70 END")
_WIDTH = "CASE WHEN \"severity\" = 'high' THEN 0.9 WHEN \"severity\" = 'medium' THEN 0.5 ELSE 0.26 END"


class AliasedField(Protocol):
    """What this module needs of a layer-definition field (`onemap.Field`)."""
    @property
    def layer(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def alias_zh(self) -> str: ...
    @property
    def meaning(self) -> str: ...


# ---------------------------------------------------------------- gpkg_data_columns

def write_data_columns(gpkg: Path, fields: Iterable[AliasedField]) -> None:
    """gpkg_data_columns (+ its constraints table and the two gpkg_extensions rows, as GDAL
    writes them) for every field given; the tables must already be in gpkg_contents."""
    rows = sorted({(f.layer, f.name): (f.alias_zh, f.meaning) for f in fields}.items())
    with closing(sqlite3.connect(gpkg)) as c, c:
        c.execute("CREATE TABLE IF NOT EXISTS gpkg_data_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL,"
                  " name TEXT, title TEXT, description TEXT, mime_type TEXT, constraint_name TEXT,"
                  " CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name),"
                  " CONSTRAINT gdc_tn UNIQUE (table_name, name))")
        c.execute("CREATE TABLE IF NOT EXISTS gpkg_data_column_constraints (constraint_name TEXT NOT NULL,"
                  " constraint_type TEXT NOT NULL, value TEXT, min NUMERIC, min_is_inclusive BOOLEAN, max NUMERIC,"
                  " max_is_inclusive BOOLEAN, description TEXT,"
                  " CONSTRAINT gdcc_ntv UNIQUE (constraint_name, constraint_type, value))")
        for table in ("gpkg_data_columns", "gpkg_data_column_constraints"):
            c.execute("INSERT OR IGNORE INTO gpkg_extensions (table_name, column_name, extension_name, definition,"
                      " scope) VALUES (?, NULL, 'gpkg_schema', 'http://www.geopackage.org/spec121/#extension_schema',"
                      " 'read-write')", (table,))
        c.executemany("INSERT OR REPLACE INTO gpkg_data_columns (table_name, column_name, name, title, description)"
                      " VALUES (?, ?, ?, ?, ?)",
                      [(layer, name, alias, alias, meaning) for (layer, name), (alias, meaning) in rows])


# ---------------------------------------------------------------- QML

def _opt(parent: ET.Element, name: str, value: str, kind: str = "QString") -> None:
    ET.SubElement(parent, "Option", name=name, type=kind, value=value)


def _fill_symbol(parent: ET.Element, name: str, colour: str, outline: str, width: float,
                 brush: str = "solid", dd: dict[str, str] | None = None) -> None:
    """A one-layer SimpleFill symbol; `dd`: data-defined property -> QGIS expression."""
    sym = ET.SubElement(parent, "symbol", type="fill", name=name, alpha="1", clip_to_extent="1", force_rhr="0")
    lyr = ET.SubElement(sym, "layer", attrib={"class": "SimpleFill", "enabled": "1", "locked": "0", "pass": "0"})
    props = ET.SubElement(lyr, "Option", type="Map")
    for k, v in (("color", colour), ("joinstyle", "bevel"), ("offset", "0,0"), ("offset_unit", "MM"),
                 ("outline_color", outline), ("outline_style", "solid"), ("outline_width", f"{width:g}"),
                 ("outline_width_unit", "MM"), ("style", brush)):
        _opt(props, k, v)
    ddp = ET.SubElement(ET.SubElement(lyr, "data_defined_properties"), "Option", type="Map")
    _opt(ddp, "name", "")
    coll = ET.SubElement(ddp, "Option", name="properties", type="Map")
    for prop, expr in (dd or {}).items():
        p = ET.SubElement(coll, "Option", name=prop, type="Map")
        _opt(p, "active", "true", "bool")
        _opt(p, "expression", expr)
        _opt(p, "type", "3", "int")       # 3 = expression-based property
    _opt(ddp, "type", "collection")


def _categorized(root: ET.Element, attr: str, cats: Sequence[tuple[str, str, str, str]], width: float,
                 dd: dict[str, str] | None = None) -> None:
    """`cats`: (value, label, fill r,g,b,a, outline r,g,b,a) in legend order."""
    r = ET.SubElement(root, "renderer-v2", type="categorizedSymbol", attr=attr, forceraster="0", symbollevels="0",
                      enableorderby="0", referencescale="-1")
    c = ET.SubElement(r, "categories")
    for i, (value, label, _, _) in enumerate(cats):
        ET.SubElement(c, "category", render="true", symbol=str(i), value=value, label=label)
    syms = ET.SubElement(r, "symbols")
    for i, (_, _, fill, outline) in enumerate(cats):
        _fill_symbol(syms, str(i), fill, outline, width, dd=dd)


def _label(root: ET.Element, expression: str) -> None:
    lab = ET.SubElement(root, "labeling", type="simple")
    s = ET.SubElement(lab, "settings", calloutType="simple")
    ts = ET.SubElement(s, "text-style", fieldName=expression, isExpression="1", fontFamily="Noto Sans CJK SC",
                       namedStyle="Regular", fontSize="9", fontSizeUnit="Point", textColor="30,30,30,255",
                       textOpacity="1", fontWeight="50", fontItalic="0", fontUnderline="0", fontStrikeout="0",
                       multilineHeight="1", allowHtml="0", capitalization="0", blendMode="0",
                       previewBkgrdColor="0,0,0,0")
    ET.SubElement(ts, "text-buffer", bufferDraw="1", bufferSize="0.8", bufferSizeUnits="MM",
                  bufferColor="255,255,255,255", bufferOpacity="1", bufferJoinStyle="128", bufferNoFill="1",
                  bufferBlendMode="0")
    ET.SubElement(s, "text-format", wrapChar="", multilineAlign="3", formatNumbers="0", decimals="3",
                  plussign="0", addDirectionSymbol="0", reverseDirectionSymbol="0", placeDirectionSymbol="0",
                  leftDirectionSymbol="<", rightDirectionSymbol=">", autoWrapLength="0",
                  useMaxLineLengthForAutoWrap="1")
    ET.SubElement(s, "placement", placement="1", centroidWhole="0", centroidInside="1", fitInPolygonOnly="0",
                  priority="5", overrunDistance="0", dist="0", distUnits="MM", offsetType="0", xOffset="0",
                  yOffset="0", offsetUnits="MM", quadOffset="4", placementFlags="10")
    ET.SubElement(s, "rendering", drawLabels="1", obstacle="1", obstacleFactor="1", obstacleType="1",
                  displayAll="0", upsidedownLabels="0", limitNumLabels="0", maxNumLabels="2000", minFeatureSize="0",
                  scaleVisibility="0", fontLimitPixelSize="0", zIndex="0", labelPerPart="0", mergeLines="0")


def _quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _land_class_expr(codes: Iterable[str]) -> str:
    """The unit's target land class as "0404 其他草地" for the codes present, else the code."""
    whens = [f"WHEN \"land_class\" = {_quote(c)} THEN {_quote(lc.label)}" for c in sorted(set(codes))
             if (lc := lookup(c)) is not None and lc.code == c]
    return f"CASE {' '.join(whens)} ELSE coalesce(\"land_class\", '') END" if whens \
        else "coalesce(\"land_class\", '')"


def layer_qml(layer: str, fields: Sequence[AliasedField], frame: pd.DataFrame) -> str:
    """The default QML of one feature layer, from its fields and tonight's rows (the anomaly
    types and land classes present)."""
    root = ET.Element("qgis", version=QGIS_VERSION, styleCategories="Symbology|Labeling|Fields",
                      labelsEnabled="1" if layer == "restoration_units" else "0")
    if layer == "anomalies":
        types = sorted(set(frame["type"].dropna().astype(str))) if "type" in frame else []
        cats = [(t, TYPES_ZH.get(t, t), f"{TYPE_COLOURS.get(t, _OTHER_COLOUR)},200",
                 f"{TYPE_COLOURS.get(t, _OTHER_COLOUR)},255") for t in types]
        _categorized(root, "type", cats, 0.5,
                     dd={"fillColor": f"set_color_part(@symbol_color, 'alpha', {_ALPHA})", "outlineWidth": _WIDTH})
    elif layer == "restoration_units":
        names = dict(zip(frame["section"].astype(str), frame["section_zh"].astype(str))) if len(frame) else {}
        cats = [(s, names.get(s, s), f"{c},60", f"{c},255") for s, c in SECTION_COLOURS.items()]
        _categorized(root, "section", cats, 0.4)
        _label(root, f"'序号' || \"seq\" || ' ' || {_land_class_expr(frame.get('land_class', pd.Series()).dropna())}")
    else:   # mines: the licence boundary, outline only
        r = ET.SubElement(root, "renderer-v2", type="singleSymbol", forceraster="0", symbollevels="0",
                          enableorderby="0", referencescale="-1")
        _fill_symbol(ET.SubElement(r, "symbols"), "0", "0,0,0,0", "200,0,0,255", 0.8, brush="no")
    aliases = ET.SubElement(root, "aliases")
    ET.SubElement(aliases, "alias", field="fid", index="0", name="要素号")
    for i, f in enumerate(fields, start=1):
        ET.SubElement(aliases, "alias", field=f.name, index=str(i), name=f.alias_zh)
    ET.SubElement(root, "layerGeometryType").text = "2"     # polygon
    ET.indent(root, space=" ")
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            + ET.tostring(root, encoding="unicode") + "\n")


_DESCRIPTION = {
    "anomalies": "minewatch 默认样式：按异常类型着色；严重程度越高填充越深、边线越粗；已消除的淡显",
    "restoration_units": "minewatch 默认样式：按计划表分区着色，标注序号与目标地类",
    "mines": "minewatch 默认样式：矿业权范围线",
}


def layer_styles_frame(fields: Mapping[str, Sequence[AliasedField]], frames: Mapping[str, pd.DataFrame],
                       run_date: date | None, kinds: Mapping[str, str] | None = None) -> pd.DataFrame:
    """QGIS's layer_styles rows: one default style per table in `fields` (table -> its fields);
    `kinds`: table -> the feature layer whose style it takes (a projected copy takes its layer's)."""
    kind = {t: (kinds or {}).get(t, t) for t in fields}
    # in UTC, so GDAL writes the GeoPackage DATETIME form (…T00:00:00.000Z) validators ask for
    stamp = pd.Timestamp(datetime.combine(run_date or date(1970, 1, 1), datetime.min.time()), tz="UTC")
    rows = [{"f_table_catalog": "", "f_table_schema": "", "f_table_name": layer,
             "f_geometry_column": GEOMETRY_COLUMN, "styleName": f"{layer}_默认样式",
             "styleQML": layer_qml(kind[layer], fs, frames[layer]), "styleSLD": "", "useAsDefault": True,
             "description": _DESCRIPTION[kind[layer]],
             "owner": "minewatch", "ui": None, "update_time": stamp} for layer, fs in fields.items()]
    df = pd.DataFrame(rows)
    for col in ("f_table_catalog", "f_table_schema", "f_table_name", "f_geometry_column", "styleName", "styleQML",
                "styleSLD", "description", "owner", "ui"):
        df[col] = df[col].astype("string")
    df["useAsDefault"] = df["useAsDefault"].astype("boolean")
    return df
