"""What GIS staff see: gpkg_data_columns aliases and QGIS default styles, read by sqlite, GDAL and QGIS."""
import json
import os
import shutil
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
from contextlib import closing
from datetime import date

import pytest
from tests.support.outputs_data import anomalies_fc, rights_and_plans
from tests.support.paths import REPO

from minewatch.labels import TYPES_ZH
from minewatch.outputs.onemap import DICTIONARY, LAYERS, LEDGER_TABLES, TABLES, layer_fields, write_onemap
from minewatch.outputs.onemap_gk import night_zone_epsg
from minewatch.outputs.onemap_styles import TYPE_COLOURS

RUN = date(2026, 10, 2)
QGIS_CHECK = REPO / "tests" / "support" / "qgis_check.py"
QGIS_TYPES = {"TEXT": {"String"}, "INTEGER": {"Integer", "Integer64"}, "REAL": {"Real"}, "DATE": {"Date"},
              "BOOLEAN": {"Boolean", "Integer"}}


def _write(path):
    rights, plans = rights_and_plans()
    return write_onemap(path, anomalies_fc(), rights, plans, None, run_date=RUN)


def _sql(path, query):
    with closing(sqlite3.connect(path)) as c:
        return c.execute(query).fetchall()


def test_data_columns_hold_every_alias(tmp_path):
    p = _write(tmp_path / "onemap.gpkg")
    got = {(t, c): (n, ti, d) for t, c, n, ti, d in
           _sql(p, "select table_name, column_name, name, title, description from gpkg_data_columns")}
    want = [f for f in DICTIONARY if f.layer in TABLES and f.layer not in LEDGER_TABLES   # no ledger here
            and not f.confidential]     # geometry columns too
    assert len(got) == len(want) == 92
    for f in want:
        assert got[(f.layer, f.name)] == (f.alias_zh, f.alias_zh, f.meaning)
    assert got[("anomalies", "license_no")][0] == "采矿许可证号"
    ext = _sql(p, "select table_name, extension_name from gpkg_extensions where extension_name = 'gpkg_schema'")
    assert sorted(ext) == [("gpkg_data_column_constraints", "gpkg_schema"), ("gpkg_data_columns", "gpkg_schema")]
    # every described table is registered content (the schema extension's foreign key)
    contents = {r[0] for r in _sql(p, "select table_name from gpkg_contents")}
    assert {t for t, _ in got} <= contents


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="ogrinfo (Debian gdal-bin) not installed")
def test_gdal_validates_the_package(tmp_path):
    """GDAL opens the package with the extra tables and finds no integrity or schema problem."""
    p = _write(tmp_path / "onemap.gpkg")
    out = subprocess.run(["ogrinfo", "-ro", "-so", str(p)], capture_output=True, text=True, check=True)
    assert "layer_styles" in out.stdout and "changes" in out.stdout
    assert "ERROR" not in out.stderr and "Warning" not in out.stderr, out.stderr
    assert _sql(p, "PRAGMA foreign_key_check") == []


def _system_has(module: str) -> bool:
    return os.path.exists("/usr/bin/python3") and subprocess.run(
        ["/usr/bin/python3", "-c", f"import {module}"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _system_has("osgeo_utils.samples.validate_gpkg"),
                    reason="GDAL's validate_gpkg.py (Debian python3-gdal) not installed")
def test_gdal_validate_gpkg_accepts_the_schema_extension(tmp_path):
    """GDAL's own GeoPackage validator, which checks gpkg_data_columns against gpkg_contents and
    the gpkg_schema extension rows (requirements 103-105)."""
    p = _write(tmp_path / "onemap.gpkg")
    run = subprocess.run(["/usr/bin/python3", "-m", "osgeo_utils.samples.validate_gpkg", str(p)],
                         capture_output=True, text=True, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert run.returncode == 0 and run.stdout == "", run.stdout + run.stderr


def test_layer_styles_one_default_qml_per_layer(tmp_path):
    p = _write(tmp_path / "onemap.gpkg")
    rows = _sql(p, "select f_table_catalog, f_table_schema, f_table_name, f_geometry_column, useAsDefault, "
                   "update_time, styleQML, owner from layer_styles order by id")
    assert [r[2] for r in rows] == list(LAYERS)
    for cat, schema, _, geom, default, stamp, _, owner in rows:
        assert (cat, schema, geom, default, owner) == ("", "", "geom", 1, "minewatch")
        assert stamp == "2026-10-02T00:00:00.000Z"         # the run date, never the clock
    qml = {r[2]: ET.fromstring(r[6].split("\n", 1)[1]) for r in rows}
    an = qml["anomalies"].find("renderer-v2")
    assert an.get("type") == "categorizedSymbol" and an.get("attr") == "type"
    cats = {c.get("value"): c.get("label") for c in an.iter("category")}
    assert cats == {"RESTORATION_SHORTFALL": TYPES_ZH["RESTORATION_SHORTFALL"],
                    "UNDECLARED_DISTURBANCE": TYPES_ZH["UNDECLARED_DISTURBANCE"]}
    colours = [o.get("value") for o in an.iter("Option") if o.get("name") == "color"]
    assert colours == [f"{TYPE_COLOURS['RESTORATION_SHORTFALL']},200", f"{TYPE_COLOURS['UNDECLARED_DISTURBANCE']},200"]
    dd = [o.get("name") for o in an.iter("Option") if o.get("type") == "Map" and o.get("name")]
    assert {"fillColor", "outlineWidth"} <= set(dd)          # severity as shade and outline width
    units = qml["restoration_units"]
    label = units.find("labeling/settings/text-style")
    assert '"seq"' in label.get("fieldName") and "'0404' THEN '0404 其他草地'" in label.get("fieldName")
    assert units.get("labelsEnabled") == "1"
    mines = qml["mines"].find("renderer-v2")
    assert mines.get("type") == "singleSymbol"
    assert [o.get("value") for o in mines.iter("Option") if o.get("name") == "style"] == ["no"]   # outline only
    for layer in LAYERS:
        aliases = {a.get("field"): a.get("name") for a in qml[layer].iter("alias")}
        assert {f.name: f.alias_zh for f in layer_fields(layer)}.items() <= aliases.items()


def test_every_anomaly_type_has_a_colour_of_its_own():
    assert set(TYPE_COLOURS) == set(TYPES_ZH) and len(set(TYPE_COLOURS.values())) == len(TYPES_ZH)


def test_styles_and_aliases_keep_the_bytes(tmp_path):
    assert _write(tmp_path / "a.gpkg").read_bytes() == _write(tmp_path / "b.gpkg").read_bytes()


@pytest.mark.skipif(not _system_has("qgis.core"),
                    reason="PyQGIS not importable by /usr/bin/python3 (Debian python3-qgis)")
def test_qgis_opens_the_package_with_aliases_and_default_styles(tmp_path):
    """Headless QGIS (its own Python, in a subprocess) as the province's GIS staff would open it."""
    p = _write(tmp_path / "onemap.gpkg")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp_path)}
    env.pop("PYTHONPATH", None)          # QGIS's system Python, not the venv's packages
    run = subprocess.run(["/usr/bin/python3", str(QGIS_CHECK), str(p), str(tmp_path / "map.png")],
                         capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    seen = json.loads(run.stdout)
    counts = {"anomalies": 2, "restoration_units": 4, "mines": 2}
    for layer in LAYERS:
        info = seen[layer]
        assert info["valid"] and info["crs"] == "EPSG:4490" and info["count"] == counts[layer]
        for f in layer_fields(layer):
            assert info["fields"][f.name] in QGIS_TYPES[f.type], (layer, f.name, info["fields"][f.name])
            assert info["aliases"][f.name] == f.alias_zh, (layer, f.name)
    assert seen["anomalies"]["renderer"] == "categorizedSymbol"
    assert seen["anomalies"]["categories"] == ["RESTORATION_SHORTFALL", "UNDECLARED_DISTURBANCE"]
    assert seen["anomalies"]["category_labels"] == ["修复不达标", "未申报损毁"]
    assert seen["restoration_units"]["renderer"] == "categorizedSymbol" and seen["restoration_units"]["labels_enabled"]
    assert seen["mines"]["renderer"] == "singleSymbol"
    # every style expression parses and evaluates in QGIS 3.22: both findings are high severity
    assert [seen[layer]["expression_errors"] for layer in LAYERS] == [[], [], []]
    assert seen["anomalies"]["expression_values"] == [["255,0,0,200"] * 2, ["0.9"] * 2] * 2
    assert sorted(seen["restoration_units"]["expression_values"][0]) == [
        "序号1 ", "序号1 0404 其他草地", "序号1 0404 其他草地", "序号2 0305 灌木林地"]
    img = seen["image"]
    assert (img["width"], img["height"]) == (400, 300)
    assert img["variance"] > 1.0 and img["non_white"] > 50, img      # something was drawn
    assert (tmp_path / "map.png").stat().st_size > 1000


def test_gauss_krueger_copies_get_their_layers_style_aliases_and_keys(tmp_path):
    rights, plans = rights_and_plans()
    zone = night_zone_epsg(rights, None)
    p = write_onemap(tmp_path / "gk.gpkg", anomalies_fc(), rights, plans, None, run_date=RUN, gk_epsg=zone)
    styles = dict(_sql(p, "select f_table_name, styleQML from layer_styles"))
    assert sorted(styles) == sorted([*LAYERS, *(f"{n}_gk" for n in LAYERS)])
    for layer in LAYERS:
        assert styles[f"{layer}_gk"] == styles[layer]                    # the same look in either CRS
    cols = dict(_sql(p, "select column_name, name from gpkg_data_columns where table_name = 'anomalies_gk'"))
    assert cols["license_no"] == "采矿许可证号" and len(cols) == len(layer_fields("anomalies")) + 1
    idx = {r[0] for r in _sql(p, "select name from sqlite_master where type = 'index' and name like '%merge_key'")}
    assert {"anomalies_gk_merge_key", "anomalies_merge_key", "changes_merge_key"} <= idx
