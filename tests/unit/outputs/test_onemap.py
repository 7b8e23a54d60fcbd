"""One-map GeoPackage: layers, CGCS2000, fields, upsert keys, dictionary, no personal data, same bytes."""
import json
import shutil
import sqlite3
import subprocess
from datetime import date

import pandas as pd
import pyogrio
import pytest
from tests.support.outputs_data import anomalies_fc, rights_and_plans
from tests.support.paths import REPO

from minewatch.outputs.onemap import (
    DICTIONARY,
    LAYERS,
    STD_KYQ,
    STD_SANDIAO,
    YSDM,
    bsm,
    data_dictionary_markdown,
    layer_fields,
    night_unit_status,
    write_onemap,
)
from minewatch.promised.coords import parse_corner_points

ROOT = REPO


def _write(path, **kw):
    rights, plans = rights_and_plans()
    status = pd.DataFrame([
        {"license_no": rights[0].license_no, "unit": "planned:1", "status": "OK", "status_zh": "达标", "fvc": 0.55,
         "as_of": "2026-09-15"},
        {"license_no": rights[0].license_no, "unit": "planned:1", "status": "PENDING", "status_zh": "待判定",
         "fvc": None, "as_of": "2026-06-01"},
        {"license_no": rights[0].license_no, "unit": "planned:2", "status": "RESTORATION_SHORTFALL",
         "status_zh": "修复不达标", "fvc": 0.12, "as_of": "2026-09-15"}])
    return write_onemap(path, anomalies_fc(), rights, plans, status, run_date=date(2026, 10, 2), **kw)


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="ogrinfo (Debian gdal-bin) not installed")
def test_ogrinfo_sees_layers_crs_and_fields(tmp_path):
    p = _write(tmp_path / "onemap.gpkg")
    out = subprocess.run(["ogrinfo", "-ro", "-so", "-al", str(p)], capture_output=True, text=True, check=True).stdout
    for layer in LAYERS:
        assert f"Layer name: {layer}" in out
    assert "Layer name: data_dictionary" in out
    assert out.count('ID["EPSG",4490]') == 3 and "China Geodetic Coordinate System 2000" in out
    assert out.count("Geometry: Multi Polygon") == 3
    for layer in LAYERS:
        block = out.split(f"Layer name: {layer}")[1].split("Layer name:")[0]
        for f in layer_fields(layer):
            assert f"\n{f.name}: " in block, (layer, f.name)
    assert "contact_phone" not in out and "13800000000" not in out


def test_contents_keys_and_status(tmp_path):
    p = _write(tmp_path / "onemap.gpkg")
    assert [n for n, _ in pyogrio.list_layers(p)] == [*LAYERS, "data_dictionary", "changes", "layer_styles"]
    an = pyogrio.read_dataframe(p, layer="anomalies")
    assert an.crs.to_epsg() == 4490 and len(an) == 2
    assert (an.upsert_key == an.id).all() and set(an.status) == {"new"}
    assert json.loads(an.set_index("type").loc["RESTORATION_SHORTFALL", "expected"])["fvc_min"] == 0.4
    # lon/lat order on disk (not EPSG:4490's authority lat/lon)
    assert 110 < an.geometry.iloc[0].bounds[0] < 112

    un = pyogrio.read_dataframe(p, layer="restoration_units")
    assert len(un) == 4 and un.upsert_key.is_unique
    u1 = un.set_index("upsert_key").loc["C1400002010011120000001|2026|planned|1"]
    assert u1.latest_status == "OK" and u1.latest_fvc == pytest.approx(0.55)
    assert u1.latest_as_of == pd.Timestamp("2026-09-15")
    assert u1.land_class == "0404" and u1.measures == "覆土、撒播草籽" and u1.area_hm2 == pytest.approx(3.8012)
    assert 3.0 < u1.area_hm2_drawn < 4.5       # 0.002° x 0.002° at 39°N ≈ 3.8 hm²
    u2 = un.set_index("upsert_key").loc["C1400002010011120000001|2026|planned|2"]
    assert u2.n_anomalies == 1 and bool(u2.is_temporary)

    mi = pyogrio.read_dataframe(p, layer="mines")
    assert list(mi.upsert_key) == sorted(mi.license_no) and len(mi) == 2
    m2 = mi.set_index("license_no").loc["C1500002012011120000002"]
    assert m2.plan_status == "missing" and bool(m2.abnormal_list)
    assert not any(c.startswith("contact_") for c in mi.columns)

    dd = pyogrio.read_dataframe(p, layer="data_dictionary")
    assert len(dd) == len(DICTIONARY) and {"field", "alias_zh", "type", "unit", "meaning"} <= set(dd.columns)
    assert "采矿许可证号" in set(dd.alias_zh) and set(dd.standard) >= {STD_KYQ, STD_SANDIAO}


def test_personal_data_only_when_asked(tmp_path):
    p = _write(tmp_path / "onemap.gpkg", include_personal=True)
    mi = pyogrio.read_dataframe(p, layer="mines").set_index("license_no")
    assert mi.loc["C1400002010011120000001", "contact_phone"] == "13800000000"


def test_same_inputs_same_bytes_atomic(tmp_path):
    a = _write(tmp_path / "a" / "onemap.gpkg").read_bytes()
    b = _write(tmp_path / "b" / "onemap.gpkg").read_bytes()
    assert a == b
    with sqlite3.connect(tmp_path / "a" / "onemap.gpkg") as c:
        stamps = {r[0] for r in c.execute("select last_change from gpkg_contents")}
    assert stamps == {"2026-10-02T00:00:00.000Z"}
    _write(tmp_path / "a" / "onemap.gpkg")                       # overwrite in place
    assert sorted(x.name for x in (tmp_path / "a").iterdir()) == ["onemap.gpkg"]
    assert pyogrio.get_gdal_config_option("OGR_CURRENT_DATE") is None   # restored


def test_empty_findings_still_write_every_layer(tmp_path):
    rights, plans = rights_and_plans()
    p = write_onemap(tmp_path / "e.gpkg", {"type": "FeatureCollection", "features": []}, rights, plans, None)
    layers = dict((n, g) for n, g in pyogrio.list_layers(p))
    assert layers["anomalies"] == "MultiPolygon"
    assert len(pyogrio.read_dataframe(p, layer="anomalies")) == 0


def test_docs_dictionary_in_sync():
    assert (ROOT / "docs" / "data-dictionary.md").read_text(encoding="utf-8") == data_dictionary_markdown()


def test_night_unit_status_fills_the_latest_columns(tmp_path):
    """Tonight's findings, unjudged units and series give every unit a status, FVC and date."""
    rights, plans = rights_and_plans()
    lic = rights[0].license_no
    t = pd.to_datetime(["2026-08-06", "2026-09-10", "2026-09-12"])
    series = pd.DataFrame({"unit": ["planned:1"] * 3 + ["planned:2"] * 3 + ["reference"] * 3,
                           "datetime": list(t) * 3, "fvc_mean": [0.5, 0.61234, None, 0.1, 0.12, 0.2, .7, .7, .7],
                           "clear_fraction": [1.0, 0.9, 0.0, 1.0, 1.0, 0.0, 1, 1, 1]})
    unj = [{"license_no": lic, "unit": "restored:1", "reason": "INSUFFICIENT_OBSERVATIONS",
            "reason_zh": "有效观测不足 (2 < 3)", "n_clear": 2}]
    fc = anomalies_fc()
    st = night_unit_status(fc, {lic: series}, unj, date(2026, 10, 2))
    assert list(st.unit) == ["planned:1", "planned:2", "restored:1"]
    by = st.set_index("unit")
    assert by.loc["planned:1", "status"] == "OK" and by.loc["planned:1", "fvc"] == 0.6123
    assert by.loc["planned:1", "as_of"] == "2026-09-10"          # 09-12 had no clear pixel
    assert by.loc["planned:2", "status"] == "RESTORATION_SHORTFALL" and by.loc["planned:2", "fvc"] == 0.12
    assert by.loc["restored:1", "status_zh"].startswith("有效观测不足")
    assert by.loc["restored:1", "as_of"] == "2026-10-02"
    p = write_onemap(tmp_path / "m.gpkg", fc, rights, plans, st, run_date=date(2026, 10, 2))
    un = pyogrio.read_dataframe(p, layer="restoration_units").set_index("upsert_key")
    row = un.loc[f"{lic}|2026|planned|2"]
    assert row.latest_status == "RESTORATION_SHORTFALL" and row.latest_status_zh == "修复不达标"
    assert row.latest_fvc == pytest.approx(0.12)
    assert un.latest_status.notna().sum() == 3                  # damage:1 has neither series nor finding
    an = pyogrio.read_dataframe(p, layer="anomalies")
    assert set(an.confidence) == {"high"}


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="ogrinfo (Debian gdal-bin) not installed")
def test_platform_fields_and_types(tmp_path):
    """BSM/YSDM/XZQDM first on every layer, typed dates, REAL areas, licence-form 拐点坐标."""
    p = _write(tmp_path / "onemap.gpkg", county_names={"140100": "太原市"})
    out = subprocess.run(["ogrinfo", "-ro", "-so", "-al", str(p)], capture_output=True, text=True, check=True).stdout
    types = {}
    for layer in LAYERS:
        block = out.split(f"Layer name: {layer}")[1].split("Layer name:")[0]
        types[layer] = dict(line.split(": ", 1) for line in block.splitlines()
                            if ": " in line and line.split(": ")[0] in {f.name for f in layer_fields(layer)})
        assert [k for k in types[layer]][:4] == ["BSM", "YSDM", "XZQDM", "XZQMC"]
        assert types[layer]["BSM"].startswith("Integer (")
    assert types["anomalies"]["first_seen"].startswith("Date (") and types["mines"]["valid_to"].startswith("Date (")
    assert types["restoration_units"]["latest_as_of"].startswith("Date (")
    assert types["restoration_units"]["area_hm2"].startswith("Real (")
    assert types["restoration_units"]["is_temporary"].startswith("Integer(Boolean)")
    un = pyogrio.read_dataframe(p, layer="restoration_units")
    mi = pyogrio.read_dataframe(p, layer="mines").set_index("license_no")
    an = pyogrio.read_dataframe(p, layer="anomalies")
    assert set(un.YSDM) == {YSDM["restoration_units"]} and set(an.YSDM) == {YSDM["anomalies"]}
    assert set(an.XZQDM) == {"140100"} and set(an.XZQMC) == {"太原市"}
    assert mi.loc["C1500002012011120000002", "XZQDM"] == "150200"
    assert mi.loc["C1500002012011120000002", "XZQMC"] is None
    for df, layer in ((un, "restoration_units"), (an, "anomalies"), (mi.reset_index(), "mines")):
        assert df.BSM.is_unique and list(df.BSM) == [bsm(layer, k) for k in df.upsert_key]
    # 拐点坐标 read back to the same outline (licence's 3° zone, 0.01 m)
    u1 = un.set_index("upsert_key").loc["C1400002010011120000001|2026|planned|1"]
    back = parse_corner_points(u1.corner_points)
    assert back.hausdorff_distance(u1.geometry) < 1e-6                        # ~0.1 m
    assert u1.corner_points.splitlines()[0].split(",")[2].startswith("37")      # zone 37 prefix (111°E)


def test_bsm_stable_night_after_night(tmp_path):
    a = pyogrio.read_dataframe(_write(tmp_path / "a.gpkg"), layer="anomalies").set_index("id").BSM
    rights, plans = rights_and_plans()
    fc = anomalies_fc(run_date=date(2026, 10, 9))
    fc["features"] = fc["features"][1:]                              # one finding gone
    b = pyogrio.read_dataframe(write_onemap(tmp_path / "b.gpkg", fc, rights, plans, run_date=date(2026, 10, 9)),
                               layer="anomalies").set_index("id").BSM
    assert len(b) == 1 and b.iloc[0] == a.loc[b.index[0]]


def test_a_finding_on_an_earlier_row_stays_off_this_years_row_of_the_same_seq():
    """`planned:2@2025` is another unit than this year's planned:2: the ledger's ids keep them apart."""
    rights, _ = rights_and_plans()
    lic = rights[0].license_no
    fc = anomalies_fc()
    flagged = [f["properties"] for f in fc["features"] if f["properties"]["unit_seq"] is not None]
    p = flagged[0]
    row = (p["license_no"], p["plan_year"], p["unit_section"], p["unit_seq"])
    unit = f"{p['unit_section']}:{p['unit_seq']}"
    p["unit_id"] = f"{lic}-U0009"                       # the earlier row's unit
    ids = {row: f"{lic}-U0002"}                         # this year's row is another unit
    assert unit not in set(night_unit_status(fc, {}, [], date(2026, 10, 2), ids).unit)
    ids = {row: f"{lic}-U0009"}                         # the same ground listed again: its status
    st = night_unit_status(fc, {}, [], date(2026, 10, 2), ids).set_index("unit")
    assert st.loc[unit, "status"] == p["type"]
