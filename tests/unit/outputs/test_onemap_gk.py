"""The one-map layers in the province's 3° Gauss-Krüger zone: zone from the data, CRS, coordinates, areas."""
import shutil
import subprocess
from datetime import date

import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import box
from tests.support.outputs_data import anomalies_fc, rights_and_plans

from minewatch.config import OnemapSettings
from minewatch.outputs.onemap import LAYERS
from minewatch.outputs.onemap_formats import write_package
from minewatch.outputs.onemap_gk import night_zone_epsg, zone_text_zh
from minewatch.promised.coords import CoordinateError
from minewatch.promised.models import MiningRight


def _right(lic: str, lon: float) -> MiningRight:
    return MiningRight(lic, "h", "m", date(2020, 1, 1), date(2030, 1, 1), "140100", box(lon, 39.0, lon + 0.01, 39.01))


def test_zone_is_the_one_most_mines_are_in():
    # zone 37 (CM 111°E) holds two of three mines; 36 (CM 108°E) one
    rights = [_right("A", 108.2), _right("B", 110.9), _right("C", 111.4)]
    assert night_zone_epsg(rights) == 4525
    assert night_zone_epsg(rights[:1]) == 4524
    assert night_zone_epsg([_right("A", 108.2), _right("B", 111.0)]) == 4524     # a tie: the lower code
    assert night_zone_epsg(rights, configured=4543) == 4543                      # the "CM 111E" form, as asked
    assert night_zone_epsg([]) is None
    with pytest.raises(CoordinateError):
        night_zone_epsg(rights, configured=4490)
    assert zone_text_zh(4525) == "CGCS2000 3度带高斯-克吕格投影 第37带 (中央经线111°E, Y含带号) EPSG:4525"
    with pytest.raises(ValueError):
        OnemapSettings(gk_epsg=4490)


def _coords(g) -> np.ndarray:
    return shapely.get_coordinates(g)


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="ogrinfo (Debian gdal-bin) not installed")
def test_gk_layers_in_every_format_round_trip_to_the_4490_layers(tmp_path):
    rights, plans = rights_and_plans()      # both mines' centroids near 111°E and 110°E: zone 37
    s = OnemapSettings(formats=("gpkg", "filegdb", "shapefile"), gk_layers=True)
    write_package(tmp_path, anomalies_fc(), rights, plans, None, s, run_date=date(2026, 10, 2))
    gpkg, gdb, shp = tmp_path / "onemap.gpkg", tmp_path / "onemap.gdb", tmp_path / "shapefile"
    for path, layer in [*((gpkg, f"{n}_gk") for n in LAYERS), *((gdb, f"{n}_gk") for n in LAYERS),
                        *((shp / f"{n}_gk.shp", f"{n}_gk") for n in LAYERS)]:
        out = subprocess.run(["ogrinfo", "-ro", "-so", str(path), layer], capture_output=True, text=True,
                             check=True).stdout
        assert 'PROJCRS["CGCS2000 / 3-degree Gauss-Kruger zone 37"' in out, (path, layer)
        assert '\n    ID["EPSG",4525]]' in out, (path, layer)                  # the layer's own code
    to_gk = Transformer.from_crs(4490, 4525, always_xy=True)
    for layer in LAYERS:
        geo = pyogrio.read_dataframe(gpkg, layer=layer)
        for path in (gpkg, gdb, shp / f"{layer}_gk.shp"):
            gk = pyogrio.read_dataframe(path, layer=f"{layer}_gk")
            assert gk.crs.to_epsg() == 4525 and list(gk.BSM) == list(geo.BSM)
            for a, b in zip(geo.geometry, gk.geometry):
                # a shapefile turns its rings clockwise: compare both in shapely's normal form
                want = _coords(shapely.normalize(shapely.transform(a, lambda c: np.column_stack(
                    to_gk.transform(c[:, 0], c[:, 1])))))
                got = _coords(shapely.normalize(b))
                assert np.abs(got - want).max() < 0.01, (path, layer)          # metres
                assert 37_000_000 < got[:, 0].min() < 38_000_000               # easting with the zone prefix
        # areas stay the geodesic hm² of the 4490 layers
        gk = pyogrio.read_dataframe(gpkg, layer=f"{layer}_gk")
        for col in ("area_hm2", "area_hm2_drawn", "area_hm2_anomalies"):
            if col in geo.columns:
                assert gk[col].equals(geo[col]), (layer, col)
    back = Transformer.from_crs(4525, 4490, always_xy=True)
    a = _coords(pyogrio.read_dataframe(gpkg, layer="anomalies_gk").geometry.iloc[0])
    lon, lat = back.transform(a[:, 0], a[:, 1])
    ref = _coords(pyogrio.read_dataframe(gpkg, layer="anomalies").geometry.iloc[0])
    assert np.abs(np.column_stack([lon, lat]) - ref).max() * 111_000 < 0.01     # 0.01 m on the ground
