"""The per-mine PDF: A4, reproducible to the byte, header and page numbers, no table row split."""
import re
import subprocess

import pytest
import shapely
from shapely.geometry import shape
from tests.support.report_data import report_data

from minewatch.outputs.geojson import feature
from minewatch.outputs.pdf import chromium_binary
from minewatch.outputs.report import render_report

pytestmark = pytest.mark.skipif(chromium_binary() is None, reason="headless Chromium (Debian chromium) not installed")


def _many(n: int) -> list[dict]:
    """n anomalies: the builder's one, shifted 20 m at a time (ids differ by their key)."""
    from dataclasses import replace

    from minewatch.assess.anomaly import Anomaly
    base = report_data().anomalies[0]
    g = shape(base["geometry"])
    p = base["properties"]
    out = []
    for i in range(n):
        a = Anomaly(p["type"], p["severity"], p["license_no"], p["mine_name"], p["plan_year"],
                    shapely.affinity.translate(g, xoff=0.0002 * i), p["area_hm2"], p["period"], p["observed"],
                    p["expected"], tuple(p["evidence_scenes"]), unit_seq=p["unit_seq"],
                    unit_section=p["unit_section"], target_land_class=p["target_land_class"], key=f"k{i:02d}")
        out.append(feature(replace(a)))
    return out


def _pages(pdf) -> list[str]:
    n = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                                                        check=True).stdout).group(1))
    return [subprocess.run(["pdftotext", "-layout", "-f", str(i), "-l", str(i), str(pdf), "-"],
                           capture_output=True, text=True, check=True).stdout for i in range(1, n + 1)]


def test_pdf_is_a4_reproducible_and_rows_stay_on_one_page(tmp_path):
    data = report_data(anomalies=_many(24))
    render_report(data, tmp_path / "a" / "r.html", pdf=True)
    render_report(data, tmp_path / "b" / "r.html", pdf=True)
    a, b = (tmp_path / d / "r.pdf" for d in "ab")
    assert a.read_bytes() == b.read_bytes()                      # a rerun is byte-identical
    info = subprocess.run(["pdfinfo", str(a)], capture_output=True, text=True, check=True).stdout
    assert "(A4)" in info and "CreationDate" not in info
    pages = _pages(a)
    assert len(pages) >= 3
    for i, text in enumerate(pages, 1):
        assert "示例煤矿 C1400002010011120000001 影像截至 2026-10-02" in text     # header on every page
        assert f"第{i}页/共{len(pages)}页" in text.replace(" ", "")                # footer
    # every row of the location table: its label, its id's first characters and both coordinate lines
    # are on the same page (a split row would leave X on one page and Y on the next)
    for k in range(1, 25):
        on = [i for i, t in enumerate(pages) if re.search(rf"^A{k}\s", t, flags=re.M)]
        assert on, k
        page = pages[on[0]]
        block = page[page.index(f"A{k} "):]
        nxt = re.search(rf"^A{k + 1}\s", block, flags=re.M)
        block = block[:nxt.start()] if nxt else block
        assert "°E" in block and "°N" in block and "X 43" in block and "Y 375" in block, (k, block[:300])
