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
