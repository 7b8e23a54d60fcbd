"""The items write_scene/write_collection write pass stac-validator (offline schemas), links included."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np
import pytest
from tests.support.stac_check import stac_validator, validate_items

from minewatch.synth import scenes as s2

pytestmark = pytest.mark.skipif(stac_validator() is None, reason="stac-validator (PyPI) not installed")


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    out = tmp_path_factory.mktemp("stac")
    items = []
    for day in (12, 17):
        spec = s2.SceneSpec(item_id=f"S2B_50TMK_202607{day}_0_L2A",
                            datetime=datetime(2026, 7, day, 3, 10, tzinfo=timezone.utc), epsg=32650,
                            bounds=(400000.0, 4400000.0, 400600.0, 4400600.0), mgrs_tile="50TMK")
        items.append(s2.write_scene(out / "scenes", spec, np.zeros((60, 60), np.float32),
                                    np.full((60, 60), s2.SOIL, np.uint8)))
    return s2.write_collection(out / "catalog", items)


def test_items_are_valid_stac_with_every_extension(catalog):
    paths = sorted((catalog / "items").glob("*.json"))
    reports = validate_items(paths)
    assert len(reports) == 2
    for r in reports:
        assert r["valid_stac"] is True and r["returncode"] == 0, r
        assert r["version"] == "1.1.0" and len(r["schema"]) == 7          # core + 6 extensions


def test_collection_link_resolves_to_the_collection(catalog):
    for p in (catalog / "items").glob("*.json"):
        item = json.loads(p.read_text(encoding="utf-8"))
        link = next(link for link in item["links"] if link["rel"] == "collection")
        target = json.loads((p.parent / link["href"]).read_text(encoding="utf-8"))
        assert target["type"] == "Collection" and target["id"] == item["collection"]


def test_validator_rejects_an_item_without_the_link(catalog, tmp_path):
    item = json.loads(next((catalog / "items").glob("*.json")).read_text(encoding="utf-8"))
    item["links"] = [link for link in item["links"] if link["rel"] != "collection"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(item), encoding="utf-8")
    [r] = validate_items([bad])
    assert r["valid_stac"] is False and r["returncode"] == 1 and "rel='collection'" in r["error_message"]
