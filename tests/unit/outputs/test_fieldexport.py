"""KML and GPX for the field, read back with GDAL's own drivers (pyogrio)."""
import os
import subprocess
from datetime import date

import numpy as np
import pyogrio
import pytest
from pyproj import Transformer
from shapely.geometry import shape
from tests.support.outputs_data import anomalies_fc, rights_and_plans

from minewatch.outputs.fieldexport import write_field_exports


@pytest.fixture
def exported(tmp_path):
    rights, _ = rights_and_plans()
    fc = anomalies_fc()
    paths = write_field_exports(fc, tmp_path / "field", "2026-10-02", {r.license_no: r.boundary for r in rights})
    return fc, paths


def _gk_centroid(geom: dict) -> tuple[float, float]:
    """Centroid in the mine's 3° zone (37, EPSG:4525), independently of the module."""
    to = Transformer.from_crs(4490, 4525, always_xy=True)
    g = shape(geom)
    polys = g.geoms if hasattr(g, "geoms") else [g]
    from shapely.geometry import MultiPolygon, Polygon
    gk = MultiPolygon([Polygon(np.column_stack(to.transform(*np.asarray(p.exterior.coords).T))) for p in polys])
    return gk.centroid.x, gk.centroid.y


def test_kml_reads_back_with_gdal(exported):
    fc, (kml, _) = exported
    layers = pyogrio.list_layers(kml)
    assert [name for name, _ in layers] == ["示例煤矿 C1400002010011120000001"]      # one folder per mine
    df = pyogrio.read_dataframe(kml, layer=layers[0][0])
    assert len(df) == len(fc["features"]) == 2
    assert sorted(df["Name"]) == ["A1 修复不达标", "A2 未申报损毁"]
    assert pyogrio.read_info(kml, layer=layers[0][0])["driver"] == "LIBKML"
    assert all("异常类型" in d and "最近矿界拐点" in d and "3度带" in d for d in df["description"])
    kinds = [[g.geom_type for g in gc.geoms] for gc in df.geometry]      # centroid point + outline(s)
    assert kinds == [["Point", "Polygon"], ["Point", "Polygon", "Polygon"]]
    # the plain KML (expat) driver reads the same counts
    out = subprocess.run(["ogrinfo", "-ro", "-al", "-so", str(kml)], capture_output=True, text=True, check=True,
                         env={**os.environ, "GDAL_SKIP": "LIBKML"}).stdout
    assert "using driver `KML'" in out and "Feature Count: 2" in out


def test_gpx_waypoints_at_centroids(exported):
    fc, (_, gpx) = exported
    wpt = pyogrio.read_dataframe(gpx, layer="waypoints")
    assert len(wpt) == 2
    to = Transformer.from_crs(4490, 4525, always_xy=True)
    by_name = dict(zip(wpt["name"], wpt.geometry))
    feats = sorted(fc["features"], key=lambda f: f["properties"]["unit_section"] or "~")   # planned first, then none
    for label, f in zip(("A1", "A2"), feats):
        p = by_name[f"示例煤矿 {label}"]
        cx, cy = _gk_centroid(f["geometry"])
        x, y = to.transform(p.x, p.y)
        assert np.hypot(x - cx, y - cy) < 1.0, label


def test_reproducible(tmp_path, exported):
    _, paths = exported
    rights, _ = rights_and_plans()
    again = write_field_exports(anomalies_fc(), tmp_path / "again", "2026-10-02",
                                {r.license_no: r.boundary for r in rights})
    assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in again]


def test_resolved_left_out(tmp_path):
    from minewatch.outputs.lifecycle import apply_lifecycle
    fc = apply_lifecycle({"type": "FeatureCollection", "features": []}, anomalies_fc(), date(2026, 10, 3))
    kml, gpx = write_field_exports(fc, tmp_path, "2026-10-03")
    assert len(pyogrio.read_dataframe(gpx, layer="waypoints")) == 0
    assert "<Placemark>" not in kml.read_text(encoding="utf-8")
