"""The bureau's morning page in a real browser: Selenium drives Debian chromium + chromium-driver."""
from datetime import date

import numpy as np
import pytest
from affine import Affine
from matplotlib.image import imread
from tests.support.browser import chromium, needs_chromium
from tests.support.outputs_data import anomalies_fc, rights_and_plans

from minewatch.outputs.lifecycle import apply_lifecycle
from minewatch.outputs.overview import MineImage, write_overview
from minewatch.promised import coords

By = pytest.importorskip("selenium.webdriver.common.by").By
WebDriverWait = pytest.importorskip("selenium.webdriver.support.ui").WebDriverWait

pytest.importorskip("selenium.webdriver")
pytestmark = needs_chromium

EPSG = 32649                       # UTM 49N: the first mine's zone


def _image(right) -> MineImage:
    """A mine's true colour on a 10 m UTM grid around its boundary: green west half, brown east
    half, no data in the north-west corner."""
    g = coords.transform(right.boundary, 4490, EPSG)
    x0, y0, x1, y1 = (round(v, -1) for v in g.bounds)
    w, h = int((x1 - x0) / 10) + 20, int((y1 - y0) / 10) + 20
    rgb = np.empty((h, w, 3), np.float32)
    rgb[:, : w // 2] = GREEN
    rgb[:, w // 2:] = BROWN
    rgb[:10, :10] = np.nan
    return MineImage(rgb, Affine(10, 0, x0 - 100, 0, -10, y1 + 100), EPSG)


GREEN, BROWN = (0.1, 0.55, 0.15), (0.6, 0.4, 0.2)


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
    return write_overview(nxt, rights, run, "2026-10-03", {rights[0].license_no: _image(rights[0])}), nxt


@pytest.fixture
def browser(tmp_path):
    with chromium(tmp_path / "profile") as d:
        yield d


def _shot(browser, path):
    browser.find_element(By.ID, "map").screenshot(str(path))
    return imread(path)[..., :3]


def _near(img, colour, tol=0.08):
    return (np.abs(img - np.asarray(colour)) < tol).all(axis=-1).sum()


def test_each_mines_true_colour_lies_under_the_vectors_and_can_be_switched_off(run_folder, browser, tmp_path):
    page, _ = run_folder
    png = page.parent / "overview" / "C1400002010011120000001.png"
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    browser.get(page.resolve().as_uri())
    browser.execute_script("map.fitBounds(mines.getLayers()[0].getBounds());")
    imgs = browser.find_elements(By.CSS_SELECTOR, ".leaflet-imagery-pane img.mine-image")
    assert len(imgs) == 1
    WebDriverWait(browser, 10).until(lambda d: d.execute_script(
        "const i = document.querySelector('img.mine-image'); return i.complete && i.naturalWidth > 0;"))
    nw, nh = browser.execute_script("const i = document.querySelector('img.mine-image');"
                                    "return [i.naturalWidth, i.naturalHeight];")
    assert nw > 200 and nh > 200
    img = _shot(browser, tmp_path / "on.png")
    assert img.var() > 1e-3                                                # not a blank map
    # both halves of the image show, in their colours, under the mine's outline (blue) and the anomaly (red)
    assert _near(img, GREEN) > 5000 and _near(img, BROWN) > 5000
    red = (img[..., 0] > 0.7) & (img[..., 1] < 0.35) & (img[..., 2] < 0.35)
    blue = (img[..., 2] > 0.35) & (img[..., 0] < 0.25) & (img[..., 1] < 0.35)
    assert red.sum() > 20 and blue.sum() > 20
    # the layer control's checkbox takes the imagery away and leaves the vectors
    box_ = [lab for lab in browser.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers label")
            if "本季真彩色影像" in lab.text][0]
    box_.find_element(By.TAG_NAME, "input").click()
    off = _shot(browser, tmp_path / "off.png")
    assert _near(off, GREEN) < 50 and _near(off, BROWN) < 50
    assert ((off[..., 0] > 0.7) & (off[..., 1] < 0.35) & (off[..., 2] < 0.35)).sum() > 20


def test_overview_filters_and_links(run_folder, browser, tmp_path):
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
