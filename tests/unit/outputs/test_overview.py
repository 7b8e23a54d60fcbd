"""The overview page's imagery: each mine's true colour warped to CGCS2000 lon/lat, as PNG beside index.html."""
import io
import json
import re

import numpy as np
from affine import Affine
from matplotlib.image import imread
from pyproj import Transformer
from tests.support.outputs_data import anomalies_fc, rights_and_plans

from minewatch.outputs.overview import MineImage, imagery_png, write_overview

EPSG = 32649
T = Affine(10, 0, 500000, 0, -10, 4320000)          # 111°E, ~39°N


def _image(h: int = 120, w: int = 200) -> MineImage:
    rgb = np.zeros((h, w, 3), np.float32)
    rgb[..., 1] = 0.6
    rgb[: h // 2, :, 0] = 0.8                        # the north half yellowish
    rgb[-10:, -10:] = np.nan                         # no data in the south-east corner
    return MineImage(rgb, T, EPSG)


def test_the_image_lies_on_the_grids_lon_lat_bounds_with_no_data_transparent():
    png, (w, s, e, n) = imagery_png(_image(), max_px=1024)
    to_ll = Transformer.from_crs(EPSG, 4490, always_xy=True)
    west, south, east, north = to_ll.transform_bounds(500000, 4320000 - 1200, 500000 + 2000, 4320000, densify_pts=21)
    assert max(abs(w - west), abs(s - south), abs(e - east), abs(n - north)) < 2e-4     # within a pixel (~10 m)
    img = imread(io.BytesIO(png))
    assert img.shape[2] == 4 and 80 < img.shape[0] < 160 and 170 < img.shape[1] < 240   # square in degrees
    assert img[-1, -1, 3] == 0 and img[img.shape[0] // 4, img.shape[1] // 2, 3] == 1.0
    top, bottom = img[img.shape[0] // 4, img.shape[1] // 2], img[3 * img.shape[0] // 4, img.shape[1] // 2]
    assert abs(top[0] - 0.8) < 0.01 and abs(bottom[0]) < 0.01 and abs(bottom[1] - 0.6) < 0.01
    assert imagery_png(_image(), max_px=1024)[0] == png                              # same inputs, same bytes


def test_a_large_window_is_capped_on_its_longest_side_over_the_same_bounds():
    big, bounds = imagery_png(_image(600, 1000), max_px=256)
    full_bounds = imagery_png(_image(600, 1000), max_px=4096)[1]
    assert max(imread(io.BytesIO(big)).shape[:2]) == 256
    assert np.allclose(bounds, full_bounds, atol=1e-9)


def test_the_page_places_each_written_image_and_a_rerun_writes_the_same_bytes(tmp_path):
    rights, _ = rights_and_plans()
    runs = []
    for k in (1, 2):
        run = tmp_path / f"run{k}"
        page = write_overview(anomalies_fc(), rights, run, "2026-10-02", {rights[0].license_no: _image()})
        runs.append((page.read_bytes(), (run / "overview" / f"{rights[0].license_no}.png").read_bytes()))
    assert runs[0] == runs[1]
    js = re.search(r"const IMAGERY = (\[.*?\]);", runs[0][0].decode("utf-8")).group(1)
    [placed] = json.loads(js)
    assert placed["src"] == f"overview/{rights[0].license_no}.png" and placed["license_no"] == rights[0].license_no
    (s, w), (n, e) = placed["bounds"]
    assert s < n and w < e and abs(w - 111.0) < 0.01
    assert not (tmp_path / "run1" / "overview").joinpath(f"{rights[1].license_no}.png").exists()   # no composite
