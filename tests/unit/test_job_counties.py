"""job: the night reads the county layer once; its problems are one warning each, and every report is written."""
import logging
from datetime import date
from pathlib import Path

import numpy as np
from affine import Affine
from pyproj import Transformer
from tests.support.county_layer import county_around, sample_rights, write_county_layer

from minewatch import job
from minewatch.config import ReportSettings, Settings
from minewatch.pipeline import Composite, MineResult
from minewatch.promised.models import AnnualPlan

RIGHTS = sample_rights()
ZGE, QA = RIGHTS["150622"], RIGHTS["130283"]          # 准格尔旗 (GK zone 37), 迁安市 (GK zone 40)
NIGHT = date(2026, 11, 20)


def _result(right, epsg: int) -> MineResult:
    """A mine judged tonight with a small season composite (60 x 60 at 30 m) around its licence."""
    c = right.boundary.centroid
    x, y = Transformer.from_crs(4490, epsg, always_xy=True).transform(c.x, c.y)
    n = 60
    fvc = np.full((n, n), 0.4)
    median = np.full((3, n, n), 0.08)
    comp = Composite(rgb=np.full((n, n, 3), 0.3), fvc=fvc, ndvi_max=fvc, median=median, bands=("red", "green", "blue"),
                     transform=Affine(30, 0, x - 900, 0, -30, y + 900), epsg=epsg, period="2026-07-01/2026-09-15")
    return MineResult(right.license_no, right.mine_name, composite=comp, scenes=["S2_A"])


def _night(tmp_path: Path, boundaries: Path, caplog, judged: tuple = (ZGE, QA)) -> tuple[dict[str, str], list[str]]:
    """The night's reports (licence -> HTML) of the `judged` mines (all three are registered) and
    its warnings about the county layer."""
    s = Settings(registry=Path("r.csv"), plans=Path("p"), report=ReportSettings(
        pdf=False, county_boundaries=boundaries, county_names={"130283": "迁安市"}))
    plans = {r.license_no: AnnualPlan(2026, r.license_no, r.holder, r.mine_name) for r in (ZGE, QA)}
    promises = job.Promises(list(RIGHTS.values()), plans, settings=s)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="minewatch"):
        results = [_result(r, {"150622": 32649, "130283": 32650}[r.county_code]) for r in judged]
        run = Path(job.write_run(results, tmp_path / "out", NIGHT, 2026, promises)["run_dir"])
    reports = {p.stem: p.read_text(encoding="utf-8") for p in sorted((run / "reports").glob("*.html"))}
    return reports, [r.getMessage() for r in caplog.records if "county" in r.getMessage()]


def test_a_gauss_kruger_county_layer_outlines_its_county_and_a_code_it_lacks_is_one_warning(tmp_path, caplog):
    layer = write_county_layer(tmp_path / "xzq_gk37.gpkg", [("150622", "准格尔旗", county_around(ZGE))], epsg=4525)
    reports, warnings = _night(tmp_path, layer, caplog)
    assert sorted(reports) == sorted([ZGE.license_no, QA.license_no])
    zge, qa = reports[ZGE.license_no], reports[QA.license_no]
    assert "所在县: 准格尔旗 (县级行政区划代码 150622)" in zge and "紫色线为县界" in zge      # the name from the layer
    assert "所在县: 迁安市 (县级行政区划代码 130283)" in qa and "无县界底图" in qa         # from report.county_names
    # 210902 has a licence but no report tonight; the layer is still asked for every registry county
    [w] = warnings
    assert "no feature with code 130283, 210902" in w and "xzq_gk37.gpkg" in w


def test_a_missing_county_file_is_one_warning_for_the_night_and_the_report_is_written(tmp_path, caplog):
    reports, warnings = _night(tmp_path, tmp_path / "gone.shp", caplog, judged=(QA,))
    [text] = reports.values()
    assert "无县界底图" in text and "位置示意图" in text and "所在县: 迁安市" in text
    [w] = warnings
    assert "county boundary file not found" in w and "gone.shp" in w
