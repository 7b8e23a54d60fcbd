"""pipeline.process_mine's wiring on a hand-made window (no catalogue): sky -> evidence -> rules -> result.

The mine is a 200 m square; its west half is a planned unit (0305, FVC >= 0.40). Every pixel
is vegetated in the 2025 season and the whole boundary is bare in the 2026 season, so the
unit falls short and the east half is an undeclared loss; the ring around stays green.
"""
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr
from rasterio.features import rasterize
from shapely.geometry import Point, box
from tests.support.paths import REPO

from minewatch import pipeline
from minewatch.assess.thresholds import load_thresholds
from minewatch.config import Settings
from minewatch.promised import coords
from minewatch.promised.models import PLANNED, AnnualPlan, MiningRight, Unit
from minewatch.sky.pixels import IngestReport
from minewatch.sky.sources import BANDS

ROOT = REPO
VEG = {"blue": 0.03, "green": 0.06, "red": 0.04, "nir": 0.40, "swir16": 0.20, "swir22": 0.10}
BARE = {"blue": 0.12, "green": 0.16, "red": 0.20, "nir": 0.24, "swir16": 0.30, "swir22": 0.25}
BASE_DATES = ["2025-07-10", "2025-07-25", "2025-08-10", "2025-08-25"]
CUR_DATES = ["2026-07-10", "2026-07-25", "2026-08-10", "2026-08-25"]
CLOUDY = "2026-09-05"          # bare under a cloud: SCL 9, never clear
LOAD_PIXELS = pipeline.load_pixels   # the real one (the module's `result` replaces it while it lives)


def _ndvi(r):
    return (np.float32(r["nir"]) - np.float32(r["red"])) / (np.float32(r["nir"]) + np.float32(r["red"]))


def _fvc(nd, s):
    return float(np.clip((nd - s.indices.ndvi_soil) / (s.indices.ndvi_veg - s.indices.ndvi_soil), 0, 1))


@pytest.fixture(scope="module")
def world():
    s = Settings(registry=Path("r.csv"), plans=Path("p"))
    _, epsg = coords.to_utm(Point(110.0, 40.0))
    c = coords.transform(Point(110.0, 40.0), 4490, epsg)
    x0, y0 = round(c.x, -1), round(c.y, -1)
    mine_utm, unit_utm = box(x0, y0, x0 + 200, y0 + 200), box(x0, y0, x0 + 100, y0 + 200)
    right = MiningRight("C1", "holder", "mine", date(2020, 1, 1), date(2030, 1, 1), "990000",
                        coords.transform(mine_utm, epsg, 4490))
    plan = AnnualPlan(2026, "C1", "holder", "mine",
                      units=(Unit(PLANNED, 1, coords.transform(unit_utm, epsg, 4490), land_class="0305"),))
    _, _, grid = pipeline.mine_grid(right, s)
    h, w = grid.shape
    inside = rasterize([(mine_utm, 1)], out_shape=(h, w), transform=grid.transform, fill=0).astype(bool)
    dates = BASE_DATES + CUR_DATES + [CLOUDY]
    data = np.zeros((len(dates), len(BANDS), h, w), np.float32)
    for t, d in enumerate(dates):
        bare_now = d.startswith("2026")
        for b, name in enumerate(BANDS):
            if name == "scl":
                data[t, b] = 9 if d == CLOUDY else 4
            else:
                data[t, b] = np.where(inside & bare_now, BARE[name], VEG[name]) * 10000
    raw = xr.DataArray(data, dims=("time", "band", "y", "x"),
                       coords={"time": [np.datetime64(datetime.fromisoformat(d)) for d in dates],
                               "band": list(BANDS), "id": ("time", [f"S2_{d}" for d in dates])})
    return SimpleNamespace(s=s, right=right, plan=plan, raw=raw, dates=dates, grid=grid)


@pytest.fixture(scope="module")
def result(world):
    mp = pytest.MonkeyPatch()
    read = IngestReport(read=[f"S2_{d}" for d in world.dates])     # every step read, none skipped
    mp.setattr(pipeline, "load_pixels", lambda *a, **k: (world.raw, read))
    try:
        items = [SimpleNamespace(id=f"S2_{d}") for d in world.dates]
        yield pipeline.process_mine(world.right, world.plan, load_thresholds(ROOT / "configs" / "thresholds.yaml"),
                                    world.s, date(2026, 11, 1), 2026, items=items)
    finally:
        mp.undo()


def test_the_unit_rule_and_the_disturbance_rule_both_report(result, world):
    assert result.error is None and not result.held_back and not result.unjudged
    by_type = {a.type: a for a in result.anomalies}
    assert sorted(by_type) == ["RESTORATION_SHORTFALL", "UNDECLARED_DISTURBANCE"]
    short = by_type["RESTORATION_SHORTFALL"]
    assert short.key == "planned:1" and short.expected["min"] == 0.40 and short.expected["min_adjusted"] == 0.40
    assert short.observed["fvc"] == pytest.approx(_fvc(_ndvi(BARE), world.s), abs=1e-4)
    assert short.observed["clear_observations"] == 4          # the cloudy date does not count
    assert short.evidence_scenes == tuple(f"S2_{d}" for d in CUR_DATES) and short.confidence == "high"
    loss = by_type["UNDECLARED_DISTURBANCE"]
    assert loss.observed["ndvi_baseline"] == pytest.approx(float(_ndvi(VEG)), abs=1e-4)
    assert loss.observed["ndvi_drop"] == pytest.approx(float(_ndvi(VEG) - _ndvi(BARE)), abs=1e-4)
    assert loss.observed["clear_observations"] == 4 and loss.observed["agreeing_dates"] == 1.0
    # the east half: 10 x 20 pixels of 10 m, 2 hm² (ellipsoidal, so not exactly)
    assert loss.observed["pixels"] == 200 and loss.area_hm2 == pytest.approx(2.0, abs=0.01)
    assert loss.confidence == "high"            # 4 confirming dates: "highest" needs 2 x min_clear_obs
    assert loss.expected["baseline_period"] == "2025-07-01/2025-09-15"


def test_the_result_carries_series_reference_and_composite(result, world):
    assert result.scenes == [f"S2_{d}" for d in world.dates] and result.steps_read == 9 and result.steps_stored == 0
    assert result.thresholds == {"planned:1": 0.40}
    assert set(result.series.unit) == {"planned:1", "reference"}
    ring = result.series[result.series.unit == "reference"].dropna(subset=["fvc_mean"])
    assert len(ring) == 8 and ring.fvc_mean.min() == pytest.approx(_fvc(_ndvi(VEG), world.s))
    unit = result.series[result.series.unit == "planned:1"]
    assert unit.water_fraction.max() == 0.0                   # MNDWI < 0 everywhere
    c = result.composite
    assert c.period == "2026-07-10/2026-09-05" and c.epsg == world.grid.epsg and c.bands == pipeline.REFLECTANCE
    assert c.rgb.shape == world.grid.shape + (3,) and c.median.shape == (6,) + world.grid.shape
    assert np.nanmax(c.fvc) == pytest.approx(_fvc(_ndvi(VEG), world.s))
    assert np.nanmin(c.fvc) == pytest.approx(_fvc(_ndvi(BARE), world.s), abs=1e-6)
    assert set(result.units_utm) == {"planned:1"}


def test_no_scenes_is_an_error_and_nothing_else(world):
    r = pipeline.process_mine(world.right, world.plan, None, world.s, date(2026, 11, 1), 2026, items=[])
    assert r.error == "NO_SCENES" and r.anomalies == [] and r.series is None and r.composite is None


def test_the_composite_carries_the_baseline_seasons_true_colour(result, world):
    """The "before" image: median red/green/blue of the nearest baseline season's clear steps,
    unstretched reflectance, on the same grid as this season's composite."""
    c = result.composite
    assert c.baseline_period == "2025-07-10/2025-08-25"
    assert c.baseline_rgb.shape == world.grid.shape + (3,) and c.baseline_rgb.dtype == np.float32
    # every pixel was vegetated in 2025: the baseline is VEG everywhere, this season BARE inside the mine
    assert np.allclose(c.baseline_rgb, [VEG["red"], VEG["green"], VEG["blue"]], atol=1e-6)
    assert c.rgb_reflectance.shape == c.baseline_rgb.shape
    assert np.isclose(np.nanmax(c.rgb_reflectance[..., 0]), BARE["red"], atol=1e-6)


@pytest.fixture(scope="module")
def scene_world(tmp_path_factory):
    """The same mine on real scenes (synth's scene writer, a 160 px frame): green in 2025; in
    2026 the east half bare, the west half (the unit) sparse, one date under cloud."""
    from minewatch.sky import sources
    from minewatch.synth import scenes as s2
    s = Settings(registry=Path("r.csv"), plans=Path("p"))
    epsg = coords.utm_epsg(110.0, 40.0)
    c = coords.transform(Point(110.0, 40.0), 4490, epsg)
    x0, y0 = round(c.x / 20) * 20, round(c.y / 20) * 20
    right = MiningRight("C2", "holder", "mine", date(2020, 1, 1), date(2030, 1, 1), "990000",
                        coords.transform(box(x0, y0, x0 + 200, y0 + 200), epsg, 4490))
    plan = AnnualPlan(2026, "C2", "holder", "mine", units=(
        Unit(PLANNED, 1, coords.transform(box(x0, y0, x0 + 100, y0 + 200), epsg, 4490), land_class="0305"),))
    bounds = (x0 - 700, y0 - 700, x0 + 900, y0 + 900)       # 160 x 160 px around the 140 px window
    n = 160
    rows, cols = np.mgrid[0:n, 0:n]
    mine = (rows >= 70) & (rows < 90) & (cols >= 70) & (cols < 90)
    items = []
    for j, d in enumerate(BASE_DATES + CUR_DATES + [CLOUDY]):
        day = date.fromisoformat(d)
        fvc = np.full((n, n), 0.75, np.float32) - 0.1 * (cols % 7 == 0)
        if day.year == 2026:
            fvc[mine & (cols >= 80)] = 0.02
            fvc[mine & (cols < 80)] = 0.1
        spec = s2.SceneSpec(item_id=f"S2A_49TDK_{day:%Y%m%d}_0_L2A",
                            datetime=datetime(day.year, day.month, day.day, 3, 20, tzinfo=__import__("datetime").UTC),
                            epsg=epsg, bounds=bounds, mgrs_tile="49TDK",
                            cloud_fraction=0.5 if d == CLOUDY or j == 1 else 0.0, seed=j)
        items.append(s2.write_scene(tmp_path_factory.mktemp("scenes"), spec, fvc, np.full((n, n), s2.SOIL, "uint8")))
    return SimpleNamespace(s=s, right=right, plan=plan, items=sources.normalise_items(items, "local"))


def test_tiles_read_from_the_pixel_store_judge_as_one_window(scene_world, monkeypatch):
    """25 tiles of 32 px (edges partial) through the pixel store's windows: the same flags,
    series and composites as the ~140 px window in one tile."""
    monkeypatch.setattr(pipeline, "load_pixels", LOAD_PIXELS)     # real reads, whatever ran before
    w = scene_world
    th = load_thresholds(ROOT / "configs" / "thresholds.yaml")

    def run(chunk_px):
        s = w.s.model_copy(update={"imagery": w.s.imagery.model_copy(update={"chunk_px": chunk_px})})
        return pipeline.process_mine(w.right, w.plan, th, s, date(2026, 11, 1), 2026, items=w.items)
    one, tiled = run(512), run(32)
    h, _ = pipeline.mine_grid(w.right, w.s)[2].shape
    assert 4 * 32 < h < 5 * 32        # 25 tiles, the last row and column partial
    assert one.error is None and {a.type for a in one.anomalies} >= {"UNDECLARED_DISTURBANCE"}

    def flags(r):
        return [(a.type, a.key, a.observed, a.area_hm2, a.evidence_scenes, a.confidence) for a in r.anomalies]
    assert flags(tiled) == flags(one)
    import pandas as pd
    pd.testing.assert_frame_equal(tiled.series, one.series, check_exact=False, rtol=1e-6)
    assert (tiled.series.clear_px == one.series.clear_px).all()
    for f in ("median", "ndvi_max", "fvc", "rgb", "baseline_rgb"):
        np.testing.assert_array_equal(getattr(tiled.composite, f), getattr(one.composite, f))
    assert tiled.composite.period == one.composite.period
