"""The many-mines world of `synth.scenarios` (the benchmark's mines)."""
from __future__ import annotations

from datetime import date

from shapely.geometry import box

from minewatch.synth import scenarios


def test_many_dates_spread_over_both_seasons():
    d = scenarios.many_dates(40)
    assert d[0] == date(2025, 4, 15) and d[-1] == date(2026, 9, 30)
    assert len(set(d)) == 40 and d == sorted(d)
    assert sum(x.year == 2025 for x in d) == 20
    assert scenarios.many_dates(1) == [date(2025, 4, 15)]


def test_many_frames_do_not_overlap_and_stay_in_zone_49():
    frames = [scenarios.many_frame(k) for k in (0, 1, 79, 80, 1199)]
    assert {f.epsg for f in frames} == {32649}
    a, b, row2 = (box(*f.bounds) for f in frames[:2] + frames[3:4])
    assert a.distance(b) > 2000 and a.distance(row2) > 2000
    assert scenarios.many_license_no(1199) == "C1506222026020011990000"


def test_write_many_writes_registry_plans_and_items(tmp_path):
    items = scenarios.write_many(tmp_path, 2, 2, start=7)
    assert list(items) == [scenarios.many_license_no(7), scenarios.many_license_no(8)]
    assert [it.id for it in items[scenarios.many_license_no(8)]] == ["S2A_49SBH_20250415_8_L2A",
                                                                     "S2B_49SBH_20260930_8_L2A"]
    assert sorted(p.name for p in (tmp_path / "plans").iterdir()) == [
        f"{scenarios.many_license_no(k)}_2026.xlsx" for k in (7, 8)]
    again = scenarios.write_many(tmp_path, 2, 2, start=7)       # cached: read back, same items
    assert {k: [i.id for i in v] for k, v in again.items()} == {k: [i.id for i in v] for k, v in items.items()}
