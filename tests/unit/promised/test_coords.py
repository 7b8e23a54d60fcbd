"""拐点坐标: zones, parsing, formatting, areas (CGCS2000 Gauss-Krüger, docs/domain.md §2)."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod, Transformer
from shapely.geometry import MultiPolygon, Polygon, box

from minewatch.promised.coords import (
    CoordinateError,
    area_hm2,
    epsg_for_central_meridian,
    epsg_from_y,
    format_corner_points,
    gk3_epsg,
    gk6_epsg,
    parse_corner_points,
    to_utm,
    transform,
    utm_epsg,
    zone_central_meridian,
)

SQUARE = """1,4329624.67,39517300.87
2,4329624.67,39517400.87
3,4329524.67,39517400.87
4,4329524.67,39517300.87
*,1200,1000,,1
"""


def _gk(geom, epsg=4527):
    return transform(geom, 4490, epsg)


def test_domain_example_point():
    t = Transformer.from_crs(4490, 4527, always_xy=True)
    y, x = t.transform(117.2, 39.1)
    assert (round(x, 2), round(y, 2)) == (4329624.67, 39517300.87)
    assert gk3_epsg(117.2) == 4527


@pytest.mark.parametrize("lon,epsg", [(75.0, 4513), (76.4, 4513), (76.6, 4514), (117.2, 4527),
                                      (118.4, 4527), (118.6, 4528), (135.0, 4533)])
def test_gk3_epsg(lon, epsg):
    assert gk3_epsg(lon) == epsg
    assert zone_central_meridian(epsg) == 3 * round(lon / 3)


def test_gk6_and_utm():
    assert gk6_epsg(117.2) == 4498  # zone 20, CM 117
    assert zone_central_meridian(4498) == 117
    assert utm_epsg(117.2, 39.1) == 32650
    assert utm_epsg(-3.0, -10.0) == 32730
    assert epsg_for_central_meridian(117) == 4548  # "3-degree Gauss-Kruger CM 117E"


@pytest.mark.parametrize("y,epsg", [(39517300.87, 4527), (25500000, 4513), (45400000, 4533),
                                    (13500000, 4491), (20612345.1, 4498), (23500000, 4501)])
def test_epsg_from_y(y, epsg):
    assert epsg_from_y(y) == epsg


@pytest.mark.parametrize("y", [24500000, 46500000, 12500000, 517300.87])
def test_epsg_from_y_rejects(y):
    with pytest.raises(CoordinateError):
        epsg_from_y(y)


def test_parse_square_matches_pyproj():
    g = parse_corner_points(SQUARE)
    assert isinstance(g, Polygon)
    inv = Transformer.from_crs(4527, 4490, always_xy=True)
    lon, lat = inv.transform(39517300.87, 4329624.67)
    assert any(math.isclose(lon, x, abs_tol=1e-9) and math.isclose(lat, y, abs_tol=1e-9)
               for x, y in g.exterior.coords)
    # 100 m x 100 m on the plane, scale factor ~1 near the CM: ~1 hm²
    assert area_hm2(g) == pytest.approx(1.0, abs=0.002)
    assert 117.19 < g.centroid.x < 117.21 and 39.09 < g.centroid.y < 39.11


@pytest.mark.parametrize("text", [
    # full-width digits and punctuation
    "１，４３２９６２４．６７，３９５１７３００．８７\n２，４３２９６２４．６７，３９５１７４００．８７\n"
    "３，４３２９５２４．６７，３９５１７４００．８７\n４，４３２９５２４．６７，３９５１７３００．８７",
    # one cell, ;-separated, tabs and spaces
    "1\t4329624.67\t39517300.87; 2 4329624.67 39517400.87；3、4329524.67、39517400.87;"
    "4,4329524.67,39517300.87;*,1200,1000,,1",
    # header line, X=/Y= labels, first point repeated to close, annotation line
    "点号 X坐标 Y坐标\nJ1 X=4329624.67 Y=39517300.87\nJ2 X=4329624.67 Y=39517400.87\n"
    "J3 X=4329524.67 Y=39517400.87\nJ4 X=4329524.67 Y=39517300.87\nJ5 X=4329624.67 Y=39517300.87\n"
    "开采深度：由1200米至1000米标高",
    # no point numbers
    "4329624.67,39517300.87\n4329624.67,39517400.87\n4329524.67,39517400.87\n4329524.67,39517300.87",
])
def test_parse_tolerant_variants(text):
    g = parse_corner_points(text)
    assert g.equals_exact(parse_corner_points(SQUARE), tolerance=1e-9)


def test_parse_without_zone_prefix_needs_central_meridian():
    text = SQUARE.replace("39517", "517")
    with pytest.raises(CoordinateError, match="central_meridian"):
        parse_corner_points(text)
    g = parse_corner_points(text, central_meridian=117)
    assert g.equals_exact(parse_corner_points(SQUARE), tolerance=1e-9)
    with pytest.raises(CoordinateError, match="central meridian"):
        parse_corner_points(SQUARE, central_meridian=120)


def test_two_rings_and_a_hole():
    outer = box(117.20, 39.10, 117.21, 39.11)
    hole = box(117.203, 39.103, 117.205, 39.105)
    other = box(117.22, 39.10, 117.23, 39.11)
    geom = MultiPolygon([outer.difference(hole), other])
    text = format_corner_points(geom)
    assert text.count("\n*,") + text.startswith("*") == 3
    back = parse_corner_points(text)
    assert isinstance(back, MultiPolygon) and len(back.geoms) == 2
    assert sum(len(p.interiors) for p in back.geoms) == 1
    # rounding to 0.01 m moves vertices by <= 7 mm: a few m² on 188 hm²
    assert area_hm2(back) == pytest.approx(area_hm2(geom), abs=5e-3)


def test_hole_given_as_separate_ring_without_star_lines():
    # numbering restarts at 1 for the second ring, which lies inside the first
    text = SQUARE.replace("*,1200,1000,,1\n", "") + (
        "1,4329600.00,39517320.00\n2,4329600.00,39517340.00\n3,4329580.00,39517340.00\n"
        "4,4329580.00,39517320.00\n")
    g = parse_corner_points(text)
    assert isinstance(g, Polygon) and len(g.interiors) == 1
    assert area_hm2(g) == pytest.approx(1.0 - 0.04, abs=0.002)


@pytest.mark.parametrize("text,match", [
    ("1,4329624.67,39517300.87\n2,4329624.67,39517400.87", "at least 3"),
    ("1,4329624.67,39517300.87\n2,4329624.67,3951740O.87\n3,4329524.67,39517400.87", "unparsable"),
    ("1,39517300.87,4329624.67\n2,39517400.87,4329624.67\n3,39517400.87,4329524.67", "swapped"),
    ("1,9329624.67,39517300.87\n2,9329624.67,39517400.87\n3,9329524.67,39517400.87", "outside China"),
    ("1,4329624.67,24517300.87\n2,4329624.67,24517400.87\n3,4329524.67,24517400.87", "not a CGCS2000 zone"),
    ("1,4329624.67,39517300.87\n2,4329524.67,39517400.87\n3,4329624.67,39517400.87\n"
     "4,4329524.67,39517300.87", "self-intersection"),
    ("", "empty"),
])
def test_parse_errors(text, match):
    with pytest.raises(CoordinateError, match=match) as ei:
        parse_corner_points(text)
    assert isinstance(ei.value, ValueError)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in str(ei.value))  # Chinese too


def test_format_canonical_text():
    g = parse_corner_points(SQUARE)
    text = format_corner_points(g)
    lines = text.splitlines()
    assert lines[0] == "1,4329624.67,39517300.87"
    assert lines[-1] == "*,,,,1"
    assert len(lines) == 5
    # 6° zone on request: prefix 20
    six = format_corner_points(g, epsg=4498)
    assert six.splitlines()[0].split(",")[2].startswith("20")
    assert parse_corner_points(six).equals_exact(g, tolerance=1e-7)


def test_area_is_ellipsoidal():
    g = box(117.0, 39.0, 117.01, 39.01)
    a, _ = Geod(ellps="GRS80").geometry_area_perimeter(g)
    assert area_hm2(g) == round(abs(a) / 1e4, 4)
    # orientation does not matter, holes are subtracted
    assert area_hm2(Polygon(list(g.exterior.coords)[::-1])) == area_hm2(g)
    holed = g.difference(box(117.002, 39.002, 117.004, 39.004))
    assert area_hm2(holed) < area_hm2(g)


def test_to_utm_and_transform_round_trip():
    g = parse_corner_points(SQUARE)
    u, epsg = to_utm(g)
    assert epsg == 32650
    assert u.area == pytest.approx(1e4 * 0.9996 ** 2, rel=5e-3)
    back = transform(u, epsg, 4490)
    assert back.equals_exact(g, tolerance=1e-9)


@st.composite
def polygons_4490(draw):
    lon = draw(st.floats(74.0, 134.0))
    lat = draw(st.floats(18.0, 52.0))
    n = draw(st.integers(3, 12))
    radius = draw(st.floats(30.0, 3000.0))  # metres
    jitter = draw(st.lists(st.floats(0.5, 1.0), min_size=n, max_size=n))
    epsg = gk3_epsg(lon)
    cx, cy = Transformer.from_crs(4490, epsg, always_xy=True).transform(lon, lat)
    pts = [(cx + radius * j * math.cos(2 * math.pi * i / n), cy + radius * j * math.sin(2 * math.pi * i / n))
           for i, j in enumerate(jitter)]
    return transform(Polygon(pts), epsg, 4490)


@settings(max_examples=60, deadline=None)
@given(polygons_4490())
def test_round_trip_property(g):
    epsg = gk3_epsg(g.centroid.x)
    back = parse_corner_points(format_corner_points(g))
    a, b = _gk(g, epsg), _gk(back, epsg)
    ca, cb = list(a.exterior.coords), list(b.exterior.coords)
    assert len(ca) == len(cb)
    assert max(math.dist(p, q) for p, q in zip(ca, cb)) <= 0.01
    assert a.hausdorff_distance(b) <= 0.01


_ALPHABET = "0123456789０１２３.,，;；*\t \nXYJ点号-é"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=120)
       | st.lists(st.tuples(st.integers(1, 9), st.floats(-1e9, 1e9), st.floats(-1e9, 1e9)), max_size=6)
       .map(lambda pts: "\n".join(f"{i},{x:.2f},{y:.2f}" for i, x, y in pts)))
def test_parse_never_crashes_otherwise(text):
    """Garbage gives a CoordinateError or a valid polygon, never another exception."""
    try:
        g = parse_corner_points(text)
    except CoordinateError:
        return
    assert g.is_valid and not g.is_empty


def test_overlapping_rings_are_rejected():
    a = format_corner_points(box(117.20, 39.10, 117.21, 39.11))
    b = format_corner_points(box(117.205, 39.105, 117.215, 39.115)).replace("1,", "5,", 1)
    with pytest.raises(CoordinateError, match="overlap"):
        parse_corner_points(a + "\n" + b)


def test_island_inside_a_hole_is_a_shell():
    outer = box(117.20, 39.10, 117.21, 39.11).difference(box(117.202, 39.102, 117.208, 39.108))
    island = box(117.204, 39.104, 117.206, 39.106)
    g = parse_corner_points(format_corner_points(MultiPolygon([outer, island])))
    assert isinstance(g, MultiPolygon) and len(g.geoms) == 2
    assert area_hm2(g) == pytest.approx(area_hm2(outer) + area_hm2(island), abs=5e-3)


def test_canonical_text_is_a_fixed_point():
    text = format_corner_points(box(117.20, 39.10, 117.21, 39.11))
    assert format_corner_points(parse_corner_points(text)) == text


def test_degree_minute_second_forms():
    from minewatch.promised.coords import parse_corner_points
    text = ("点号 经度 纬度\n1,111°15′00.00″E,39°48′00.00″N\n2,111°16′00.00″E,39°48′00.00″N\n"
            "3,111°16′00.00″E,39°49′00.00″N\n4,111°15′00.00″E,39°49′00.00″N\n*,,,,1")
    g = parse_corner_points(text)
    assert g.bounds == pytest.approx((111.25, 39.8, 111 + 16 / 60, 39 + 49 / 60), abs=1e-9)
    # latitude first, no hemisphere letters, 度分秒 and full-width separators
    g2 = parse_corner_points("1，39度48分0秒，111度15分0秒\n2，39度48分0秒，111度16分0秒\n3，39度49分0秒，111度16分0秒")
    assert g2.bounds == pytest.approx((111.25, 39.8, 111 + 16 / 60, 39 + 49 / 60), abs=1e-9)
    with pytest.raises(CoordinateError, match="60"):
        parse_corner_points("1,111°75′00″E,39°48′00″N\n2,111°16′0″E,39°48′0″N\n3,111°16′0″E,39°49′0″N")
    with pytest.raises(CoordinateError, match="outside China"):
        parse_corner_points("1,11°15′0″E,39°48′0″N\n2,11°16′0″E,39°48′0″N\n3,11°16′0″E,39°49′0″N")
