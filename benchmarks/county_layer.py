"""A national-size county layer read for one night's few counties (issue 16, the locator's outline).

`outputs.counties.county_outlines` reads the code column first and then only the features
whose code the registry names (by FID), so pointing `report.county_boundaries` at a
whole-country layer costs the night little. This builds a synthetic layer (not real borders)
of `--counties` wavy polygons with `--vertices` each in a 3° Gauss-Krüger zone (EPSG:4525),
then times `county_outlines` for `--mines` of its codes against the plain way
(`geopandas.read_file` of the whole layer, then a filter on the code). Last line: JSON.

    PYTHONPATH=src:. python benchmarks/county_layer.py            # 2,850 counties x 800 vertices
"""
from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
from pyproj import Transformer
from shapely.geometry import Polygon, box

from minewatch.config import ReportSettings
from minewatch.outputs.counties import county_outlines
from minewatch.promised.models import MiningRight

EPSG = 4525                 # CGCS2000 3° GK zone 37 (CM 111°E), easting with the zone prefix
CELL_M = 40_000.0           # the counties' grid spacing


def write_layer(path: Path, n: int, vertices: int) -> list[str]:
    """`n` wavy counties on a grid around 111°E, 36°N; their codes, in layer order."""
    side = math.ceil(math.sqrt(n))
    x0, y0 = Transformer.from_crs(4490, EPSG, always_xy=True).transform(111.0 - 5, 36.0 - 5)
    a = np.linspace(0, 2 * math.pi, vertices, endpoint=False)
    codes, geoms = [], []
    for k in range(n):
        cx, cy = x0 + (k % side + 0.5) * CELL_M, y0 + (k // side + 0.5) * CELL_M
        r = CELL_M * (0.45 + 0.03 * np.sin(7 * a + k) + 0.01 * np.sin(31 * a))
        geoms.append(Polygon(np.column_stack([cx + r * np.cos(a), cy + r * np.sin(a)])))
        codes.append(f"{110000 + k:06d}")
    gpd.GeoDataFrame({"XZQDM": codes, "XZQMC": [f"县{k}" for k in range(n)]}, geometry=geoms,
                     crs=f"EPSG:{EPSG}").to_file(path, engine="pyogrio")
    return codes


def rights_in(path: Path, codes: list[str], mines: int) -> list[MiningRight]:
    """One small licence at the middle of each of `mines` counties spread over the layer."""
    layer = gpd.read_file(path, engine="pyogrio").to_crs(4490)
    picks = [codes[i] for i in np.linspace(0, len(codes) - 1, mines).astype(int)]
    out = []
    for c in picks:
        p = layer.geometry[codes.index(c)].centroid
        out.append(MiningRight(f"C{c}", "h", "m", date(2021, 1, 1), date(2035, 1, 1), c,
                               box(p.x - 0.01, p.y - 0.01, p.x + 0.01, p.y + 0.01)))
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counties", type=int, default=2850)
    ap.add_argument("--vertices", type=int, default=800)
    ap.add_argument("--mines", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "xzq.gpkg"
        t = time.perf_counter()
        codes = write_layer(path, a.counties, a.vertices)
        build_s = time.perf_counter() - t
        rights = rights_in(path, codes, a.mines)
        want = {r.county_code for r in rights}
        ours, plain = [], []
        for _ in range(a.repeats):          # interleaved: the shared machine's load hits both alike
            t = time.perf_counter()
            got = county_outlines(ReportSettings(county_boundaries=path), rights)
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            whole = gpd.read_file(path, engine="pyogrio")
            whole[whole["XZQDM"].isin(want)].to_crs(4490)
            plain.append(time.perf_counter() - t)
        assert got.warnings == () and sorted(got.outlines) == sorted(want), got.warnings
        assert all(got.for_mine(r) is not None for r in rights)
        out = {"counties": a.counties, "vertices": a.vertices, "mines": a.mines,
               "file_mb": round(path.stat().st_size / 2**20, 1), "build_s": round(build_s, 1),
               "county_outlines_s": round(float(np.median(ours)), 3),
               "plain_read_filter_s": round(float(np.median(plain)), 3),
               "load_average": os.getloadavg()[0]}
    print(f"{a.counties} counties x {a.vertices} vertices ({out['file_mb']} MB GeoPackage, EPSG:{EPSG}); "
          f"{a.mines} mines' counties:")
    print(f"  outputs.counties.county_outlines (codes, then those FIDs): {out['county_outlines_s']:.3f} s")
    print(f"  plain geopandas.read_file + filter + to_crs:            {out['plain_read_filter_s']:.3f} s")
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
