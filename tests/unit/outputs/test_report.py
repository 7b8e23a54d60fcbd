"""Per-mine HTML report: self-contained, Chinese, and it really renders (headless Chromium screenshot)."""
import base64
import re
import subprocess
from datetime import date

import numpy as np
import pandas as pd
import pytest
import shapely
from matplotlib.image import imread
from pyproj import Transformer
from shapely.geometry import box
from tests.support.report_data import EPSG
from tests.support.report_data import report_data as _data

from minewatch.outputs import report
from minewatch.outputs.pdf import chromium_args, chromium_binary
from minewatch.outputs.report import render_report


def test_html_is_chinese_and_self_contained(tmp_path):
    p = render_report(_data(), tmp_path / "report.html")
    text = p.read_text(encoding="utf-8")
    for s in ("采矿权人名称", "示例矿业有限公司", "C1400002010011120000001", "示例煤矿", "2020年1月1日至2030年12月31日",
              "2026年度", "修复不达标", "16.0012", "S2B_49SFA_20260712_0_L2A (2026-07-12)", "损毁区不作植被判定",
              "无法判定"):
        assert s in text, s
    assert '<meta charset="utf-8">' in text
    assert not re.search(r'(src|href)\s*=\s*"(https?:|//|file:)', text)
    assert "<link" not in text and "<script" not in text
    imgs = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert len(imgs) == 1 + 3                      # map + one chart per unit with observations (not damage:1)
    for b in imgs:
        assert base64.b64decode(b)[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_missing_cjk_font_fails_clearly(tmp_path, monkeypatch):
    monkeypatch.setattr(report.font_manager.fontManager, "ttflist", [])
    with pytest.raises(RuntimeError, match="fonts-noto-cjk"):
        render_report(_data(), tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_no_findings_no_series(tmp_path):
    text = render_report(_data(anomalies=[], series=None, reference=None, unjudged=pd.DataFrame()),
                         tmp_path / "r.html").read_text(encoding="utf-8")
    assert "本次核查未发现异常" in text and "无有效观测" in text and "所有单元均已判定" in text


def _screenshot(html, png):
    binary = chromium_binary()
    if binary is None:
        pytest.skip("headless Chromium not installed (Debian package chromium); cannot check the rendering")
    subprocess.run(chromium_args(binary) + [f"--screenshot={png}", "--window-size=1200,2000", html.resolve().as_uri()],
                   check=True, capture_output=True, timeout=180)
    return imread(png)


def test_renders_in_headless_chromium(tmp_path):
    html = render_report(_data(), tmp_path / "report.html")
    img = _screenshot(html, tmp_path / "shot.png")[..., :3]
    assert img.shape[:2] == (2000, 1200)
    assert img.var() > 0.01                                  # not a blank page
    gray = img.mean(axis=-1)
    assert (gray < 0.5).mean() > 0.02                        # text and imagery, not an error page
    red = (img[..., 0] > 0.8) & (img[..., 1] < 0.3) & (img[..., 2] < 0.3)
    assert red.sum() > 200                                   # the anomaly outline and threshold lines


def test_pdf(tmp_path):
    if chromium_binary() is None:
        pytest.skip("headless Chromium not installed (Debian package chromium); no PDF output")
    render_report(_data(), tmp_path / "report.html", pdf=True)
    pdf = (tmp_path / "report.pdf").read_bytes()
    assert pdf[:5] == b"%PDF-" and len(pdf) > 20_000


def _visible_text(html_text: str) -> str:
    """The report's text as read: no tags, no style block, no secondary `.code` spans."""
    body = re.sub(r"<style>.*?</style>", "", html_text, flags=re.S)
    body = re.sub(r'<span class="code">[^<]*</span>', "", body)
    body = re.sub(r"<[^>]+>", " ", body)
    import html as html_mod
    return html_mod.unescape(body)


def test_no_raw_english_key_in_rendered_text(tmp_path):
    from minewatch.labels import FIELDS
    text = _visible_text(render_report(_data(), tmp_path / "r.html").read_text(encoding="utf-8"))
    words = set(re.findall(r"[A-Za-z_]+", text))
    keys = {k for k in FIELDS if "_" in k or k in ("fvc", "ndvi", "bsi", "rule", "source", "min")}
    assert not (words & keys), words & keys
    assert "True" not in words and "False" not in words and "RESTORATION_SHORTFALL" not in words
    for s in (r"植被覆盖度\s*:\s*0.05", r"晴空观测数\s*:\s*7\s*次",
              "本年度计划修复单元在评估季末的植被覆盖度低于该地类要求"):
        assert re.search(s, text), s


def test_anomaly_rows_carry_id_and_coordinates_that_round_trip(tmp_path):
    from shapely.geometry import shape
    d = _data(boundary=box(110.99, 38.98, 111.03, 39.0))
    text = render_report(d, tmp_path / "r.html").read_text(encoding="utf-8")
    f = d.anomalies[0]
    row = re.search(r'<tr data-anomaly-id="([0-9a-f]+)">(.*?)</tr>', text, flags=re.S)
    assert row and row.group(1) == f["id"] and f["id"] in row.group(2)
    lon, lat = (float(v) for v in re.search(r'data-lon="([\d.]+)" data-lat="([\d.]+)"', row.group(2)).groups())
    x, y = (float(v) for v in re.search(r'data-x="([\d.]+)" data-y="([\d.]+)"', row.group(2)).groups())
    assert f"{lon:.6f}°E" in row.group(2) and f"X {x:.2f}" in row.group(2)
    # the centroid of the anomaly, independently: in UTM (the raster CRS), compared in metres
    c = shapely.transform(shape(f["geometry"]), lambda a, b: Transformer.from_crs(4490, EPSG, always_xy=True)
                          .transform(a, b), interleaved=False).centroid
    ux, uy = Transformer.from_crs(4490, EPSG, always_xy=True).transform(lon, lat)
    assert np.hypot(ux - c.x, uy - c.y) < 1.0
    gx, gy = Transformer.from_crs(4525, EPSG, always_xy=True).transform(y, x)   # GK3 zone 37: Y east, X north
    assert np.hypot(gx - c.x, gy - c.y) < 1.0
    assert re.search(r"拐点\d+ 向\S+ \d+ m", row.group(2))
    assert "GCJ-02" in text and "CGCS2000" in text


def test_reference_ring_shown_where_the_assessment_used_it(tmp_path):
    from minewatch.assess.reference import REFERENCE
    d = _data(reference=None)
    ring = d.series[d.series.unit == "planned:1"].assign(unit=REFERENCE)   # the mine's ring, as the pipeline keeps it
    d.series = pd.concat([d.series, ring], ignore_index=True)
    d.season = (date(2026, 7, 1), date(2026, 9, 15))
    text = render_report(d, tmp_path / "r.html").read_text(encoding="utf-8")
    charts = re.findall(r'<div class="chart" data-unit="([^"]+)">(.*?)</div>', text, flags=re.S)
    with_obs = [(u, c) for u, c in charts if "<img" in c]
    assert [u for u, _ in with_obs] == ["planned:1", "planned:2", "restored:1"]
    for _, c in with_obs:
        assert f"周边参照环: {len(ring)} 个日期" in c and "评估季 2026-07-01 至 2026-09-15" in c
    no_ring = render_report(_data(reference=None), tmp_path / "n.html").read_text(encoding="utf-8")
    assert "ref-ring" not in no_ring


def test_every_anomaly_type_has_its_label_and_rule_sentence():
    from minewatch.labels import RULES_ZH, TYPES_ZH
    assert set(RULES_ZH) == set(TYPES_ZH)


def test_unit_timeline_chart_and_table(tmp_path):
    from minewatch.ledger.events import ACCEPTANCE, MENTION, SEASON, UnitEvent

    lic, u1, u2 = "C1400002010011120000001", "C1400002010011120000001-U0001", "C1400002010011120000001-U0002"
    events = [UnitEvent(lic, u1, MENTION, 2025, section="planned", seq=1, land_class="0404", area_hm2=6.7225),
              UnitEvent(lic, u1, MENTION, 2026, section="restored", seq=1, land_class="0404", area_hm2=6.7223,
                        accepted=True),
              UnitEvent(lic, u1, ACCEPTANCE, 2026, applied_on=date(2026, 3, 2), accepted_on=date(2026, 5, 20),
                        result="合格", certificate_no="验收(2026)第7号"),
              UnitEvent(lic, u1, SEASON, 2026, fvc=0.4512, reference_fvc=0.6021, clear_obs=7),
              UnitEvent(lic, u2, MENTION, 2026, section="damage", seq=1, area_hm2=20.1653)]
    plain = render_report(_data(), tmp_path / "plain.html").read_text(encoding="utf-8")
    assert "单元全流程跟踪" not in plain                       # no ledger: no timeline
    text = render_report(_data(timeline=events, unit_states={u1: "in_management", u2: "damaged"},
                               timeline_fvc_min={u1: 0.5}), tmp_path / "r.html").read_text(encoding="utf-8")
    part = text[text.index("六、单元全流程跟踪"):text.index("<h2>说明</h2>")]
    assert len(re.findall(r'src="data:image/png;base64,', part)) == 1       # the chart across years
    rows = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td>(\d+)</td>((?:<td>[^<]*</td>){4})</tr>", part)
    assert [(r[0][-5:], r[1], r[2]) for r in rows] == [("U0001", "管护期内", "2025"), ("U0001", "管护期内", "2026"),
                                                      ("U0002", "损毁", "2026")]
    assert re.findall(r"<td>([^<]*)</td>", rows[1][3]) == [
        "", "第1号 0404 6.7223 hm²，称已验收", "合格 2026-05-20 验收(2026)第7号", "0.4512（阈值 0.50，未达标）"]
    assert "计划第1号 0404 6.7225 hm²" in rows[0][3] and "损毁第1号 20.1653 hm²" in rows[2][3]
def _pngs(text: str, marker: str) -> list[np.ndarray]:
    """The PNG images of the divs whose class contains `marker`, decoded."""
    import io
    found = re.findall(rf'<div class="chart {marker}"[^>]*>.*?src="data:image/png;base64,([^"]+)"', text, flags=re.S)
    return [imread(io.BytesIO(base64.b64decode(b)))[..., :3] for b in found]


def test_locator_map_shows_the_licence_in_a_graticuled_frame_with_its_county(tmp_path):
    d = _data(boundary=box(110.99, 38.98, 111.03, 39.0), county_code="150622", county_name="准格尔旗",
              locator_frame_m=25_000.0)
    text = render_report(d, tmp_path / "r.html").read_text(encoding="utf-8")
    [img] = _pngs(text, "locator")
    red = (img[..., 0] > 0.6) & (img[..., 1] < 0.45) & (img[..., 2] < 0.45)
    grey = (np.abs(img[..., 0] - 0.54) < 0.06) & (np.abs(img[..., 1] - 0.54) < 0.06)
    # the 3.5 km x 2.2 km licence in a 25 km frame: a small red patch, graticule lines across it
    assert 50 < red.sum() < 0.1 * red.size and grey.sum() > 200
    ys, xs = np.nonzero(red)
    assert abs(ys.mean() / img.shape[0] - 0.5) < 0.15 and abs(xs.mean() / img.shape[1] - 0.5) < 0.15
    assert "位置示意图" in text and "所在县: 准格尔旗 (县级行政区划代码 150622); 图幅 25 km 见方" in text
    assert "无县界底图" in text and _violet(img).sum() == 0          # no county layer: no outline
    assert render_report(_data(), tmp_path / "n.html").read_text(encoding="utf-8").count("位置示意图") == 0


def test_pair_stretch_is_one_for_both_and_equal_reflectance_shows_equal():
    before = np.full((10, 10, 3), 0.05, np.float32)
    after = before.copy()
    after[2:5, 2:5] = 0.25                                    # bare now
    lo, hi = report.pair_stretch(before, after)
    assert lo == pytest.approx(0.05) and hi == pytest.approx(0.25)
    b, a = report.stretched(before, lo, hi), report.stretched(after, lo, hi)
    assert np.array_equal(b[6:, 6:], a[6:, 6:]) and a[3, 3, 0] == 1.0 and b[3, 3, 0] == 0.0
    # a stretch from one image alone would differ: the pair's is computed from both
    assert report.pair_stretch(before, before)[1] != hi
    nan = before.copy()
    nan[0, 0] = np.nan
    assert report.stretched(nan, lo, hi)[0, 0, 0] == 0.85


def test_pair_window_is_the_bbox_plus_margin_inside_the_grid():
    from affine import Affine
    t = Affine(10, 0, 1000, 0, -10, 5000)                     # 100 x 100 px
    rows, cols = report.pair_window(box(1200, 4500, 1300, 4600), t, (100, 100), 50)
    assert (rows.start, rows.stop, cols.start, cols.stop) == (35, 55, 15, 35)
    rows, cols = report.pair_window(box(1000, 4900, 1050, 5000), t, (100, 100), 100)
    assert (rows.start, rows.stop, cols.start, cols.stop) == (0, 20, 0, 15)


def test_loss_anomalies_get_before_after_pairs_with_their_id(tmp_path):
    from tests.support.report_data import loss_feature
    d = _data()
    loss = loss_feature(d)
    d.anomalies = d.anomalies + [loss]
    h, w = d.fvc.shape
    d.before_rgb = np.full((h, w, 3), 0.04, np.float32)
    d.after_rgb = d.before_rgb.copy()
    d.after_rgb[20:40, 150:180] = 0.22                        # the loss: bare since the baseline
    d.before_period = "2025-07-03/2025-09-12"
    text = render_report(d, tmp_path / "r.html").read_text(encoding="utf-8")
    pairs = re.findall(r'<div class="chart pair" data-anomaly-id="([0-9a-f]+)"><h3>(A\d) 前后对比', text)
    assert pairs == [(loss["id"], "A2")]                         # the shortfall (A1) is no loss: no pair
    assert "基期 2025-07-03/2025-09-12" in text
    [img] = _pngs(text, "pair")
    left, right = img[:, : img.shape[1] // 2], img[:, img.shape[1] // 2:]
    # the window (bbox + 150 m, 60 x 50 px) is dark vegetation before; after, a fifth of it is bare (white)
    dark = lambda x: (x.mean(axis=-1) < 0.3).sum()
    assert 0.6 * dark(left) < dark(right) < 0.9 * dark(left)
    red = lambda x: ((x[..., 0] > 0.8) & (x[..., 1] < 0.3) & (x[..., 2] < 0.3)).sum()
    assert red(left) > 100 and red(right) > 100                # the outline on both
    # no pairs without the baseline image
    assert "前后对比" not in render_report(_data(anomalies=[loss]), tmp_path / "n.html").read_text(encoding="utf-8")


def test_every_loss_type_is_a_known_type_and_every_type_that_a_loss_patch_makes_is_a_loss_type():
    """Pairs are drawn for the types the loss mask makes (assess.disturbance.loss_anomaly's callers)."""
    import inspect

    from minewatch.assess import disturbance_rules, history
    from minewatch.labels import TYPES_ZH
    assert set(report.LOSS_TYPES) <= set(TYPES_ZH)
    made = set()
    for mod in (disturbance_rules, history):
        made |= set(re.findall(r'loss_anomaly\(\s*"([A-Z_]+)"', inspect.getsource(mod)))
    assert made and made <= set(report.LOSS_TYPES), made - set(report.LOSS_TYPES)


def _violet(img: np.ndarray) -> np.ndarray:
    """Pixels of the county outline's colour (report.COUNTY_EDGE #5b2a86)."""
    return (np.abs(img[..., 0] - 0x5B / 255) < 0.08) & (np.abs(img[..., 1] - 0x2A / 255) < 0.08) & \
           (np.abs(img[..., 2] - 0x86 / 255) < 0.08)


def test_locator_map_draws_the_county_outline_and_frames_the_whole_county(tmp_path):
    lic = box(110.99, 38.98, 111.03, 39.0)
    c = lic.centroid
    # a 60 km octagon-ish county whose centre is 10 km east of the licence (not real borders)
    county = shapely.Point(c.x + 0.115, c.y).buffer(0.35, quad_segs=2)
    county = shapely.affinity.scale(county, 1.0, 0.78)
    d = _data(boundary=lic, county_code="150622", county_name="准格尔旗", county_outline=county)
    text = render_report(d, tmp_path / "r.html").read_text(encoding="utf-8")
    [img] = _pngs(text, "locator")
    violet = _violet(img)
    ys, xs = np.nonzero(violet)
    h, w = violet.shape
    # the outline goes round the whole frame: the frame is 1.08 x the county's width, not 25 km
    assert violet.sum() > 800 and xs.max() - xs.min() > 0.6 * w and ys.max() - ys.min() > 0.45 * h
    red = (img[..., 0] > 0.6) & (img[..., 1] < 0.45) & (img[..., 2] < 0.45)
    ry, rx = np.nonzero(red)
    # the licence (and its star) sits inside the outline, west of the county's middle
    assert xs.min() < rx.mean() < (xs.min() + xs.max()) / 2 and ys.min() < ry.mean() < ys.max()
    # the outline's pixels lie on the polygon's ring: none at the county's middle, some left of the licence
    assert not violet[int(ry.mean()) - 5:int(ry.mean()) + 5, int(rx.mean()) + 30:int(rx.mean()) + 60].any()
    assert violet[int(ry.mean()) - 3:int(ry.mean()) + 3, :int(rx.mean())].any()
    side_km = 1.08 * 0.70 * 111.32 * np.cos(np.radians(39.0))
    m = re.search(r"所在县: 准格尔旗 \(县级行政区划代码 150622\); 图幅 ([\d.]+) km 见方, "
                  r"以县域为中心, 紫色线为县界", text)
    assert m and float(m.group(1)) == pytest.approx(side_km, rel=0.03)
