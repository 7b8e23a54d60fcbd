"""The ground scenarios (synth.scenarios_ground: desert steppe, double-cropped fields, partly
restored units) through the real STAC catalogue and `job.run_mine`: every label found, no
other flag, none held back, and the numbers the rules rest on."""
import pytest
from tests.support.evaluation import family_view

from minewatch.synth import scenarios

pytestmark = pytest.mark.slow
NAMES = [s.name for s in scenarios.GROUND]


@pytest.fixture(scope="module")
def result(labelled_evaluation):
    """The session's evaluation of every scenario (tests/conftest.py), cut to this family."""
    return family_view(labelled_evaluation, scenarios.GROUND)


def _flags(result, name):
    return {(f["unit"], f["type"]): f for f in result["per_scenario"][name]["flags"]}


def test_every_label_and_nothing_else(result):
    assert result["scenarios"] == len(NAMES) == 3
    assert result["precision"] == 1.0 and result["recall"] == 1.0, result["per_scenario"]
    assert result["cloud_only_flags"] == 0
    assert result["held_back"] == []          # the harvest made 18 low-confidence loss patches before the rule


def test_desert_steppe_is_judged_relative_to_its_ring(result):
    [f] = _flags(result, "arid_sparse").values()
    # the ring exists although its NDVI is far under the old 0.3 floor; the bar follows it
    assert 0.05 < f["observed"]["reference_fvc"] < f["expected"]["min"] == 0.3
    assert f["expected"]["min_adjusted"] == pytest.approx(0.7 * f["observed"]["reference_fvc"], abs=1e-4)
    assert f["observed"]["fvc"] < 0.02
    unjudged = {u["unit"] for u in result["per_scenario"]["arid_sparse"]["unjudged"]}
    assert "planned:1" not in unjudged and "restored:1" not in unjudged   # judged, and found matching the ring


def test_a_bare_field_is_short_at_the_peak_and_the_harvest_is_no_disturbance(result):
    [f] = _flags(result, "double_crop").values()
    assert f["expected"]["reference"].startswith("cropland ring")
    assert f["observed"]["reference_fvc"] > 0.8 and f["observed"]["clear_observations"] >= 3
    assert not [u for u in result["per_scenario"]["double_crop"]["unjudged"] if u["reason"] == "LOW_CONFIDENCE"]


def test_parts_carry_the_part_polygon_and_area(result):
    fl = _flags(result, "parts")
    corner, strip = fl[("planned:1", "PARTIAL_RESTORATION")], fl[("planned:3", "PARTIAL_RESTORATION")]
    assert corner["observed"]["part_hm2"] == 0.81 and corner["observed"]["part_share"] == 0.36
    assert strip["observed"]["part_hm2"] == 0.75 and strip["observed"]["part_share"] == pytest.approx(1 / 3, abs=1e-4)
    assert ("planned:2", "PARTIAL_RESTORATION") not in fl       # scattered pixels, each under the MMU
