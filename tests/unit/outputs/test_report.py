"""Per-mine HTML report: self-contained, Chinese, and it really renders (headless Chromium screenshot)."""
import base64
import re
import subprocess
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine
from matplotlib.image import imread
from pyproj import Transformer
from shapely.geometry import box

from minewatch.assess.anomaly import Anomaly
from minewatch.outputs import report
from minewatch.outputs.geojson import feature
from minewatch.outputs.report import MineReportData, ReportUnit, chromium_args, chromium_binary, render_report
from minewatch.promised.models import AnnualPlan

EPSG = 32649                    # UTM 49N around 111°E, 39°N
X0, Y0, RES, N = 500000.0, 4317000.0, 10.0, 200


def _data(**kw) -> MineReportData:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:N, 0:N]
    fvc = np.clip(0.5 + 0.3 * np.sin(xx / 15) * np.cos(yy / 20) + rng.normal(0, 0.03, (N, N)), 0, 1)
    fvc[60:100, 40:80] = 0.05                                    # bare unit
    fvc[:5, :5] = np.nan
    rgb = np.stack([0.35 - 0.2 * fvc, 0.3 + 0.1 * fvc, 0.25 - 0.1 * fvc], axis=-1)
    t = Affine(RES, 0, X0, 0, -RES, Y0)
    ux = lambda c0, r0, c1, r1: box(X0 + c0 * RES, Y0 - r1 * RES, X0 + c1 * RES, Y0 - r0 * RES)
    units = [ReportUnit("planned:1", "planned", 1, ux(110, 30, 160, 80), "0404"),
             ReportUnit("planned:2", "planned", 2, ux(40, 60, 80, 100), "0305"),
             ReportUnit("restored:1", "restored", 1, ux(120, 120, 170, 170), "0404"),
             ReportUnit("damage:1", "damage", 1, ux(10, 140, 60, 190))]
    to_ll = Transformer.from_crs(EPSG, 4490, always_xy=True).transform
    a = Anomaly("RESTORATION_SHORTFALL", "high", "C1400002010011120000001", "示例煤矿", 2026,
                shapely.transform(units[1].geometry, lambda x, y: to_ll(x, y), interleaved=False), 16.0012,
                "2026-07-01/2026-09-15",
                {"fvc": 0.05, "n_clear": 7}, {"fvc_min": 0.4, "source": "灌木林地 cover >= 40%"},
                ("S2B_49SFA_20260712_0_L2A", "S2A_49SFA_20260806_0_L2A"), unit_seq=2, unit_section="planned",
                target_land_class="0305", key="planned:2")
    dates = [date(2025, 4, 1) + timedelta(days=10 * i) for i in range(58)]
    rows, ref = [], []
    for u, peak in (("planned:1", 0.7), ("planned:2", 0.08), ("restored:1", 0.65)):
        for i, d in enumerate(dates):
            season = np.interp(d.timetuple().tm_yday, [1, 100, 175, 240, 290, 366], [0.15, 0.15, 1, 1, 0.3, 0.15])
            rows.append({"unit": u, "datetime": pd.Timestamp(d, tz="UTC"), "fvc_mean": peak * season,
                         "clear_fraction": 0.3 if i % 7 == 0 else 0.95})
            ref.append({"unit": u, "datetime": pd.Timestamp(d, tz="UTC"), "fvc_mean": 0.6 * season})
    plan = AnnualPlan(2026, "C1400002010011120000001", "示例矿业有限公司", "示例煤矿",
                      validity="2020年1月1日至2030年12月31日")
    args = dict(rgb=rgb, fvc=fvc, transform=t, epsg=EPSG, units=units, anomalies=[feature(a)],
                series=pd.DataFrame(rows), reference=pd.DataFrame(ref),
                thresholds={"planned:1": 0.45, "planned:2": 0.40, "restored:1": 0.45},
                unjudged=[{"license_no": "C1400002010011120000001", "unit": "damage:1", "reason": "NOT_ASSESSED",
                           "reason_zh": "损毁区不作植被判定", "n_clear": 0}],
                image_date="2026-08-06", run_date=date(2026, 10, 2), min_clear_fraction=0.5)
    args.update(kw)
    return MineReportData.from_plan(plan, **args)


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
