"""schemas/anomaly.schema.json: what write_anomalies writes validates; drift and bad values do not."""
import copy
import json
import shutil
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from shapely.geometry import MultiPolygon, Polygon
from tests.support.paths import REPO

from minewatch.assess.anomaly import Anomaly
from minewatch.outputs.geojson import write_anomalies
from minewatch.outputs.lifecycle import apply_lifecycle

SCHEMA_PATH = REPO / "schemas" / "anomaly.schema.json"
ALL_TYPES = ["RESTORATION_SHORTFALL", "AT_RISK", "CLAIMED_RESTORATION_NOT_OBSERVED", "VEGETATION_DEGRADATION",
             "UNDECLARED_DISTURBANCE", "DAMAGE_EXCEEDS_DECLARED", "OUT_OF_BOUNDARY_DISTURBANCE",
             "TEMPORARY_LAND_NOT_RESTORED", "PLAN_MISSING", "PLAN_DATA_INCONSISTENT", "PLAN_UNREADABLE",
             "PLAN_NOT_EXECUTED", "RESTORED_LAND_REDISTURBED", "RESTORATION_OVERDUE_AT_EXPIRY", "PARTIAL_RESTORATION"]


def _anomaly(**kw):
    sq = Polygon([(111.0, 39.0), (111.0, 39.01), (111.01, 39.01), (111.01, 39.0)])
    base = dict(type="RESTORATION_SHORTFALL", severity="high", license_no="C1400002010011120000001",
                mine_name="示例煤矿", plan_year=2026, geometry=sq, area_hm2=4.00319999,
                period="2026-07-01/2026-09-15", observed={"fvc": 0.1}, expected={"min": 0.4, "source": "s"},
                evidence_scenes=("S2B_49SFA_20260712_0_L2A",), unit_seq=2, unit_section="planned",
                target_land_class="0305", key="planned:2")
    base.update(kw)
    return Anomaly(**base)


@pytest.fixture
def written(tmp_path):
    multi = MultiPolygon([Polygon([(111.0, 39.0), (111.001, 39.0), (111.001, 39.001)]),
                          Polygon([(111.01, 39.0), (111.011, 39.0), (111.011, 39.001)])])
    anomalies = [_anomaly(),
                 _anomaly(type="UNDECLARED_DISTURBANCE", unit_seq=None, unit_section=None, target_land_class=None,
                          key="loss@1,2", geometry=multi, area_hm2=0.2, severity="medium"),
                 _anomaly(key="planned:3", unit_seq=3, target_land_class="1104K", area_hm2=0.0)]
    p = write_anomalies(tmp_path / "anomalies.geojson", anomalies)
    return json.loads(p.read_text(encoding="utf-8"))


def _check_jsonschema() -> str | None:
    here = Path(sys.executable).with_name("check-jsonschema")
    return str(here) if here.exists() else shutil.which("check-jsonschema")


def _decimals(x: float) -> int:
    return max(0, -Decimal(repr(x)).as_tuple().exponent)


def test_schema_is_versioned_and_lists_every_regulation_type():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$schema"].endswith("2020-12/schema") and schema["$id"] and schema["version"]
    assert sorted(schema["$defs"]["anomaly_type"]["enum"]) == sorted(ALL_TYPES)


def test_written_file_validates(written, anomaly_validator):
    errors = sorted(anomaly_validator.iter_errors(written), key=str)
    assert not errors, [e.message for e in errors]
    assert {f["geometry"]["type"] for f in written["features"]} == {"Polygon", "MultiPolygon"}


def test_lifecycle_output_validates(written, anomaly_validator):
    prev = copy.deepcopy(written)
    prev["features"][0]["id"] = prev["features"][0]["properties"]["id"] = "0" * 16   # gone tonight
    prev = apply_lifecycle(prev, None, date(2026, 10, 1))
    fc = apply_lifecycle(written, prev, date(2026, 10, 2))
    assert {f["properties"]["status"] for f in fc["features"]} == {"new", "ongoing", "resolved"}
    errors = list(anomaly_validator.iter_errors(fc))
    assert not errors, [e.message for e in errors]


@pytest.mark.parametrize("path,value", [
    (("properties", "type"), "SOMETHING_ELSE"),
    (("properties", "severity"), "critical"),
    (("properties", "area_hm2"), -1.0),
    (("properties", "status"), "closed"),
    (("properties", "first_seen"), "02/10/2026"),
    (("properties", "extra_field"), 1),                     # drift: needs a schema version
    (("geometry", "type"), "Point"),
    (("id",), "not-an-id"),
])
def test_bad_values_fail(written, path, value, anomaly_validator):
    bad = copy.deepcopy(written)
    target = bad["features"][0]
    for k in path[:-1]:
        target = target[k]
    target[path[-1]] = value
    assert not anomaly_validator.is_valid(bad)


def test_swapped_axes_and_crs_member_fail(written, anomaly_validator):
    bad = copy.deepcopy(written)
    g = next(f["geometry"] for f in bad["features"] if f["geometry"]["type"] == "Polygon")
    g["coordinates"] = [[[y, x] for x, y in ring] for ring in g["coordinates"]]   # lat, lon (EPSG:4490 order)
    assert not anomaly_validator.is_valid(bad)
    bad = copy.deepcopy(written)
    bad["crs"] = {"type": "name", "properties": {"name": "EPSG:4490"}}
    assert not anomaly_validator.is_valid(bad)


def test_resolved_needs_resolved_on(written, anomaly_validator):
    fc = apply_lifecycle(written, None, date(2026, 10, 2))
    fc["features"][0]["properties"]["status"] = "resolved"
    assert not anomaly_validator.is_valid(fc)
    fc["features"][0]["properties"]["resolved_on"] = "2026-10-02"
    assert anomaly_validator.is_valid(fc)


def test_no_multiple_of_on_any_number():
    # binary floats are never exact multiples of 0.0001: every validator that divides rejects 4.0032
    def keys(node):
        if isinstance(node, dict):
            for k, v in node.items():
                yield k
                yield from keys(v)
        elif isinstance(node, list):
            for v in node:
                yield from keys(v)

    assert "multipleOf" not in set(keys(json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))))


def test_rounding_is_the_writers(written):
    areas = [f["properties"]["area_hm2"] for f in written["features"]]
    assert sorted(areas) == [0.0, 0.2, 4.0032]
    coords = [c for f in written["features"] for c in json.dumps(f["geometry"]["coordinates"])
              .replace("[", " ").replace("]", " ").replace(",", " ").split()]
    assert coords and max(_decimals(float(c)) for c in coords) <= 6      # RFC 7946 section 11.2


@pytest.mark.skipif(_check_jsonschema() is None, reason="check-jsonschema (PyPI) not installed")
def test_check_jsonschema_cli_accepts_the_written_files(written, tmp_path):
    """A second, independent validator, run as the platform would: the CLI on the file on disk."""
    night = tmp_path / "night.geojson"
    night.write_text(json.dumps(apply_lifecycle(written, None, date(2026, 10, 2)), ensure_ascii=False),
                     encoding="utf-8")
    bad = tmp_path / "bad.geojson"
    broken = copy.deepcopy(written)
    broken["features"][0]["properties"]["severity"] = "critical"
    bad.write_text(json.dumps(broken, ensure_ascii=False), encoding="utf-8")
    cli = [_check_jsonschema(), "--schemafile", str(SCHEMA_PATH), "--no-cache"]
    ok = subprocess.run([*cli, str(night)], capture_output=True, text=True, timeout=120, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ok -- validation done" in ok.stdout
    no = subprocess.run([*cli, str(bad)], capture_output=True, text=True, timeout=120, check=False)
    assert no.returncode == 1 and "critical" in no.stdout + no.stderr
