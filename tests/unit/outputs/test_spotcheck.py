"""Spot-check ranking, its CSV/XLSX files, and public disclosure stripping."""
import copy
from dataclasses import replace
from datetime import date

import pandas as pd
import pytest
from openpyxl import load_workbook
from shapely.geometry import box
from tests.support.outputs_data import anomalies_fc, rights_and_plans

from minewatch.outputs.disclosure import public_profile
from minewatch.outputs.onemap import mines_frame
from minewatch.outputs.spotcheck import COLUMNS, DEFAULT_WEIGHTS, read_spot_check_csv, spot_check_list, write_spot_check
from minewatch.promised.models import MiningRight


def _f(lic, sev, area, type_="RESTORATION_SHORTFALL", status=None, fid=None):
    p = {"id": fid or f"{lic}{sev}{area}", "license_no": lic, "mine_name": "m", "type": type_, "type_zh": "修复不达标",
         "severity": sev, "area_hm2": area}
    if status:
        p["status"] = status
    return {"type": "Feature", "id": p["id"], "geometry": None, "properties": p}


def _right(lic, **kw):
    return MiningRight(lic, f"{lic}公司", f"{lic}矿", date(2020, 1, 1), date(2030, 1, 1), "140100",
                       box(111, 39, 111.01, 39.01), **kw)


def test_ranking_follows_documented_score():
    rights = [_right("A"), _right("B"), _right("C", abnormal_list=True), _right("D", seriously_dishonest=True,
                                                                                abnormal_list=True), _right("E")]
    fc = {"type": "FeatureCollection", "features": [
        _f("A", "high", 10.0), _f("A", "low", 0.0, type_="PLAN_DATA_INCONSISTENT"),
        _f("B", "medium", 2.5),
        _f("C", "medium", 2.5),
        _f("E", "high", 50.0, status="resolved"),          # resolved: not counted
        _f("X", "high", 1.0),                              # finding for a licence missing from the registry
    ]}
    df = spot_check_list(fc, rights)
    s = df.set_index("license_no")
    assert s.loc["A", "risk_score"] == pytest.approx(1 + 3 * (10 + 1) + 1 * (0 + 1))    # 35
    assert s.loc["B", "risk_score"] == pytest.approx(1 + 2 * 3.5)                       # 8
    assert s.loc["C", "risk_score"] == pytest.approx(2 * (1 + 2 * 3.5))                 # 16: 异常名录 doubles
    assert s.loc["D", "risk_score"] == pytest.approx(3.0) and s.loc["D", "multiplier"] == 3.0
    assert s.loc["E", "risk_score"] == pytest.approx(1.0) and s.loc["E", "n_anomalies"] == 0
    assert s.loc["X", "risk_score"] == pytest.approx(1 + 3 * 2) and "登记信息中无此证号" in s.loc["X", "reasons_zh"]
    assert list(df.license_no) == ["A", "C", "B", "X", "D", "E"] and list(df["rank"]) == [1, 2, 3, 4, 5, 6]
    assert s.loc["A", "types"] == "PLAN_DATA_INCONSISTENT;RESTORATION_SHORTFALL" and s.loc["A", "n_high"] == 1
    assert "异常名录" in s.loc["C", "reasons_zh"] and "严重失信" in s.loc["D", "reasons_zh"]
    weaker = replace(DEFAULT_WEIGHTS, abnormal_list_bonus=0.0)
    assert spot_check_list(fc, rights, weaker).set_index("license_no").loc["C", "risk_score"] == pytest.approx(8)
    shuffled = {"type": "FeatureCollection", "features": list(reversed(fc["features"]))}
    pd.testing.assert_frame_equal(df, spot_check_list(shuffled, list(reversed(rights))))


def test_csv_and_xlsx(tmp_path):
    rights, _ = rights_and_plans()
    df = spot_check_list(anomalies_fc(), rights)
    csv, xlsx = write_spot_check(df, tmp_path / "spot_check.csv", tmp_path / "spot_check.xlsx")
    raw = csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")                                        # BOM for Excel
    header = raw.decode("utf-8-sig").splitlines()[0].split(",")
    assert header[:3] == ["rank|排序", "license_no|采矿权证证号", "holder|采矿权人名称"]
    assert len(header) == len(COLUMNS)
    back = read_spot_check_csv(csv)
    pd.testing.assert_frame_equal(back, df, check_dtype=False)

    wb = load_workbook(xlsx)
    ws = wb["抽查清单"]
    assert [c.value for c in ws[1]][:3] == ["排序", "采矿权证证号", "采矿权人名称"]
    assert ws.cell(2, 2).value == df.license_no[0] and ws.max_row == len(df) + 1
    assert {"是", "否"} >= {ws.cell(r, 8).value for r in range(2, ws.max_row + 1)}
    assert "风险分值" in [c.value for c in ws[1]] and "字段说明" in wb.sheetnames
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spot_check.csv", "spot_check.xlsx"]


def test_public_profile_strips_personal_and_marked_fields():
    fc = anomalies_fc()
    fc["features"][0]["properties"]["contact_phone"] = "13800000000"
    fc["features"][0]["properties"]["observed"]["contact_name"] = "张三"
    fc["features"][1]["properties"]["confidential_fields"] = ["notes_zh"]
    fc["confidential_fields"] = ["evidence_scenes"]
    before = copy.deepcopy(fc)
    pub = public_profile(fc)
    assert fc == before
    text = repr(pub)
    assert "13800000000" not in text and "张三" not in text and "confidential_fields" not in text
    assert all("evidence_scenes" not in f["properties"] for f in pub["features"])
    assert "notes_zh" not in pub["features"][1]["properties"] and "notes_zh" in pub["features"][0]["properties"]
    assert pub["features"][0]["geometry"] is not None and pub["features"][0]["properties"]["area_hm2"]
    assert public_profile(fc, drop_geometry=True)["features"][0]["geometry"] is None


def test_public_profile_on_frames():
    rights, plans = rights_and_plans()
    mines = mines_frame(rights, plans, anomalies_fc(), include_personal=True)
    assert "contact_phone" in mines.columns
    mines.attrs["confidential_fields"] = ["mining_method"]
    pub = public_profile(mines)
    assert not {"contact_name", "contact_phone", "contact_address", "mining_method"} & set(pub.columns)
    assert pub.geometry.name == "geometry" and len(pub) == 2 and "confidential_fields" not in pub.attrs
    flat = public_profile(pd.DataFrame({"license_no": ["A"], "ct_phone": ["1"], "holder": ["h"]}), extra=["holder"])
    assert list(flat.columns) == ["license_no"]
    with pytest.raises(TypeError):
        public_profile("not data")


def test_xlsx_prints_on_a4_landscape_fit_to_width(tmp_path):
    from minewatch.labels import FIELDS
    rights, _ = rights_and_plans()
    write_spot_check(spot_check_list(anomalies_fc(), rights), None, tmp_path / "s.xlsx")
    wb = load_workbook(tmp_path / "s.xlsx")
    for ws in wb.worksheets:
        ps = ws.page_setup
        assert (ps.paperSize, ps.orientation, ps.fitToWidth, ps.fitToHeight) == (9, "landscape", 1, 0), ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.print_title_rows == "$1:$1"
        assert "&P" in ws.oddFooter.center.text
    f = wb["异常字段说明"]
    rows = {r[3]: r for r in f.iter_rows(min_row=2, values_only=True)}
    assert set(rows) == set(FIELDS) and rows["clear_observations"][:2] == ("晴空观测数", "次")
