"""Every report of a night as the inspector's browser shows it (Selenium + Debian chromium).

The bundled sample's night runs through the real loopback catalogue (`job.run_mine` per mine,
`job.write_run`), then each report is opened in headless Chromium and its rendered text
(`document.body.innerText`, the secondary `.code` spans hidden) is read: no English key of
the label tables, no rule or reason code, no Python `True`/`False`/`None`, no snake_case token.
"""
import json
import re
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from tests.support.browser import chromium, needs_chromium

from minewatch import job
from minewatch.assess.reference import REFERENCE
from minewatch.config import load_settings
from minewatch.labels import CONFIDENCE_ZH, EVIDENCE_ZH, FIELDS, RULES_ZH, SEVERITY_ZH, TYPES_ZH, VALUES_ZH
from minewatch.outputs.lifecycle import STATUS_ZH
from minewatch.outputs.report import LOSS_TYPES

pytest.importorskip("selenium.webdriver")
pytestmark = [needs_chromium, pytest.mark.slow]
NIGHT, PLAN_YEAR = date(2026, 11, 20), 2026
SNAKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")


@pytest.fixture(scope="module")
def night(sample_config, tmp_path_factory):
    """The sample night's run folder (reports without PDFs: the text is what is read here)."""
    s = load_settings(sample_config)
    s = s.model_copy(update={"output_dir": tmp_path_factory.mktemp("night"),
                             "report": s.report.model_copy(update={"pdf": False})})
    p = job.load_promises(s, PLAN_YEAR)
    results = [job.run_mine(r, p, s, NIGHT, PLAN_YEAR) for r in p.rights]
    assert not [r.error for r in results if r.error]
    return SimpleNamespace(run_dir=job.write_run(results, s.output_dir, NIGHT, PLAN_YEAR, p)["run_dir"],
                           results=results, promises=p, settings=s)


@pytest.fixture(scope="module")
def rendered(night, tmp_path_factory):
    """licence -> what the browser shows of its report: visible text, anomaly rows, charts, images."""
    run = Path(night.run_dir)
    out = {}
    with chromium(tmp_path_factory.mktemp("profile"), size="1200,2000") as d:
        for page in sorted((run / "reports").glob("*.html")):
            d.get(page.resolve().as_uri())
            out[page.stem] = d.execute_script("""
              const rows = [...document.querySelectorAll('tr[data-anomaly-id]')].map(tr => [tr.dataset.anomalyId,
                tr.innerText]);
              const charts = [...document.querySelectorAll('div.chart[data-unit]')].map(c => [c.dataset.unit,
                c.querySelector('img') !== null, c.innerText]);
              const pairs = [...document.querySelectorAll('div.pair')].map(p => p.dataset.anomalyId);
              const images = [...document.images].map(i => i.complete && i.naturalWidth > 0);
              document.querySelectorAll('.code').forEach(e => { e.style.display = 'none'; });
              return {text: document.body.innerText, rows, charts, pairs, images};""")
    return run, out


def _forbidden(run) -> set[str]:
    """The codes a reader must not meet as text, from the label tables and the night's own reason codes."""
    unj = pd.read_csv(run / "unjudged.csv", dtype=str).fillna("")
    codes = set(FIELDS) | set(TYPES_ZH) | set(RULES_ZH) | set(EVIDENCE_ZH) | set(VALUES_ZH) | set(SEVERITY_ZH) \
        | set(CONFIDENCE_ZH) | set(STATUS_ZH) | set(unj["reason"]) | {"True", "False", "None"}
    return {c for c in codes if c}


def test_every_report_reads_chinese_in_the_browser(rendered):
    run, out = rendered
    assert len(out) == 3                                            # every mine of the sample has its report
    forbidden = _forbidden(run)
    assert {"relative_to_reference", "UNDECLARED_DISTURBANCE", "True"} <= forbidden
    for lic, r in out.items():
        text = r["text"]
        tokens = set(re.findall(r"[A-Za-z0-9_]+", text))
        phrases = {c for c in forbidden if " " in c and c in text}
        assert not (tokens & forbidden) and not phrases, (lic, tokens & forbidden, phrases)
        assert not [t for t in tokens if SNAKE.fullmatch(t)], (lic, [t for t in tokens if SNAKE.fullmatch(t)])
        assert all(r["images"]) and len(r["images"]) >= 2, lic      # every image decoded (map, locator, charts)


def test_every_anomaly_row_has_its_id_and_coordinates(rendered):
    run, out = rendered
    fc = json.loads((run / "anomalies.geojson").read_text(encoding="utf-8"))
    n = 0
    for lic, r in out.items():
        ids = {f["id"] for f in fc["features"] if f["properties"]["license_no"] == lic}
        assert {i for i, _ in r["rows"]} == ids, lic
        for aid, row in r["rows"]:
            assert aid in row and re.search(r"\d+\.\d{6}°E\s+\d+\.\d{6}°N", row), row
            assert re.search(r"X \d+\.\d{2}\s+Y \d+\.\d{2}", row) and re.search(r"拐点\d+", row), row
            n += 1
    assert n >= 3                                                   # the sample's planted truths are there


def test_the_ring_line_is_there_wherever_the_assessment_used_the_ring(rendered):
    run, out = rendered
    series = pd.read_csv(run / "unit_series.csv", dtype={"license_no": str})
    ringed = set(series[(series.unit == REFERENCE) & series.fvc_mean.notna()].license_no)
    assert ringed                                                   # the sample's mines have a usable ring
    for lic, r in out.items():
        drawn = [(u, t) for u, has_img, t in r["charts"] if has_img]
        assert drawn, lic
        for unit, t in drawn:
            assert ("周边参照环" in t) == (lic in ringed), (lic, unit)


def test_loss_anomalies_have_their_before_after_pair_and_every_report_its_locator(rendered):
    run, out = rendered
    fc = json.loads((run / "anomalies.geojson").read_text(encoding="utf-8"))
    loss = {(f["properties"]["license_no"], f["id"]) for f in fc["features"] if f["properties"]["type"] in LOSS_TYPES}
    assert loss                                                     # the sample plants an undeclared disturbance
    assert {(lic, a) for lic, r in out.items() for a in r["pairs"]} == loss
    for lic, r in out.items():
        assert "位置示意图" in r["text"], lic
        assert ("左: 基期 " in r["text"]) == any(x == lic for x, _ in loss), lic
    assert "准格尔旗" in out["C1506222021071110000001"]["text"]        # the county name from report.county_names


def test_the_same_night_written_again_gives_the_same_bytes_pdf_included(night, tmp_path):
    run = Path(night.run_dir)
    again = Path(job.write_run(night.results, tmp_path / "again", NIGHT, PLAN_YEAR, night.promises)["run_dir"])
    names = ["index.html", *(f"{d}/{f.name}" for d in ("reports", "overview") for f in sorted((run / d).iterdir()))]
    assert len(names) == 1 + 3 + 3
    for n in names:
        assert (again / n).read_bytes() == (run / n).read_bytes(), n
    # the PDF of the mine with the before/after pair, printed twice
    fc = json.loads((run / "anomalies.geojson").read_text(encoding="utf-8"))
    lic = next(f["properties"]["license_no"] for f in fc["features"] if f["properties"]["type"] in LOSS_TYPES)
    r = next(x for x in night.results if x.license_no == lic)
    s = night.settings.model_copy(update={"report": night.settings.report.model_copy(update={"pdf": True})})
    right = next(x for x in night.promises.rights if x.license_no == lic)
    pdfs = []
    for k in ("a", "b"):
        job.write_report(r, night.promises.plans[lic], fc, tmp_path / k / f"{lic}.html", NIGHT, right=right, s=s)
        pdfs.append((tmp_path / k / f"{lic}.pdf").read_bytes())
    assert pdfs[0][:5] == b"%PDF-" and pdfs[0] == pdfs[1]
