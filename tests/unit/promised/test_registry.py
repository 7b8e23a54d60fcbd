"""Mining-right registry: CSV with 拐点坐标, GeoJSON / GeoPackage with geometry; every good
row read whatever the encoding, each bad row a finding (a hypothesis fuzz test damages them)."""
from __future__ import annotations

import csv
import dataclasses
import io
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from minewatch.promised.coords import (
    area_hm2,
    format_corner_points,
    parse_corner_points,
)
from minewatch.promised.findings import format_finding
from minewatch.promised.models import MiningRight
from minewatch.promised.registry import (
    REGISTRY_COLUMNS,
    read_registry,
    registry_encoding,
    write_registry_csv,
)
from minewatch.synth import sample

# a bow tie: the boundary crosses itself
BOW_TIE = ("1,4329626.62,39518165.92\n2,4330736.80,39518163.35\n3,4329624.67,39517300.87\n"
           "4,4330734.85,39517298.43\n*,,,,1")


def _right(lic: str, dx: float = 0.0, **kw) -> MiningRight:
    g = parse_corner_points(format_corner_points(box(117.2 + dx, 39.1, 117.21 + dx, 39.11)))
    base = dict(license_no=lic, holder="某某矿业有限公司", mine_name=f"{lic}矿", valid_from=date(2021, 1, 1),
                valid_to=date(2031, 1, 1), county_code="130123", boundary=g, mineral="石灰岩",
                mining_method="露天开采", contact_name="李四", contact_phone="13800000000",
                contact_address="河北省某县")
    base.update(kw)
    return MiningRight(**base)


@pytest.fixture
def rights():
    return [_right("C1300002011011120000001"),
            _right("C1300002011011120000002", 0.05, abnormal_list=True, seriously_dishonest=True)]


def _same(a: MiningRight, b: MiningRight) -> bool:
    return (dataclasses.replace(a, boundary=None) == dataclasses.replace(b, boundary=None)
            and a.boundary.equals_exact(b.boundary, tolerance=1e-7))


def test_csv_round_trip(rights, tmp_path):
    path = write_registry_csv(rights, tmp_path / "reg.csv")
    header = path.read_text("utf-8").splitlines()[0]
    assert header.split(",") == list(REGISTRY_COLUMNS)
    reg = read_registry(path)
    back = reg.rights
    assert reg.findings == [] and reg.encoding == "utf-8"
    assert len(back) == 2 and all(_same(a, b) for a, b in zip(back, rights))
    assert back[1].abnormal_list and back[1].seriously_dishonest
    assert area_hm2(back[0].boundary) == pytest.approx(area_hm2(rights[0].boundary), abs=1e-3)


def test_csv_with_bom_and_yes_no(rights, tmp_path):
    path = write_registry_csv(rights, tmp_path / "reg.csv")
    text = path.read_text("utf-8").replace(",true,true,", ",是,是,").replace(",false,false,", ",否,,")
    path.write_text(text, encoding="utf-8-sig")
    reg = read_registry(path)
    back = reg.rights
    assert reg.encoding == "utf-8-sig" and reg.findings == []
    assert back[1].abnormal_list and not back[0].abnormal_list


def _rewrite(path, row: int, field: str, value: str) -> None:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows[row - 2][field] = value
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=REGISTRY_COLUMNS)
        w.writeheader()
        w.writerows(rows)


@pytest.mark.parametrize("row,field,value,rule", [
    (2, "county_code", "13012", "REGISTRY_BAD_COUNTY_CODE"),
    (3, "valid_from", "2021/01/01", "REGISTRY_BAD_DATE"),
    (3, "license_no", "C1300002011011120000001", "REGISTRY_DUPLICATE_LICENCE"),
    (2, "corner_points", "1,4329624.67,39517300.87\n2,4329624.67,39517400.87", "REGISTRY_BAD_BOUNDARY"),
    (3, "corner_points", BOW_TIE, "REGISTRY_BAD_BOUNDARY"),
    (3, "abnormal_list", "maybe", "REGISTRY_BAD_FLAG"),
    (2, "valid_to", "2020-01-01", "REGISTRY_BAD_VALIDITY"),
    (2, "holder", "", "REGISTRY_MISSING_VALUE"),
])
def test_a_bad_row_is_a_finding_and_the_other_rights_are_read(rights, tmp_path, row, field, value, rule):
    path = write_registry_csv(rights + [_right("C1300002011011120000003", 0.1)], tmp_path / "reg.csv")
    _rewrite(path, row, field, value)
    reg = read_registry(path)
    (f,) = reg.findings
    assert (f.file, f.row, f.field, f.value, f.rule, f.severity) == \
        ("reg.csv", row, field, value.strip(), rule, "error")
    assert f"第{row}行" in format_finding(f) and field in format_finding(f)
    good = ["C1300002011011120000001", "C1300002011011120000002", "C1300002011011120000003"]
    if rule != "REGISTRY_DUPLICATE_LICENCE":
        del good[row - 2]
    else:
        good.remove("C1300002011011120000002")     # row 3 was licence 2, now a repeat of row 2's
    assert [r.license_no for r in reg.rights] == good


def test_missing_column(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("license_no,holder\nX,Y\n", encoding="utf-8")
    reg = read_registry(p)
    assert reg.rights == []
    assert [(f.row, f.field, f.rule) for f in reg.findings] == \
        [(1, c, "REGISTRY_MISSING_COLUMN") for c in ("mine_name", "valid_from", "valid_to", "county_code",
                                                     "corner_points")]


def test_a_field_over_the_csv_modules_limit_costs_no_row(rights, tmp_path):
    path = write_registry_csv(rights + [_right("C1300002011011120000003", 0.1)], tmp_path / "reg.csv")
    _rewrite(path, 2, "mineral", "石" * 200_000)    # csv refuses fields over 131072 characters
    limit = csv.field_size_limit()
    reg = read_registry(path)
    assert csv.field_size_limit() == limit
    assert reg.findings == []
    assert [len(r.mineral) for r in reg.rights] == [200_000, 3, 3]


@pytest.mark.parametrize("encoding,detected,said", [
    ("utf-8-sig", "utf-8-sig", None),
    ("gbk", "gb18030", "GB18030/GBK"),
    ("gb18030", "gb18030", "GB18030/GBK"),
    ("utf-16", "utf-16", "UTF-16"),              # with BOM, as Excel's "Unicode text" export
    ("utf-16-le", "utf-16-le", "UTF-16LE"),      # without
])
def test_chinese_excel_encodings_are_detected_and_said(rights, tmp_path, encoding, detected, said):
    path = write_registry_csv(rights, tmp_path / "reg.csv")
    path.write_bytes(path.read_text("utf-8").encode(encoding))
    reg = read_registry(path)
    assert reg.encoding == detected
    assert [r.holder for r in reg.rights] == ["某某矿业有限公司"] * 2
    assert [r.contact_address for r in reg.rights] == ["河北省某县"] * 2
    assert [(f.rule, f.severity, f.value) for f in reg.findings] == \
        ([] if said is None else [("REGISTRY_ENCODING", "warning", said)])


def test_undecodable_bytes_are_said_and_the_rows_still_read(rights, tmp_path):
    path = write_registry_csv(rights, tmp_path / "reg.csv")
    data = path.read_bytes().replace("河北省某县".encode(), b"\xff\xfe\x80\x80", 1)
    path.write_bytes(data)
    assert registry_encoding(path.read_bytes()) == ("utf-8", False)
    reg = read_registry(path)
    assert [f.rule for f in reg.findings] == ["REGISTRY_ENCODING"]
    assert [r.contact_address for r in reg.rights] == ["\ufffd\ufffd\ufffd\ufffd", "河北省某县"]


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_geo_formats(rights, tmp_path, suffix):
    import geopandas as gpd
    rows = []
    for r in rights:
        d = dataclasses.asdict(r)
        d["geometry"] = d.pop("boundary")
        d["valid_from"] = d["valid_from"].isoformat()
        d["valid_to"] = d["valid_to"].isoformat()
        rows.append(d)
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4490")
    path = tmp_path / f"reg{suffix}"
    gdf.to_file(path)
    back = read_registry(path).rights
    assert len(back) == 2
    assert back[0].county_code == "130123" and back[0].valid_to == date(2031, 1, 1)
    assert back[1].abnormal_list is True
    assert back[0].boundary.equals_exact(rights[0].boundary, tolerance=1e-9)


def test_gpkg_in_projected_crs_is_transformed(rights, tmp_path):
    import geopandas as gpd
    d = dataclasses.asdict(rights[0])
    d["geometry"] = d.pop("boundary")
    d["valid_from"], d["valid_to"] = "2021-01-01", "2031-01-01"
    gdf = gpd.GeoDataFrame([d], geometry="geometry", crs="EPSG:4490").to_crs(4527)
    gdf.to_file(tmp_path / "r.gpkg")
    (back,) = read_registry(tmp_path / "r.gpkg").rights
    assert back.boundary.equals_exact(rights[0].boundary, tolerance=1e-7)


# ------------------------------------------------------- fuzz: damaged registries


SAMPLE_RIGHTS = [sample.mining_right(m) for m in sample.MINES]
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
ENCODINGS = ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16", "utf-16-le", "utf-16-be"]
hostile = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "2021/01/01", "2021-02-30", "20210101", "9999-99-99", "13012", "maybe", "是", "×",
                     BOW_TIE, "1,2,3", "*,,,,1", "=1+1", '"', "a,b\nc", "\x00", "\ufeff", "１３０１２３",
                     SAMPLE_RIGHTS[0].license_no, "x" * 200_000]),
)
damages = st.lists(st.tuples(st.sampled_from(["set", "delete_row", "duplicate_row"]),
                             st.integers(0, 2), st.sampled_from(REGISTRY_COLUMNS), hostile),
                   min_size=1, max_size=6)


def _damaged(tmp_path, operations, encoding: str, cut: int | None) -> tuple:
    """The sample registry with the operations applied, encoded, maybe cut short; the licences
    of rows left untouched whose number no other row takes."""
    rows = []
    with write_registry_csv(SAMPLE_RIGHTS, tmp_path / "clean.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    touched: set[int] = set()
    for op, i, fld, v in operations:
        i %= max(len(rows), 1)
        if not rows:
            break
        if op == "set":
            rows[i][fld] = v
            touched.add(id(rows[i]))
        elif op == "delete_row":
            rows.pop(i)
        else:
            rows.insert(i, dict(rows[i]))
            touched.add(id(rows[i]))
            touched.add(id(rows[i + 1]))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=REGISTRY_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    data = buf.getvalue().encode(encoding, errors="replace")
    if cut is not None:
        data = data[:cut]
    path = tmp_path / "reg.csv"
    path.write_bytes(data)
    taken = [r["license_no"] for r in rows if id(r) in touched]
    untouched = [r["license_no"] for r in rows if id(r) not in touched and r["license_no"] not in taken]
    return path, untouched


@FUZZ
@given(operations=damages, encoding=st.sampled_from(ENCODINGS), cut=st.one_of(st.none(), st.integers(0, 3000)))
def test_damaged_registry_gives_rights_or_findings_never_a_traceback(tmp_path_factory, operations, encoding, cut):
    path, untouched = _damaged(tmp_path_factory.mktemp("reg"), operations, encoding, cut)
    reg = read_registry(path)                                  # never raises
    for f in reg.findings:
        assert f.file == "reg.csv" and f.rule.startswith("REGISTRY_") and f.message_zh
        assert f.severity in ("error", "warning")
        format_finding(f)
    lics = [r.license_no for r in reg.rights]
    assert len(lics) == len(set(lics))                         # one right per licence
    if cut is None:                                            # every row nobody damaged runs
        assert set(untouched) <= set(lics), (untouched, lics, reg.findings)
        data = path.read_bytes()                               # detected: the text as written
        assert data.decode(reg.encoding) == data.decode(encoding)
    if not reg.findings:
        old = csv.field_size_limit(2**31 - 1)     # the oracle reads a huge cell too, as the reader does
        try:
            with path.open(encoding=reg.encoding, newline="") as fh:
                assert len(lics) == sum(1 for _ in csv.DictReader(fh))
        finally:
            csv.field_size_limit(old)
