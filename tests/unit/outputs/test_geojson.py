"""Anomaly GeoJSON: RFC 7946 geometry, required fields, determinism, atomic write."""
import json

from shapely.geometry import Polygon, shape

from minewatch.assess.anomaly import Anomaly
from minewatch.labels import TYPES_ZH
from minewatch.outputs.geojson import write_anomalies


def _anomaly(**kw):
    cw = Polygon([(111.0, 39.0), (111.0, 39.01), (111.01, 39.01), (111.01, 39.0)])  # clockwise
    base = dict(type="RESTORATION_SHORTFALL", severity="high", license_no="C1", mine_name="矿",
                plan_year=2026, geometry=cw, area_hm2=1.23456, period="2026-07-01/2026-09-15",
                observed={"fvc": 0.1}, expected={"min": 0.4, "source": "s"}, evidence_scenes=("a", "b"),
                unit_seq=2, unit_section="planned", target_land_class="0305", key="planned:2")
    base.update(kw)
    return Anomaly(**base)


def test_geojson_is_rfc7946_and_complete(tmp_path):
    p = write_anomalies(tmp_path / "a.geojson", [_anomaly(), _anomaly(type="UNDECLARED_DISTURBANCE",
                                                                     unit_seq=None, key="loss@1,2")])
    fc = json.loads(p.read_text(encoding="utf-8"))
    assert fc["type"] == "FeatureCollection" and "crs" not in fc
    for f in fc["features"]:
        ring = f["geometry"]["coordinates"][0]
        assert Polygon(ring).exterior.is_ccw             # right-hand rule
        assert -180 <= ring[0][0] <= 180 and -90 <= ring[0][1] <= 90
        props = f["properties"]
        for k in ("id", "type", "type_zh", "severity", "license_no", "mine_name", "plan_year", "unit_seq",
                  "target_land_class", "observed", "expected", "area_hm2", "period", "evidence_scenes"):
            assert k in props
        assert props["type_zh"] == TYPES_ZH[props["type"]] and props["area_hm2"] == 1.2346
        assert f["id"] == props["id"]
    assert shape(fc["features"][0]["geometry"]).area > 0


def test_same_input_same_bytes_and_no_temp_left(tmp_path):
    a = [_anomaly(), _anomaly(key="planned:3", unit_seq=3)]
    b1 = write_anomalies(tmp_path / "x.geojson", a).read_bytes()
    b2 = write_anomalies(tmp_path / "x.geojson", list(reversed(a))).read_bytes()
    assert b1 == b2
    assert [p.name for p in tmp_path.iterdir()] == ["x.geojson"]
