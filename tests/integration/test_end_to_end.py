"""The whole path on the bundled sample, through the real local STAC catalogue.

The sample's planted truths (sample_scenes/truths.yaml) must come out of the nightly
run, each as the right type on the right unit, with numbers that a direct computation
from the COGs gives, and nothing else. A truth that "needs" a module (the cross-year
rules, minewatch.assess.history) is expected only where that module exists; its key
("restored:1@2025": the 2025 mention it rests on) is checked through the anomaly id.
"""
import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
import yaml
from shapely.geometry import shape
from tests.support.direct import season_ndvi_max, unit_fvc_per_scene
from tests.support.paths import REPO
from tests.support.truths import expected

from minewatch.config import load_settings
from minewatch.promised.planreader import read_plans
from minewatch.synth import sample

ROOT = REPO
SAMPLE = ROOT / "sample_scenes"
RUN_DATE = "2026-11-20"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def config(sample_config):
    """configs/sample.yaml pointed at the test catalogue (tests/conftest.py)."""
    return sample_config


@pytest.fixture(scope="session")
def run(sample_night):
    """The session's sample night through the CLI and Prefect, as an operator would start it
    (tests/conftest.py `sample_night`: run once, read by several modules)."""
    return sample_night.run_dir, sample_night.stdout


def test_run_prints_where_outputs_are(run):
    run_dir, stdout = run
    assert str(run_dir / "anomalies.geojson") in stdout
    summary = json.loads((run_dir / "run_summary.json").read_text(encoding="utf-8"))
    assert summary["mines"] == 3 and summary["mines_failed"] == 0 and summary["scenes_read"] > 200


def _anomaly_id(p: dict, key: str) -> str:
    """Anomaly.id of a flag with these properties and key (licence|plan year|type|key)."""
    return hashlib.sha1(f"{p['license_no']}|{p['plan_year']}|{p['type']}|{key}".encode()).hexdigest()[:16]


def _truth_key(f: dict, truths: list[dict]) -> str | None:
    """The key of the truth a unit flag is, told apart by its id ("restored:1" or "restored:1@2025")."""
    keys = [t["key"] for t in truths if "key" in t and t["type"] == f["properties"]["type"]]
    return next((k for k in keys if _anomaly_id(f["properties"], k) == f["id"]), None)


def test_anomalies_are_exactly_the_planted_truths(run):
    run_dir, _ = run
    truths = yaml.safe_load((SAMPLE / "truths.yaml").read_text(encoding="utf-8"))
    fc = json.loads((run_dir / "anomalies.geojson").read_text(encoding="utf-8"))
    got = sorted((f["properties"]["license_no"], f["properties"]["type"], f["properties"]["unit_section"],
                  f["properties"]["unit_seq"]) for f in fc["features"])
    want = expected(truths["anomalies"])
    assert got == sorted((t["license_no"], t["type"], t["unit_section"], t["unit_seq"]) for t in want)
    for f in fc["features"]:        # each unit flag carries its truth's key
        if f["properties"]["unit_seq"] is not None:
            assert _truth_key(f, want) is not None, f["properties"]


def test_undeclared_disturbance_is_where_it_was_planted(run):
    run_dir, _ = run
    fc = json.loads((run_dir / "anomalies.geojson").read_text(encoding="utf-8"))
    [f] = [f for f in fc["features"] if f["properties"]["type"] == "UNDECLARED_DISTURBANCE"]
    m = next(m for m in sample.MINES if m.license_no == f["properties"]["license_no"])
    planted = sample.MineFrame.of(m).rect_geo(m.undeclared[0])
    found = shape(f["geometry"])
    iou = found.intersection(planted).area / found.union(planted).area
    assert iou > 0.8
    x0, y0, x1, y1 = m.undeclared[0]
    assert f["properties"]["area_hm2"] == pytest.approx((x1 - x0) * (y1 - y0) / 10_000, rel=0.1)
    obs = f["properties"]["observed"]
    assert obs["ndvi_baseline"] > 0.4 and obs["ndvi_current"] < 0.2 and obs["clear_observations"] >= 3


def test_flag_numbers_equal_a_direct_computation_from_the_cogs(run, config):
    run_dir, _ = run
    s = load_settings(config)
    fc = json.loads((run_dir / "anomalies.geojson").read_text(encoding="utf-8"))
    plans = {r.plan.license_no: r.plan for r in read_plans(SAMPLE / "plans") if r.plan.plan_year == 2026}
    truths = yaml.safe_load((SAMPLE / "truths.yaml").read_text(encoding="utf-8"))["anomalies"]
    for f in fc["features"]:
        p = f["properties"]
        if p["unit_seq"] is None or "@" in (_truth_key(f, truths) or "@"):
            continue        # the cross-year rules' numbers are tested with them (tests/unit/assess)
        unit = next(u for u in plans[p["license_no"]].units
                    if u.seq == p["unit_seq"] and u.section == p["unit_section"])
        direct = unit_fvc_per_scene(unit.geometry, p["evidence_scenes"], SAMPLE / "catalog", s)
        assert all(frac >= s.assess.min_clear_fraction for _, _, frac in direct.values())
        assert p["observed"]["fvc"] == pytest.approx(np.median([v for _, v, _ in direct.values()]), abs=2e-4)
        assert p["observed"]["fvc"] < p["expected"]["min"]
        assert p["observed"]["clear_observations"] == len(p["evidence_scenes"]) >= s.assess.min_clear_obs


def test_passing_units_pass_for_the_right_reason(run):
    """Units planted to recover are judged (enough clear dates) and above their threshold."""
    import pandas as pd
    run_dir, _ = run
    series = pd.read_csv(run_dir / "unit_series.csv")
    unjudged = pd.read_csv(run_dir / "unjudged.csv")
    truths = yaml.safe_load((SAMPLE / "truths.yaml").read_text(encoding="utf-8"))
    for t in expected(truths["passing_units"]):
        key = t["key"]
        assert not ((unjudged.license_no == t["license_no"]) & (unjudged.unit == key)).any()
        s = series[(series.license_no == t["license_no"]) & (series.unit == key)]
        d = pd.to_datetime(s.datetime)
        peak = s[(d >= "2026-07-01") & (d <= "2026-09-15") & (s.clear_fraction >= 0.8)]
        assert len(peak) >= 3 and peak.fvc_mean.median() > 0.5


def test_rerun_gives_identical_anomalies(run, config, tmp_path):
    run_dir, _ = run
    out = subprocess.run([sys.executable, "-m", "minewatch.cli", "run", "--config", str(config),
                          "--date", RUN_DATE, "--out", str(tmp_path)], capture_output=True, text=True,
                         timeout=900, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / RUN_DATE / "anomalies.geojson").read_bytes() == (run_dir / "anomalies.geojson").read_bytes()


def test_flags_carry_confidence_and_the_reference_ring_is_in_the_series(run):
    """Issue 5: every reported flag is high or highest; the ring's series is there for reports."""
    import pandas as pd
    run_dir, _ = run
    fc = json.loads((run_dir / "anomalies.geojson").read_text(encoding="utf-8"))
    for f in fc["features"]:
        p = f["properties"]
        assert p["confidence"] in ("high", "highest") and p["evidence_scenes"]
        assert p["observed"] and p["expected"]
    series = pd.read_csv(run_dir / "unit_series.csv")
    ref = series[series.unit == "reference"]
    assert set(ref.license_no) == {m.license_no for m in sample.MINES}
    d = pd.to_datetime(ref.datetime)
    peak = ref[(d >= "2026-07-01") & (d <= "2026-09-15") & (ref.clear_fraction >= 0.5)]
    assert peak.groupby("license_no").fvc_mean.median().between(0.4, 0.9).all()
    unjudged = pd.read_csv(run_dir / "unjudged.csv")
    assert not (unjudged.reason == "LOW_CONFIDENCE").any()


def test_season_composites_are_cogs_equal_to_a_direct_computation(run, config):
    import pandas as pd
    import rasterio

    run_dir, _ = run
    s = load_settings(config)
    series = pd.read_csv(run_dir / "unit_series.csv", parse_dates=["datetime"])
    for m in sample.MINES:
        lic = m.license_no
        with rasterio.open(run_dir / "composites" / f"{lic}_ndvi_max.tif") as ds:
            got, tags, tr = ds.read(1), ds.tags(), ds.transform
            assert ds.profile["tiled"] and ds.crs.to_epsg() // 100 == 326 and ds.overviews(1)
        with rasterio.open(run_dir / "composites" / f"{lic}_median.tif") as ds:
            assert [ds.descriptions[i] for i in range(ds.count)] == ["blue", "green", "red", "nir", "swir16", "swir22"]
            red_median = ds.read(3)
        start, end = (pd.Timestamp(d) for d in tags["period"].split("/"))
        ids = sorted(set(series[(series.license_no == lic) & series.datetime.dt.normalize().between(start, end)
                                & (series.unit != "reference")].item_id))
        assert len(ids) >= 10 and not any("+" in i for i in ids)
        want = season_ndvi_max(ids, SAMPLE / "catalog", tr, got.shape, s)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        assert np.isfinite(got).mean() > 0.5
        np.testing.assert_allclose(got, want, atol=1e-6, equal_nan=True)
        assert 0.01 < np.nanmedian(red_median) < 0.5          # reflectance, not DN
