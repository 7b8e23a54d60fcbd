"""synth.scenarios_climate: the climate scenarios' dates, cloud, snow and shade by date, without
writing a scene (the evaluation through the catalogue: tests/integration/test_evaluate_climate.py)."""
from __future__ import annotations

from datetime import date

import numpy as np

from minewatch.synth import scenarios as sc
from minewatch.synth import scenarios_climate as cl

BY = {s.name: s for s in cl.CLIMATE}


def test_climate_scenarios_are_appended_and_every_one_has_positives_and_negatives():
    assert sc.SCENARIOS[-len(cl.CLIMATE):] == cl.CLIMATE
    for s in cl.CLIMATE:
        labelled = {k for k, _ in s.labels}
        units = {f"{u.section}:{u.seq}" for u in s.units}
        assert labelled and units - labelled, s.name          # a unit that must NOT be flagged


def test_the_north_east_has_winter_scenes_under_snow_and_snow_late_in_the_season():
    ne = BY["snowy_northeast"]
    dates = ne.sky.dates(sc.scene_dates(), ne.as_of)
    winter = [d for d in dates if d.month in (11, 12, 1, 2, 3)]
    assert len(dates) == len(sc.scene_dates()) + 23 and len(winter) >= 15 and max(dates) <= ne.as_of
    assert all(ne.sky.snowy(d) for d in winter)
    season = [d for d in sc.scene_dates() if d.year == sc.PY and date(sc.PY, 7, 1) <= d <= date(sc.PY, 9, 15)]
    assert [d for d in season if ne.sky.snowy(d)] == [date(2026, 8, 29), date(2026, 9, 6), date(2026, 9, 14)]
    fr = sc.Frame.of(0)
    assert ne.sky.layers(ne.name, date(2026, 1, 20), fr, ne.patches, (200, 200))["snow"].all()
    assert ne.sky.layers(ne.name, date(2026, 7, 4), fr, ne.patches, (200, 200)) == {}


def test_the_south_is_overcast_all_wet_season_but_three_breaks_and_evergreen():
    so = BY["cloudy_south"]
    wet = [d for d in sc.scene_dates() if date(sc.PY, 5, 1) <= d <= date(sc.PY, 9, 30)]
    clear = [d for d in wet if sc.cloud_fraction(so, d) == 0.0]
    assert clear == [date(2026, 6, 18), date(2026, 8, 13), date(2026, 9, 30)]
    assert all(sc.cloud_fraction(so, d) == 0.9 for d in wet if d not in clear)
    assert min(sc.climate(so, d) for d in sc.scene_dates()) > 0.85          # evergreen: no brown season


def test_shade_falls_on_the_shaded_patches_on_about_their_share_of_dates():
    sh = BY["shaded_slopes"]
    fr, dates = sc.Frame.of(0), sc.scene_dates()
    share = {p.name: np.mean([bool(sh.sky.layers(sh.name, d, fr, (p,), (200, 200))) for d in dates])
             for p in sh.patches}
    assert share["p1"] == 0.0 and 0.45 < share["r1"] < 0.75 and 0.2 < share["cut"] < 0.5
    layer = sh.sky.layers(sh.name, dates[0], fr, sh.patches, (200, 200)).get("terrain_shadow")
    assert layer is None or not layer[fr.slices(next(p.rect for p in sh.patches if p.name == "p1"))].any()
