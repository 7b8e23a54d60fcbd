"""Scenario items (synth.scenarios, through synth.scenes) pass stac-validator, offline."""
from __future__ import annotations

import pytest
from tests.support.stac_check import stac_validator, validate_in_process

from minewatch.synth import scenarios as sc

pytestmark = pytest.mark.skipif(stac_validator() is None, reason="stac-validator (PyPI) not installed")


def test_scenario_items_are_valid_stac(tmp_path):
    root = sc.write_scenarios(tmp_path, [s for s in sc.SCENARIOS if s.name == "pit_lake"])
    items = sorted((root / "catalog" / "items").glob("*.json"))
    assert len(items) == len(sc.scene_dates())
    assert validate_in_process(items) == {}
