"""County outlines from an operator's 行政区划 layer: found by code, reprojected, every problem one warning."""
from dataclasses import replace
from pathlib import Path

import pyogrio
import pytest
import shapely
from shapely.geometry import LineString, Polygon
from tests.support.county_layer import county_around, sample_rights, write_county_layer

from minewatch.config import ReportSettings
from minewatch.outputs.counties import county_code, county_outlines
from minewatch.promised.models import MiningRight

RIGHTS = sample_rights()
ZGE, QA = RIGHTS["150622"], RIGHTS["130283"]          # 准格尔旗 (GK zone 37), 迁安市 (GK zone 40)


def _settings(path: Path | None, **kw) -> ReportSettings:
    return ReportSettings(county_boundaries=path, **kw)


def _rights(*codes: str) -> list[MiningRight]:
    """Sample rights by county code; a code the sample lacks: 准格尔旗's mine under that code."""
    return [RIGHTS.get(c) or replace(ZGE, license_no=f"C{c}", county_code=c) for c in codes]


def test_a_cgcs2000_geopackage_gives_the_county_around_the_mine(tmp_path):
    poly = county_around(ZGE)
    p = write_county_layer(tmp_path / "xzq.gpkg", [("150622", "准格尔旗", poly), ("150621", "达拉特旗",
                                                   shapely.affinity.translate(poly, xoff=-1.0))])
    got = county_outlines(_settings(p), _rights("150622", "150622"))
    assert got.warnings == () and list(got.outlines) == ["150622"]        # only what the registry asks for
    o = got.outlines["150622"]
    assert o.name == "准格尔旗" and o.geometry.normalize().equals_exact(poly.normalize(), 1e-9)
    assert o.geometry.contains(ZGE.boundary)


def test_a_gauss_kruger_shapefile_with_integer_codes_is_reprojected_to_lonlat(tmp_path):
    """Zone 40 (EPSG:4528, easting with the zone prefix), 天地图's PAC/NAME fields as an integer and text."""
    poly = county_around(QA, radius_km=20)
    p = write_county_layer(tmp_path / "county.shp", [(130283, "迁安市", poly)], epsg=4528,
                           code_field="PAC", name_field="NAME")
    assert pyogrio.read_info(p)["fields"].tolist() == ["PAC", "NAME"]
    assert pyogrio.read_info(p)["geometry_type"] == "Polygon"
    got = county_outlines(_settings(p, county_code_field="pac", county_name_field="NAME"), _rights("130283"))
    assert got.warnings == ()
    g = got.outlines["130283"].geometry
    # the vertices come back to lon/lat within 1e-7° (about 1 cm) after GK and back
    assert g.normalize().equals_exact(poly.normalize(), 1e-7) and g.contains(QA.boundary)
    assert got.outlines["130283"].name == "迁安市"


def test_a_shapefile_without_prj_needs_county_epsg(tmp_path):
    poly = county_around(QA, radius_km=20)
    p = write_county_layer(tmp_path / "county.shp", [("130283", "迁安市", poly)], epsg=4528)
    p.with_suffix(".prj").unlink()
    [w] = county_outlines(_settings(p), _rights("130283")).warnings
    assert "declares no CRS" in w and "report.county_epsg" in w
    got = county_outlines(_settings(p, county_epsg=4528), _rights("130283"))
    assert got.warnings == () and got.outlines["130283"].geometry.normalize().equals_exact(poly.normalize(), 1e-7)
    # the wrong zone puts the county far away: told, not drawn
    wrong = county_outlines(_settings(p, county_epsg=4513), _rights("130283"))
    assert wrong.outlines == {} and "lies outside China" in wrong.warnings[0]


def test_missing_file_missing_field_missing_code_and_bad_geometry_are_one_warning_each(tmp_path):
    assert county_outlines(_settings(None), _rights("150622")).warnings == ()        # not configured: silent
    [w] = county_outlines(_settings(tmp_path / "none.gpkg"), _rights("150622")).warnings
    assert "county boundary file not found" in w and "none.gpkg" in w
    poly = county_around(ZGE)
    bow = Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])            # a self-crossing ring: made valid, kept
    c = ZGE.boundary.centroid                                  # the mine at the bow's crossing
    bow = shapely.affinity.translate(shapely.affinity.scale(bow, 0.5, 0.5, origin=(0, 0)), c.x - 0.25, c.y - 0.25)
    p = write_county_layer(tmp_path / "xzq.gpkg", [("150622", "准格尔旗", poly), ("130283", "迁安市", None),
                                                   ("150623", "", bow)])
    got = county_outlines(_settings(p), _rights("150622", "130283", "210902", "150623"))
    assert sorted(got.outlines) == ["150622", "150623"] and got.outlines["150623"].geometry.area > 0
    bad, missing = got.warnings
    assert "bad or empty geometry for 130283" in bad and "no feature with code 210902" in missing
    [w] = county_outlines(_settings(p, county_code_field="PAC"), _rights("150622")).warnings
    assert "has no field 'PAC'" in w and "XZQDM" in w
    got = county_outlines(_settings(p, county_name_field="NAME"), _rights("150622"))
    assert got.outlines["150622"].name == "" and "has no field 'NAME'" in got.warnings[0]


def test_a_line_layer_or_a_damaged_file_is_told_not_raised(tmp_path):
    p = write_county_layer(tmp_path / "lines.gpkg", [("150622", "准格尔旗", LineString([(111, 39), (111.2, 39.1)]))])
    got = county_outlines(_settings(p), _rights("150622"))
    assert got.outlines == {} and "bad or empty geometry for 150622" in got.warnings[0]
    junk = tmp_path / "junk.gpkg"
    junk.write_bytes(b"not a geopackage")
    [w] = county_outlines(_settings(junk), _rights("150622")).warnings
    assert "cannot read county boundaries" in w


@pytest.mark.parametrize("value, code", [("150622", "150622"), (150622, "150622"), (150622.0, "150622"),
                                         (" 150622 ", "150622"), ("150622000000", "150622"),
                                         ("150622101000", "150622101000"), (None, ""), (float("nan"), "")])
def test_county_code_reads_the_field_as_the_registry_writes_it(value, code):
    assert county_code(value) == code


def test_a_county_that_does_not_hold_its_mine_is_told_and_not_drawn_for_it(tmp_path):
    """A layer shifted by a wrong zone (3° of longitude): the outline is read, but that mine's map gets none."""
    shifted = shapely.affinity.translate(county_around(QA, radius_km=20), xoff=-3.0)
    p = write_county_layer(tmp_path / "xzq.gpkg", [("130283", "迁安市", shifted),
                                                   ("150622", "准格尔旗", county_around(ZGE))])
    got = county_outlines(_settings(p), _rights("130283", "150622"))
    assert sorted(got.outlines) == ["130283", "150622"]
    assert got.for_mine(QA) is None and got.for_mine(ZGE).name == "准格尔旗"
    [w] = got.warnings
    assert f"licences outside their county's outline: {QA.license_no} (130283)" in w


def test_a_wgs84_geojson_is_read_as_well(tmp_path):
    poly = county_around(ZGE, radius_km=15)
    p = write_county_layer(tmp_path / "county.geojson", [("150622", "准格尔旗", poly)], epsg=4326)
    assert pyogrio.read_info(p)["crs"] == "EPSG:4326"
    got = county_outlines(_settings(p), _rights("150622"))
    assert got.warnings == () and got.for_mine(ZGE).geometry.normalize().equals_exact(poly.normalize(), 1e-7)
