"""job.write_run with the product store (outputs.products): a mine's report and composites
are rendered once and linked on later nights while what they show is unchanged, byte for
byte what a fresh render into an empty OUT folder gives."""
import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from affine import Affine
from shapely.geometry import box
from tests.support.ledger_plans import LICENCE, plans
from tests.support.paths import REPO

from minewatch import job
from minewatch.assess.anomaly import Anomaly
from minewatch.assess.rules import unit_key
from minewatch.assess.thresholds import load_thresholds
from minewatch.config import Settings
from minewatch.pipeline import Composite, MineResult
from minewatch.promised import coords
from minewatch.promised.models import MiningRight
from minewatch.promised.planreader import PlanReadResult

NIGHTS = (date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("products")
    plan = plans()[1]
    right = MiningRight(LICENCE, plan.holder, plan.mine_name, date(2021, 1, 1), date(2031, 1, 1), "130100",
                        box(117.19, 39.09, 117.24, 39.12))
    s = Settings(registry=tmp / "r.csv", plans=tmp / "p", output_dir=tmp / "out",
                 assess={"thresholds": REPO / "configs" / "thresholds.yaml"}, report={"pdf": False})
    p = job.Promises([right], {LICENCE: plan}, thresholds=load_thresholds(s.assess.thresholds), settings=s,
                     plan_results=[PlanReadResult(plan, file="plan.xlsx")])      # filed: no PLAN_MISSING
    b, epsg = coords.to_utm(right.boundary)
    x0, y0, x1, y1 = b.bounds
    h, w = int((y1 - y0) // 30) + 1, int((x1 - x0) // 30) + 1
    rng = np.random.default_rng(7)
    median = rng.uniform(0.02, 0.3, (6, h, w)).astype(np.float32)
    comp = Composite(rgb=np.clip(median[[2, 1, 0]].transpose(1, 2, 0) / 0.3, 0, 1), fvc=rng.uniform(0, 1, (h, w)),
                     ndvi_max=rng.uniform(-0.1, 0.9, (h, w)).astype(np.float32), median=median,
                     bands=("blue", "green", "red", "nir", "swir16", "swir22"),
                     transform=Affine(30, 0, x0, 0, -30, y1), epsg=epsg, period="2026-07-03/2026-09-12")
    units_utm = {unit_key(u): coords.transform(u.geometry, 4490, epsg) for u in plan.units}
    days = pd.to_datetime(["2026-07-03", "2026-08-02", "2026-09-12"])
    series = pd.DataFrame([{"unit": k, "item_id": f"S2_{d:%m%d}", "datetime": d, "fvc_mean": 0.1 + 0.05 * i,
                            "ndvi_mean": 0.2, "clear_fraction": 1.0, "clear_px": 40}
                           for k in units_utm for i, d in enumerate(days)])
    finding = Anomaly(type="RESTORATION_SHORTFALL", severity="high", license_no=LICENCE, mine_name=plan.mine_name,
                      plan_year=2026, geometry=plan.section("planned")[1].geometry, area_hm2=3.3613,
                      period="2026-07-01/2026-09-15", observed={"fvc": 0.15}, expected={"min": 0.4},
                      evidence_scenes=("S2_0802",), unit_seq=2, unit_section="planned", key="planned:2")
    res = MineResult(LICENCE, plan.mine_name, anomalies=[finding], series=series, scenes=list(series.item_id.unique()),
                     composite=comp, units_utm=units_utm, thresholds={"planned:2": 0.4})
    return p, res, tmp


def _products(run: Path) -> dict:
    return {f"{d}/{f.name}": f.stat() for d in ("reports", "composites") for f in sorted((run / d).iterdir())}


@pytest.fixture(scope="module")
def nights(world):
    p, res, tmp = world
    out = []
    for d in NIGHTS:
        summary = job.write_run([res], tmp / "out", d, 2026, p)
        out.append((summary, Path(summary["run_dir"]), _products(Path(summary["run_dir"]))))
    return out


def test_later_nights_link_what_did_not_change(nights):
    (s1, _, f1), (s2, _, f2), (s3, run3, f3) = nights
    assert sorted(f1) == ["composites/C1300002011011120123456_median.tif",
                          "composites/C1300002011011120123456_ndvi_max.tif", "reports/C1300002011011120123456.html"]
    assert (s1["products_rendered"], s1["products_linked"]) == (2, 0)
    # the second night: the same composite arrays, linked; the report shows its finding turn
    # from 新发现 to 持续, so it is rendered again
    assert (s2["products_rendered"], s2["products_linked"]) == (1, 1)
    assert all(f2[n].st_ino == f1[n].st_ino for n in f1 if n.startswith("composites/"))
    assert f2["reports/C1300002011011120123456.html"].st_ino != f1["reports/C1300002011011120123456.html"].st_ino
    # the third: nothing it shows changed, nothing rendered; the files are the second night's
    assert (s3["products_rendered"], s3["products_linked"]) == (0, 2)
    assert all(f3[n].st_ino == f2[n].st_ino and f3[n].st_nlink >= 3 for n in f3)   # 2 run folders + the store
    html = (run3 / "reports" / f"{LICENCE}.html").read_text(encoding="utf-8")
    assert "<th>影像截至</th><td>2026-09-12</td>" in html and "2026-11-2" not in html     # no night in the report
    fc = json.loads((run3 / "anomalies.geojson").read_text(encoding="utf-8"))
    assert fc["features"][0]["properties"]["last_seen"] == "2026-11-22"     # the run folder still has the night


def test_linked_products_are_the_bytes_of_a_fresh_render(world, nights):
    p, res, tmp = world
    *_, (_, run3, f3) = nights
    fresh = Path(job.write_run([res], tmp / "fresh", NIGHTS[-1], 2026, p)["run_dir"])
    # a fresh OUT folder on the third night: the same files; the composites' bytes (the report
    # shows the finding as new there: compared in the next test with the same statuses)
    assert set(_products(fresh)) == set(f3)
    for n in f3:
        if n.startswith("composites/"):
            assert (fresh / n).read_bytes() == (run3 / n).read_bytes(), n


def test_a_fresh_render_of_the_same_findings_is_the_linked_bytes(world, nights):
    """The report as the third night links it, rendered from scratch with the same statuses."""
    p, res, tmp = world
    *_, (_, run3, _) = nights
    fc = json.loads((run3 / "anomalies.geojson").read_text(encoding="utf-8"))
    path = tmp / "scratch" / f"{LICENCE}.html"
    job.write_report(res, p.plans[LICENCE], fc, path, NIGHTS[-1], right=p.rights[0], s=p.settings)
    assert path.read_bytes() == (run3 / "reports" / f"{LICENCE}.html").read_bytes()
