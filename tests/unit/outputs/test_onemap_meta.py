"""The one-map GeoPackage's metadata record (gpkg_metadata) and its Chinese layer descriptions."""
import shutil
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
from contextlib import closing
from datetime import date
from pathlib import Path

import pyogrio
import pytest
from tests.support.outputs_data import anomalies_fc, rights_and_plans

from minewatch.outputs.onemap import LAYERS, write_onemap
from minewatch.outputs.onemap_meta import LAYER_ZH, MD_STANDARD_URI, PackageInfo

# GDAL's own GeoPackage validator (Debian python3-gdal), run with the system Python that has osgeo
VALIDATOR = Path("/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py")
SCENES = ("S2B_49SFA_20260712_0_L2A", "S2A_49SFA_20260806_0_L2A", "S2B_49SFA_20260712_0_L2A")
INFO = PackageInfo(run_id="2026-10-02", scenes=SCENES, software="minewatch 0.1.0", responsible_party="某省自然资源厅")


def _write(path, gk_epsg=None):
    rights, plans = rights_and_plans()
    return write_onemap(path, anomalies_fc(), rights, plans, run_date=date(2026, 10, 2), gk_epsg=gk_epsg, info=INFO)


def _record(path) -> tuple[ET.Element, list[tuple]]:
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT id, md_scope, md_standard_uri, mime_type, metadata FROM gpkg_metadata").fetchall()
        refs = db.execute("SELECT reference_scope, table_name, column_name, row_id_value, timestamp, md_file_id "
                          "FROM gpkg_metadata_reference").fetchall()
    assert len(rows) == 1 and rows[0][1:4] == ("dataset", MD_STANDARD_URI, "text/xml")
    return ET.fromstring(rows[0][4].encode("utf-8")), refs


def test_record_title_extent_crs_and_scenes(tmp_path):
    p = _write(tmp_path / "onemap.gpkg", gk_epsg=4525)
    root, refs = _record(p)
    assert refs == [("geopackage", None, None, None, "2026-10-02T00:00:00.000Z", 1)]
    assert root.tag == "元数据"
    assert root.findtext("标识信息/名称") == "矿山生态修复年度计划遥感监测一张图 (2026-10-02)"
    assert root.findtext("标识信息/负责单位/单位名称") == "某省自然资源厅"
    assert root.findtext("标识信息/时间信息/监测日期") == "2026-10-02"
    # the extent is the feature layers' extent, as read back from the file
    bounds = [pyogrio.read_dataframe(p, layer=n).total_bounds for n in LAYERS]
    want = (min(b[0] for b in bounds), min(b[1] for b in bounds), max(b[2] for b in bounds),
            max(b[3] for b in bounds))
    box = root.find("标识信息/地理范围")
    got = tuple(float(box.findtext(t)) for t in ("西边经度", "南边纬度", "东边经度", "北边纬度"))
    assert got == pytest.approx(want, abs=1e-6) and want == pytest.approx((110.0, 39.0, 111.03, 40.02))
    layers = {e.get("名称"): (e.get("坐标系"), int(e.get("要素数"))) for e in root.iter("图层")}
    assert layers == {"anomalies": ("EPSG:4490", 2), "restoration_units": ("EPSG:4490", 4),
                      "mines": ("EPSG:4490", 2), "anomalies_gk": ("EPSG:4525", 2),
                      "restoration_units_gk": ("EPSG:4525", 4), "mines_gk": ("EPSG:4525", 2)}
    assert root.find("参照系信息/坐标参照系").get("EPSG") == "4490"
    gk = root.find("参照系信息/投影坐标参照系")
    assert gk.get("EPSG") == "4525" and "第37带" in gk.text and "中央经线111°E" in gk.text
    lineage = root.find("数据质量信息/数据志")
    assert lineage.findtext("软件") == "minewatch 0.1.0" and lineage.findtext("运行编号") == "2026-10-02"
    scenes = [e.get("标识") for e in lineage.iter("影像")]
    assert scenes == sorted(set(SCENES)) and lineage.find("数据源").get("景数") == "2"
    assert len(root.findall("数据质量信息/质量说明/说明")) == 3


def test_descriptions_extensions_and_gdal_reads_it(tmp_path):
    p = _write(tmp_path / "onemap.gpkg", gk_epsg=4525)
    with closing(sqlite3.connect(p)) as db:
        desc = dict(db.execute("SELECT table_name, description FROM gpkg_contents"))
        ext = db.execute("SELECT table_name, extension_name, scope FROM gpkg_extensions "
                         "WHERE extension_name = 'gpkg_metadata' ORDER BY table_name").fetchall()
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    present = {k: v for k, v in LAYER_ZH.items() if k != "unit_history"}    # that table needs the ledger
    assert {k: desc[k] for k in present} == present and "unit_history" not in desc
    assert desc["mines_gk"].startswith(LAYER_ZH["mines"]) and desc["mines_gk"].endswith("EPSG:4525)")
    assert ext == [("gpkg_metadata", "gpkg_metadata", "read-write"),
                   ("gpkg_metadata_reference", "gpkg_metadata", "read-write")]
    if shutil.which("ogrinfo"):
        out = subprocess.run(["ogrinfo", "-ro", "-so", str(p)], capture_output=True, text=True, check=True).stdout
        assert "GPKG_METADATA_ITEM_1=<?xml" in out and "<名称>矿山生态修复年度计划遥感监测一张图" in out


def test_without_gk_no_projection_and_same_bytes(tmp_path):
    a = _write(tmp_path / "a" / "onemap.gpkg")
    root, _ = _record(a)
    assert root.find("参照系信息/投影坐标参照系") is None
    assert {e.get("名称") for e in root.iter("图层")} == set(LAYERS)
    assert a.read_bytes() == _write(tmp_path / "b" / "onemap.gpkg").read_bytes()
    g = _write(tmp_path / "c" / "onemap.gpkg", gk_epsg=4525).read_bytes()
    assert g == _write(tmp_path / "d" / "onemap.gpkg", gk_epsg=4525).read_bytes()


@pytest.mark.skipif(not VALIDATOR.is_file(), reason="GDAL's validate_gpkg.py (Debian python3-gdal) not installed")
def test_gdals_validator_accepts_the_package(tmp_path):
    """Every requirement of the GeoPackage spec GDAL checks, metadata extension included, warnings as errors."""
    for gk in (None, 4525):
        p = _write(tmp_path / str(gk) / "onemap.gpkg", gk_epsg=gk)
        r = subprocess.run(["/usr/bin/python3", str(VALIDATOR), "-v", "--extra", "--warning-as-error", str(p)],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "Checking gpkg_metadata" in r.stdout
    with closing(sqlite3.connect(p)) as db, db:          # the validator does judge the metadata tables
        db.execute("UPDATE gpkg_metadata_reference SET timestamp = 'yesterday'")
    bad = subprocess.run(["/usr/bin/python3", str(VALIDATOR), "--extra", str(p)], capture_output=True, text=True)
    assert bad.returncode != 0 and "Req 100" in bad.stderr
