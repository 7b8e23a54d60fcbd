"""Every item of the bundled sample passes stac-validator (offline schemas in tests/data)."""
from __future__ import annotations

import pytest
from tests.support.paths import REPO
from tests.support.stac_check import stac_validator, validate_in_process

from minewatch.synth import sample

pytestmark = pytest.mark.skipif(stac_validator() is None, reason="stac-validator (PyPI) not installed")


def test_every_sample_item_is_valid_stac():
    catalog_dir = sample.ensure_sample(REPO / "sample_scenes")
    items = sorted((catalog_dir / "items").glob("*.json"))
    assert len(items) == 258
    assert validate_in_process(items) == {}
