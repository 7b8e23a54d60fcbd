"""The climate scenarios (synth.scenarios_climate: snowy north-east, cloudy evergreen south,
shaded slopes) through the real STAC catalogue and the pipeline: every label found, no other
flag, none on a unit or area that snow, cloud or terrain shadow covered; the south judged on the
widened window it records, the north-east's snow counted in the series."""
from __future__ import annotations

import pytest
from tests.support.evaluation import family_view

from minewatch.synth import scenarios_climate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def result(labelled_evaluation):
    """The session's evaluation of every scenario (tests/conftest.py), cut to this family."""
    return family_view(labelled_evaluation, scenarios_climate.CLIMATE)


def test_climate_scenarios_precision_and_recall_are_one(result):
    assert result["scenarios"] == 3 and result["labels"] == 7
    assert result["precision"] == 1.0 and result["recall"] == 1.0, result["per_scenario"]
    assert result["cloud_only_flags"] == 0 and not result["held_back"]


def test_the_cloudy_south_is_judged_on_the_widened_window(result):
    flags = result["per_scenario"]["cloudy_south"]["flags"]
    assert {f["unit"] for f in flags} == {"planned:1", "restored:1"}
    for f in flags:
        # one step of 15 days each side of 东南沿海山地丘陵区's season (07-01/10-15, configs/regions.yaml)
        assert f["observed"]["window"] == "2026-06-16/2026-10-30"
        assert f["observed"]["clear_observations"] == 3               # the three breaks, never one date


def test_snow_dates_are_counted_not_read_as_ground(result):
    sc = result["per_scenario"]["snowy_northeast"]
    by_unit = {f["unit"]: f for f in sc["flags"]}
    # the dry pit: its three snowy season dates (MNDWI of snow > 0) are not counted as water
    assert by_unit["planned:4"]["observed"]["snow_dates"] == 3
    assert by_unit["planned:4"]["observed"]["water_fraction"] == 0.0
    assert by_unit["planned:2"]["observed"]["snow_dates"] == 3
