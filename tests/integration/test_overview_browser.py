"""The bureau's morning page in a real browser: Selenium drives Debian chromium + chromium-driver."""
import shutil
from datetime import date

import numpy as np
import pytest
from matplotlib.image import imread
from tests.support.outputs_data import anomalies_fc, rights_and_plans

from minewatch.outputs.lifecycle import apply_lifecycle
from minewatch.outputs.overview import write_overview

webdriver = pytest.importorskip("selenium.webdriver")
pytestmark = pytest.mark.skipif(shutil.which("chromedriver") is None or shutil.which("chromium") is None,
                                reason="Debian chromium and chromium-driver not installed")


@pytest.fixture
def run_folder(tmp_path):
    rights, _ = rights_and_plans()
    fc = anomalies_fc()
    # the next night: the disturbance goes on, the shortfall is no longer reported (resolved)
    on = [f for f in fc["features"] if f["properties"]["type"] == "UNDECLARED_DISTURBANCE"]
    nxt = apply_lifecycle({"type": "FeatureCollection", "features": on}, fc, date(2026, 10, 3))
    run = tmp_path / "2026-10-03"
    (run / "reports").mkdir(parents=True)
    (run / "reports" / "C1400002010011120000001.html").write_text(
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>示例煤矿报告</title></head>'
        "<body><h1>示例煤矿 报告</h1></body></html>", encoding="utf-8")
    return write_overview(nxt, rights, run, "2026-10-03"), nxt


@pytest.fixture
def browser(tmp_path):
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    opts = Options()
    opts.binary_location = shutil.which("chromium")
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
              "--window-size=1200,1400"):
        opts.add_argument(a)
    d = webdriver.Chrome(options=opts, service=Service(shutil.which("chromedriver")))
    yield d
    d.quit()


def test_overview_filters_and_links(run_folder, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    page, fc = run_folder
    text = page.read_text(encoding="utf-8")
    assert "unpkg" not in text and "<link" not in text and 'src="http' not in text   # no CDN, nothing fetched
    browser.get(page.resolve().as_uri())
    assert browser.title == "矿区生态修复遥感核查 2026-10-03"
    rows = browser.find_elements(By.CSS_SELECTOR, "#anomalies tbody tr")
    assert len(rows) == 2 and browser.find_element(By.ID, "shown").text == "2"
    # Leaflet drew the mine outlines and the anomalies as SVG paths
    paths = browser.find_elements(By.CSS_SELECTOR, "#map svg path")
    assert len(paths) == 2 + 2
    assert browser.execute_script("return typeof L === 'object' && L.version") == "1.9.4"
    Select(browser.find_element(By.ID, "f-status")).select_by_value("resolved")
    visible = [r for r in rows if r.is_displayed()]
    assert len(visible) == 1 and "已消除" in visible[0].text and "修复不达标" in visible[0].text
    assert browser.find_element(By.ID, "shown").text == "1"
    Select(browser.find_element(By.ID, "f-status")).select_by_value("")
    Select(browser.find_element(By.ID, "f-type")).select_by_value("UNDECLARED_DISTURBANCE")
    visible = [r for r in rows if r.is_displayed()]
    row = visible[0].text
    assert len(visible) == 1 and "未申报损毁" in row and "持续" in row and "A1" in row
    browser.execute_script("map.fitBounds(mines.getLayers()[0].getBounds()); ")   # zoom to the first mine
    shot = tmp_path / "shot.png"
    browser.find_element(By.ID, "map").screenshot(str(shot))
    img = imread(shot)[..., :3]
    red = (img[..., 0] > 0.7) & (img[..., 1] < 0.35) & (img[..., 2] < 0.35)
    blue = (img[..., 2] > 0.35) & (img[..., 0] < 0.25) & (img[..., 1] < 0.35)
    assert red.sum() > 20 and blue.sum() > 20 and img.var() > 1e-4      # anomalies (red), mines (blue)
    visible[0].find_element(By.LINK_TEXT, "报告").click()
    assert browser.title == "示例煤矿报告"
    assert np.isfinite(img).all()
