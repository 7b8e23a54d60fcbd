"""Property tests: damaged plan files end in findings or PlanFormatError; round trips hold."""
from __future__ import annotations

import dataclasses
import io
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from minewatch.assess.planchecks import plan_anomalies
from minewatch.promised.coords import area_hm2, format_corner_points, parse_corner_points
from minewatch.promised.findings import Finding
from minewatch.promised.models import DAMAGE, PLANNED, RESTORED, Unit
from minewatch.promised.plans import PlanFormatError, read_plan_xlsx, write_plan_xlsx
from minewatch.promised.validate import validate_plan
from minewatch.synth import sample

SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
RIGHTS = {r.license_no: r for r in (sample.mining_right(m) for m in sample.MINES)}
_CLEAN: dict[str, bytes] = {}
BASE = sample.annual_plan(sample.MINES[0])
FRAME = sample.MineFrame.of(sample.MINES[0])


def clean_bytes(tmp_path_factory=None) -> bytes:
    if "b" not in _CLEAN:
        import tempfile
        from pathlib import Path
        with tempfile.TemporaryDirectory() as d:
            _CLEAN["b"] = write_plan_xlsx(sample.annual_plan(sample.MINES[0]), Path(d) / "p.xlsx").read_bytes()
    return _CLEAN["b"]


texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["……", "是", "否", "√", "×", "0404", "草坪", "1,2,3", "*,,,,1", "=1+1", "@SUM(A1)",
                     "１２．５", "12.5亩", "-3", "nan", "inf", "序号", "本年度矿区生态修复计划",
                     "2026年度矿区生态修复情况表", "1,4406642.66,37521308.52\n2,4406742.70,37521308.52"]),
)
values = st.one_of(st.none(), texts, st.integers(-10**9, 10**9),
                   st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                   st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)))
STATS = {"read": 0, "format_error": 0}
ops = st.lists(st.tuples(st.sampled_from(["set", "delete_row", "insert_row", "swap_rows", "unmerge"]),
                         st.integers(1, 40), st.integers(1, 9), values), min_size=1, max_size=8)


def _grid(data: bytes):
    ws = load_workbook(io.BytesIO(data)).active
    cells = {(c.row, c.column): c.value for row in ws.iter_rows() for c in row if c.value is not None}
    merges = [(m.min_row, m.min_col, m.max_row, m.max_col) for m in ws.merged_cells.ranges]
    return cells, merges


def damage(data: bytes, operations) -> bytes:
    """Apply the operations to the sheet's values and merges, write a fresh workbook."""
    from openpyxl import Workbook
    cells, merges = _grid(data)
    cells, merges = dict(cells), list(merges)
    for op, r, c, v in operations:
        if op == "set":
            merges = [m for m in merges if not (m[0] <= r <= m[2] and m[1] <= c <= m[3])]
            if isinstance(v, str):
                v = "".join(ch for ch in v if ch >= " " or ch in "\n\t")
            cells[(r, c)] = v
        elif op in ("delete_row", "insert_row"):
            d = -1 if op == "delete_row" else 1
            moved = {}
            for (rr, cc), val in cells.items():
                if rr == r and d < 0:
                    continue
                moved[(rr + d if rr >= r else rr, cc)] = val
            cells = moved
            merges = [(m[0] + d if m[0] >= r else m[0], m[1], m[2] + d if m[2] >= r else m[2], m[3])
                      for m in merges if not (m[0] <= r <= m[2])]
        elif op == "swap_rows":
            r2 = (r * 7) % 30 + 1
            a = {cc: val for (rr, cc), val in cells.items() if rr == r}
            b = {cc: val for (rr, cc), val in cells.items() if rr == r2}
            cells = {k: val for k, val in cells.items() if k[0] not in (r, r2)}
            cells.update({(r2, cc): val for cc, val in a.items()})
            cells.update({(r, cc): val for cc, val in b.items()})
        elif op == "unmerge" and merges:
            merges.pop(r % len(merges))
    wb = Workbook()
    ws = wb.active
    for (r, c), v in cells.items():
        if r >= 1 and v is not None:
            try:
                ws.cell(row=r, column=c, value=v)
            except (ValueError, TypeError):
                ws.cell(row=r, column=c, value=str(v))
    for m in merges:
        if m[0] >= 1 and m[0] <= m[2] and (m[0], m[1]) != (m[2], m[3]):
            ws.merge_cells(start_row=m[0], start_column=m[1], end_row=m[2], end_column=m[3])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@SETTINGS
@given(operations=ops)
def test_damaged_plan_gives_findings_or_format_error(tmp_path_factory, operations):
    d = tmp_path_factory.mktemp("dmg")
    p = d / "p.xlsx"
    p.write_bytes(damage(clean_bytes(), operations))
    try:
        res = read_plan_xlsx(p)
    except PlanFormatError:
        STATS["format_error"] += 1
        return
    STATS["read"] += 1
    fs = validate_plan(res, RIGHTS, received=date(2026, 4, 2))
    assert all(isinstance(f, Finding) for f in fs)
    for f in fs:
        assert f.rule and f.severity in ("error", "warning") and f.message_zh
    plan_anomalies(RIGHTS.values(), [res], {res.file: fs}, plan_year=2026, as_of=date(2026, 6, 1))


@SETTINGS
@given(junk=st.binary(max_size=300), cut=st.integers(0, 20000))
def test_random_bytes_and_truncation(tmp_path_factory, junk, cut):
    d = tmp_path_factory.mktemp("junk")
    for i, data in enumerate((junk, clean_bytes()[:cut] + junk)):
        p = d / f"{i}.xlsx"
        p.write_bytes(data)
        try:
            read_plan_xlsx(p)
        except PlanFormatError:
            pass


# ------------------------------------------------------------------ round trips

LAND = ["0101", "0103", "0201K", "0301", "0305", "0404", "1104A", "1206", "0602"]
cell_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=20).map(str.strip)


@st.composite
def plans(draw):
    frame = FRAME
    n = draw(st.integers(0, 6))
    cells = draw(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 3)), min_size=n, max_size=n, unique=True))
    units, seqs = [], {RESTORED: 0, DAMAGE: 0, PLANNED: 0}
    for (i, j) in cells:
        section = draw(st.sampled_from([RESTORED, DAMAGE, PLANNED]))
        seqs[section] += 1
        x0, y0 = -1000 + i * 400 + 20, -800 + j * 400 + 20
        w, h = draw(st.integers(50, 360)), draw(st.integers(50, 360))
        g = parse_corner_points(format_corner_points(frame.rect_geo((x0, y0, x0 + w, y0 + h))))
        kw = {}
        if section != DAMAGE:
            kw = dict(land_class=draw(st.sampled_from(LAND)), is_temporary=draw(st.booleans()),
                      quality=draw(cell_text))
        if section == RESTORED:
            kw["accepted"] = draw(st.sampled_from([True, False, None]))
        if section == DAMAGE:
            kw = dict(problem_type=draw(st.sampled_from(["挖损", "压占", "塌陷"])),
                      damage_degree=draw(st.sampled_from(["轻度", "中度", "重度"])))
        if section == PLANNED:
            kw["measures"] = draw(cell_text)
        units.append(Unit(section=section, seq=seqs[section], geometry=g,
                          corner_points=format_corner_points(g), area_hm2=round(area_hm2(g), 4), **kw))
    order = {RESTORED: 0, DAMAGE: 1, PLANNED: 2}
    units.sort(key=lambda u: (order[u.section], u.seq))
    money = st.one_of(st.none(), st.integers(0, 10**8).map(lambda k: k / 10**4))
    drawn, planned_draw = draw(money), draw(money)
    return dataclasses.replace(
        BASE, units=tuple(units), holder=draw(cell_text) or "某公司",
        fees_last_year_drawn=drawn,
        fees_last_year_used=None if drawn is None else round(drawn * draw(st.floats(0, 1)), 4),
        fees_this_year_planned_draw=planned_draw,
        fees_this_year_planned_use=None if planned_draw is None else round(planned_draw * draw(st.floats(0, 1)), 4))


@settings(SETTINGS, max_examples=20)
@given(plan=plans())
def test_write_read_round_trip_and_a_consistent_plan_validates_clean(tmp_path_factory, plan):
    p = write_plan_xlsx(plan, tmp_path_factory.mktemp("rt") / "p.xlsx")
    res = read_plan_xlsx(p)
    assert [f for f in res.findings if f.severity == "error"] == []
    got = dataclasses.replace(res.plan, source="", units=tuple(dataclasses.replace(u, row=None)
                                                              for u in res.plan.units))
    want = dataclasses.replace(plan, units=tuple(dataclasses.replace(u, geometry=parse_corner_points(u.corner_points))
                                                 for u in plan.units))
    assert got == want
    fs = validate_plan(res, RIGHTS)
    assert [f for f in fs if f.rule not in ("RESTORED_PLANNED_OVERLAP",)] == [], fs
    # and what was read writes the same bytes again
    assert write_plan_xlsx(res.plan, p.with_name("q.xlsx")).read_bytes() == p.read_bytes()


def test_damage_mostly_reaches_the_rules():
    """The damaged files above were mostly still tables (else the property says little)."""
    if sum(STATS.values()) >= 10:
        assert STATS["read"] > STATS["format_error"], STATS
