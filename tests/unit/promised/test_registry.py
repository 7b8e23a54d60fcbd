"""Mining-right registry: CSV with 拐点坐标, GeoJSON / GeoPackage with geometry."""
from __future__ import annotations

import csv
import dataclasses
from datetime import date

import pytest
from shapely.geometry import box

from minewatch.promised.coords import area_hm2, format_corner_points, parse_corner_points
from minewatch.promised.models import MiningRight
from minewatch.promised.registry import REGISTRY_COLUMNS, RegistryError, read_registry, write_registry_csv


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
    back = read_registry(path)
    assert len(back) == 2 and all(_same(a, b) for a, b in zip(back, rights))
    assert back[1].abnormal_list and back[1].seriously_dishonest
    assert area_hm2(back[0].boundary) == pytest.approx(area_hm2(rights[0].boundary), abs=1e-3)


def test_csv_with_bom_and_yes_no(rights, tmp_path):
    path = write_registry_csv(rights, tmp_path / "reg.csv")
    text = path.read_text("utf-8").replace(",true,true,", ",是,是,").replace(",false,false,", ",否,,")
    path.write_text(text, encoding="utf-8-sig")
    back = read_registry(path)
    assert back[1].abnormal_list and not back[0].abnormal_list


def _rewrite(path, row: int, field: str, value: str) -> None:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows[row - 2][field] = value
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=REGISTRY_COLUMNS)
        w.writeheader()
        w.writerows(rows)


@pytest.mark.parametrize("row,field,value", [
    (2, "county_code", "13012"),
    (3, "valid_from", "2021/01/01"),
    (3, "license_no", "C1300002011011120000001"),
    (2, "corner_points", "1,4329624.67,39517300.87\n2,4329624.67,39517400.87"),
    (3, "abnormal_list", "maybe"),
    (2, "valid_to", "2020-01-01"),
])
def test_bad_rows_name_file_row_field(rights, tmp_path, row, field, value):
    path = write_registry_csv(rights, tmp_path / "reg.csv")
    _rewrite(path, row, field, value)
    with pytest.raises(RegistryError) as ei:
        read_registry(path)
    e = ei.value
    assert e.file == "reg.csv" and "reg.csv" in str(e)
    assert [(p.row, p.field) for p in e.problems] == [(row, field)]
    assert f"第{row}行" in str(e) and field in str(e)


def test_missing_column(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("license_no,holder\nX,Y\n", encoding="utf-8")
    with pytest.raises(RegistryError, match="county_code"):
        read_registry(p)


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
    back = read_registry(path)
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
    (back,) = read_registry(tmp_path / "r.gpkg")
    assert back.boundary.equals_exact(rights[0].boundary, tolerance=1e-7)
