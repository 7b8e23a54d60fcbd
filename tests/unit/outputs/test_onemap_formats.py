"""One-map formats: GeoPackage, File Geodatabase and shapefiles from the one layer definition, read by ogrinfo."""
import hashlib
import json
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from tests.support.outputs_data import anomalies_fc, rights_and_plans

from minewatch.config import OnemapSettings
from minewatch.outputs.onemap import DICTIONARY, LAYERS, layer_fields
from minewatch.outputs.onemap_formats import DBF_TEXT_BYTES, split_utf8, write_package

pytestmark = pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="ogrinfo (Debian gdal-bin) not installed")

ALL = OnemapSettings(formats=("gpkg", "filegdb", "shapefile"))
LONG_NOTE = "现场核查发现覆土厚度不足, 植被稀疏。" * 12          # 216 characters, 648 UTF-8 bytes


def _fc() -> dict:
    """The shared findings, one with observed JSON and a note far over a DBF field's 254 bytes."""
    fc = anomalies_fc()
    p = fc["features"][0]["properties"]
    p["observed"] = {**p["observed"], "dates": [f"2026-07-{d:02d}" for d in range(1, 31)], "说明": "云量较高" * 10}
    p["notes_zh"] = LONG_NOTE
    return fc


def _write(run_dir: Path, s: OnemapSettings = ALL) -> list[Path]:
    rights, plans = rights_and_plans()
    return write_package(run_dir, _fc(), rights, plans, None, s, run_date=date(2026, 10, 2))


def _ogrinfo(path: Path, *args: str, layer: str | None = None) -> str:
    cmd = ["ogrinfo", "-ro", *args, str(path), *([layer] if layer else [])]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def _blocks(summary: str) -> dict[str, str]:
    return {b.split("\n", 1)[0].strip(): b for b in summary.split("Layer name: ")[1:]}


def _types(block: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(r"^(\w+): (\w+(?:\(\w+\))?) \(", block, re.M)}


def test_split_utf8_keeps_characters_whole_and_joins_back():
    text = "a" + "矿" * 200 + "b"                       # 602 bytes: 1 + 3 x 200 + 1
    parts = split_utf8(text)
    assert "".join(parts) == text and all(len(p.encode()) <= DBF_TEXT_BYTES for p in parts)
    assert [len(p.encode()) for p in parts] == [253, 252, 97]      # 1 + 84 x 3, 84 x 3, 32 x 3 + 1
    assert split_utf8("") == [""]


def test_shapefile_names_are_short_unique_and_ascii():
    for layer in LAYERS:
        names = [f.shp_name for f in layer_fields(layer, include_personal=True)]
        assert len(names) == len(set(names)), layer
        assert all(len(n) <= 10 and n.isascii() for n in names), [n for n in names if len(n) > 10]
    assert {f.name for f in DICTIONARY if f.detail} == {"observed", "expected", "evidence_scenes", "corner_points"}


def test_every_format_has_the_layers_types_crs_and_counts(tmp_path):
    paths = _write(tmp_path)
    assert {p.name for p in paths} >= {"onemap.gpkg", "onemap.gdb", "anomalies.shp", "mines.shp"}
    counts = {"anomalies": 2, "restoration_units": 4, "mines": 2}
    gpkg = _blocks(_ogrinfo(tmp_path / "onemap.gpkg", "-so", "-al"))
    gdb = _blocks(_ogrinfo(tmp_path / "onemap.gdb", "-so", "-al"))
    shp = {n: _blocks(_ogrinfo(tmp_path / "shapefile" / f"{n}.shp", "-so", "-al"))[n] for n in LAYERS}
    assert set(gdb) == {*LAYERS, "data_dictionary"}
    assert set(gpkg) == {*LAYERS, "data_dictionary", "changes", "layer_styles"}    # the GeoPackage's own tables
    for fmt, blocks in (("gpkg", gpkg), ("filegdb", gdb), ("shapefile", shp)):
        for layer in LAYERS:
            b = blocks[layer]
            assert f"Feature Count: {counts[layer]}\n" in b, (fmt, layer)
            # a shapefile has one polygon type, which holds multipolygons
            geometry = "Polygon" if fmt == "shapefile" else "Multi Polygon"
            assert f"Geometry: {geometry}\n" in b and 'ID["EPSG",4490]]' in b, (fmt, layer)
            types = _types(b)
            for f in layer_fields(layer):
                name = f.shp_name if fmt == "shapefile" else f.name
                if fmt == "shapefile" and f.detail:
                    assert name not in types, (layer, name)          # in <layer>_detail.dbf
                    continue
                # the File Geodatabase's classic Date is a date-time (see onemap_formats)
                want = {"DATE": "DateTime" if fmt == "filegdb" else "Date", "REAL": "Real", "TEXT": "String",
                        "INTEGER": "Integer",
                        "BOOLEAN": {"gpkg": "Integer(Boolean)", "filegdb": "Integer", "shapefile": "Integer"}[fmt]
                        }[f.type]
                assert types.get(name) == want, (fmt, layer, name, types.get(name))
    # the dates are the days themselves in every format
    first = {"gpkg": "2026/10/02", "filegdb": "2026/10/02 00:00:00+00", "shapefile": "2026/10/02"}
    for fmt, path in (("gpkg", tmp_path / "onemap.gpkg"), ("filegdb", tmp_path / "onemap.gdb"),
                      ("shapefile", tmp_path / "shapefile" / "anomalies.shp")):
        out = _ogrinfo(path, "-geom=NO", layer="anomalies")
        assert re.findall(r"first_seen \(\w+\) = (.*)", out) == [first[fmt]] * 2, fmt


def test_shapefile_detail_table_gives_the_long_values_back_whole(tmp_path):
    _write(tmp_path)
    full = pyogrio.read_dataframe(tmp_path / "onemap.gpkg", layer="anomalies").set_index("BSM")
    shp = pyogrio.read_dataframe(tmp_path / "shapefile" / "anomalies.shp").set_index("BSM")
    detail = pyogrio.read_dataframe(tmp_path / "shapefile" / "anomalies_detail.dbf", read_geometry=False)
    assert list(detail.columns) == ["BSM", "FIELD", "PART", "TEXT"]
    assert (detail.TEXT.map(lambda t: len(t.encode())) <= DBF_TEXT_BYTES).all()
    joined = {(b, f): "".join(g.sort_values("PART").TEXT) for (b, f), g in detail.groupby(["BSM", "FIELD"])}
    long_obs = [b for b in full.index if len(full.loc[b, "observed"].encode()) > DBF_TEXT_BYTES]
    assert len(long_obs) == 1 and (detail.BSM == long_obs[0]).sum() > 3       # split over several rows
    for b in full.index:
        for name, col in (("observed", "observed"), ("expected", "expected"), ("evidence", "evidence_scenes")):
            assert joined[(b, name)] == full.loc[b, col]
            json.loads(joined[(b, name)])
    # a long note (not a detail field) stays in the .shp as its first piece, whole in the detail table
    b = full.index[full.notes_zh == LONG_NOTE][0]
    assert joined[(b, "notes_zh")] == LONG_NOTE and LONG_NOTE.startswith(shp.loc[b, "notes_zh"])
    assert len(shp.loc[b, "notes_zh"].encode()) <= DBF_TEXT_BYTES
    assert "observed" not in shp.columns and "sev_zh" in shp.columns
    units = pyogrio.read_dataframe(tmp_path / "shapefile" / "restoration_units_detail.dbf", read_geometry=False)
    assert set(units.FIELD) == {"corner_pts"} and units.BSM.nunique() == 4
    for part in tmp_path.joinpath("shapefile").glob("*.cpg"):
        assert part.read_text().strip().upper() in ("UTF-8", "UTF8")
    assert not [x for x in tmp_path.joinpath("shapefile").iterdir() if x.name.startswith(".")]


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_two_writes_are_identical(tmp_path):
    _write(tmp_path / "a")
    _write(tmp_path / "b")
    assert (tmp_path / "a" / "onemap.gpkg").read_bytes() == (tmp_path / "b" / "onemap.gpkg").read_bytes()
    assert _digests(tmp_path / "a" / "shapefile") == _digests(tmp_path / "b" / "shapefile")
    assert _digests(tmp_path / "a" / "onemap.gdb") == _digests(tmp_path / "b" / "onemap.gdb")
    text = [_ogrinfo(tmp_path / d / "onemap.gdb", "-al").replace(str(tmp_path / d), "") for d in "ab"]
    assert text[0] == text[1] and "OGRFeature(anomalies):1" in text[0]
    _write(tmp_path / "a")                                         # overwrite in place
    assert sorted(x.name for x in (tmp_path / "a").iterdir()) == ["onemap.gdb", "onemap.gpkg", "shapefile"]


def test_formats_chosen_by_config(tmp_path):
    paths = _write(tmp_path, OnemapSettings(formats=("shapefile",)))
    assert sorted(x.name for x in tmp_path.iterdir()) == ["shapefile"]
    assert [p.name for p in paths] == [f"{n}.shp" for n in LAYERS]
    assert pd.Series([p.exists() for p in paths]).all()
    with pytest.raises(ValueError, match="twice"):
        OnemapSettings(formats=("gpkg", "gpkg"))
    with pytest.raises(ValueError):
        OnemapSettings(formats=("kml",))


def test_filegdb_for_arcgis_pro_has_date_only_fields(tmp_path):
    """pro3.2: DATE fields are the date-only type (GDAL 3.8+ reads it; Debian's 3.6 ogrinfo cannot)."""
    _write(tmp_path, OnemapSettings(formats=("filegdb",), filegdb_target="pro3.2"))
    for layer in LAYERS:
        info = pyogrio.read_info(tmp_path / "onemap.gdb", layer=layer)
        types = dict(zip(info["fields"], info["dtypes"]))
        dates = [f.name for f in layer_fields(layer) if f.type == "DATE"]
        assert dates and {types[d] for d in dates} == {"datetime64[D]"}, layer
    classic = pyogrio.read_info(_write(tmp_path / "c", OnemapSettings(formats=("filegdb",)))[0], layer="mines")
    assert dict(zip(classic["fields"], classic["dtypes"]))["valid_to"] == "datetime64[ms]"
    an = pyogrio.read_dataframe(tmp_path / "onemap.gdb", layer="anomalies")
    assert set(an.first_seen) == {pd.Timestamp("2026-10-02")}
