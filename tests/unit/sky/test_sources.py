"""Items from real Earth Search v1 and Planetary Computer JSON normalise to one shape."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pystac
import pytest
from tests.support.paths import SHARED

from minewatch.sky import cube, sources
from minewatch.sky.sources import BANDS, DN_OFFSET_PROP, normalise_item, normalise_items

FIXTURES = Path("/work/shared/fixtures/stac-items")
if not FIXTURES.is_dir():  # the shared copy lives next to the repository in other checkouts
    FIXTURES = SHARED / "fixtures" / "stac-items"
pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason="shared STAC item fixtures not found")


def _es_dicts() -> list[dict]:
    return json.loads((FIXTURES / "earth_search_v1_s2l2a_from_eodm.json").read_text())["features"]


def _pc_dicts() -> list[dict]:
    return json.loads((FIXTURES / "sg_sentinel-2-l2a-pc.json").read_text())


def _es(migrate=False):
    return [pystac.Item.from_dict(copy.deepcopy(d), migrate=migrate) for d in _es_dicts()]


def _pc(migrate=False):
    return [pystac.Item.from_dict(copy.deepcopy(d), migrate=migrate) for d in _pc_dicts()]


def _props_without_offset_flag(item: pystac.Item) -> pystac.Item:
    it = item.clone()
    it.properties.pop("earthsearch:boa_offset_applied", None)
    return it


@pytest.mark.parametrize("migrate", [False, True])
def test_both_catalogues_give_the_same_bands_and_projection(migrate):
    es = [normalise_item(it, "earth-search") for it in _es(migrate)]
    pc = [normalise_item(it, "planetary-computer") for it in _pc(migrate)]
    for it in es + pc:
        assert set(BANDS) <= set(it.assets)
        # stackstac reads proj:epsg, pystac 1.15 writes proj:code: both are there and agree
        assert it.properties["proj:code"] == f"EPSG:{it.properties['proj:epsg']}"
        assert isinstance(it.properties["proj:epsg"], int)
    assert es[0].properties["proj:epsg"] == 32639
    assert {it.properties["proj:epsg"] for it in pc} == {32646, 32647}
    # PC's B11 became swir16, at its own 20 m grid; the 10 m red stayed 10 m
    p = pc[0]
    assert p.assets["swir16"].href.endswith("_B11_20m.tif")
    assert p.assets["swir16"].extra_fields["proj:shape"] == [5490, 5490]
    assert p.assets["red"].href.endswith("_B04_10m.tif") and p.assets["scl"].href.endswith("_SCL_20m.tif")
    assert "B04" not in p.assets and "B11" not in p.assets and "SCL" not in p.assets
    assert "B05" in p.assets       # assets we do not use are left alone
    assert es[0].assets["nir"].href.endswith("/B08.tif")


def test_normalising_does_not_touch_the_input_and_keeps_raster_bands():
    raw = _es()[0]
    before = raw.to_dict(transform_hrefs=False)
    it = normalise_item(raw, "earth-search")
    assert raw.to_dict(transform_hrefs=False) == before
    # raster:bands kept as published (offset -0.1 declared) - but never used to rescale
    assert it.assets["red"].extra_fields["raster:bands"][0]["offset"] == -0.1
    assert it.properties[sources.SOURCE_PROP] == "earth-search"


def test_offsets_are_consistent_across_catalogues():
    es = [normalise_item(it, "earth-search") for it in _es()]
    pc = [normalise_item(it, "planetary-computer") for it in _pc()]
    # Earth Search flags these (baseline 05.09) as already shifted: not shifted again.
    assert [it.properties["earthsearch:boa_offset_applied"] for it in es] == [True] * 3
    assert [it.properties[DN_OFFSET_PROP] for it in es] == [0.0] * 3
    # PC publishes ESA's DN unchanged and has no flag: baseline 05.10 -> 1000.
    assert [it.properties[DN_OFFSET_PROP] for it in pc] == [1000.0] * 4
    # The same baseline without the flag gets the baseline rule in both catalogues.
    es_noflag = normalise_item(_props_without_offset_flag(_es()[0]), "earth-search")
    assert es_noflag.properties[DN_OFFSET_PROP] == pc[0].properties[DN_OFFSET_PROP] == 1000.0
    # and the loader reads the decision instead of deciding again
    for it in es + pc:
        assert cube.reflectance_offset(it) == it.properties[DN_OFFSET_PROP]


def test_offset_is_never_applied_twice():
    it = normalise_item(_es()[0], "earth-search")
    assert cube.reflectance_offset(it) == 0.0
    # normalising an already normalised item decides the same, it does not subtract again
    again = normalise_item(it, "local")
    assert again.properties[DN_OFFSET_PROP] == 0.0
    # a flag explicitly false and baseline >= 04.00: the offset is still in the data
    d = _es_dicts()[0]
    d["properties"]["earthsearch:boa_offset_applied"] = False
    assert normalise_item(pystac.Item.from_dict(d), "earth-search").properties[DN_OFFSET_PROP] == 1000.0


@pytest.mark.parametrize("baseline,offset", [("05.10", 1000.0), ("04.00", 1000.0), ("03.01", 0.0), ("02.14", 0.0)])
def test_pc_items_follow_the_baseline_rule(baseline, offset):
    d = _pc_dicts()[0]
    d["properties"]["s2:processing_baseline"] = baseline
    assert normalise_item(pystac.Item.from_dict(d), "planetary-computer").properties[DN_OFFSET_PROP] == offset


def test_baseline_from_the_product_name_when_the_property_is_missing():
    d = _pc_dicts()[0]
    del d["properties"]["s2:processing_baseline"]
    d["properties"]["datetime"] = "2019-07-01T03:00:00Z"     # before 04.00: the date cannot decide
    it = pystac.Item.from_dict(d)
    assert sources.processing_baseline(it) == (5, 10)     # s2:product_uri ..._N0510_...
    for k in ("s2:product_uri", "s2:granule_id", "s2:datastrip_id", "s2:datatake_id"):
        del d["properties"][k]
    it = pystac.Item.from_dict(d)
    assert sources.processing_baseline(it) == (5, 10)     # ..._N0510_... in the asset hrefs
    assert normalise_item(it, "planetary-computer").properties[DN_OFFSET_PROP] == 1000.0
    for a in d["assets"].values():
        a["href"] = a["href"].replace("_N0510_", "_")
    it = pystac.Item.from_dict(d)
    with pytest.raises(ValueError, match="processing baseline"):
        normalise_item(it, "planetary-computer")
    assert normalise_items([it], "planetary-computer") == []   # left out, not loaded wrongly
    d["properties"]["datetime"] = "2023-07-01T03:00:00Z"     # after 04.00 started: must have it
    assert normalise_item(pystac.Item.from_dict(d), "planetary-computer").properties[DN_OFFSET_PROP] == 1000.0


def test_missing_band_is_named():
    d = _pc_dicts()[0]
    del d["assets"]["B11"]
    with pytest.raises(ValueError, match=r"swir16 \(B11\)"):
        normalise_item(pystac.Item.from_dict(d), "planetary-computer")


def test_sign_hook_is_applied_without_network():
    seen = []

    def sign(item: pystac.Item) -> pystac.Item:
        seen.append(item.id)
        for a in item.assets.values():
            a.href += "?st=2024&sig=test"
        return item

    src = sources.get_source("planetary-computer", sign=sign)
    it = normalise_item(_pc()[0], src)
    assert seen == [it.id]
    assert it.assets["red"].href.endswith("_B04_10m.tif?st=2024&sig=test")


def test_cloud_probability_only_when_asked_and_available():
    d = _es_dicts()[0]
    d["assets"]["cloud"] = dict(d["assets"]["scl"], href="https://example.invalid/CLD.tif")
    it = pystac.Item.from_dict(d)
    assert sources.CLOUD_PROB not in normalise_item(it, "earth-search").assets
    assert normalise_item(it, "earth-search", cloud_prob=True).assets[sources.CLOUD_PROB].href.endswith("CLD.tif")
    # PC has no cloud-probability asset: asking changes nothing
    assert sources.CLOUD_PROB not in normalise_item(_pc()[0], "planetary-computer", cloud_prob=True).assets


def test_unknown_source():
    with pytest.raises(ValueError, match="known"):
        sources.get_source("sentinel-hub")


def test_items_from_both_catalogues_build_a_stackstac_grid_without_network():
    # stackstac only reads metadata here (no pixels are computed): the explicit grid works with
    # the normalised items of either catalogue and puts 20 m bands on the 10 m grid.
    from minewatch.sky.cube import Grid
    es = normalise_item(_es()[0], "earth-search")
    x0, y0 = 250000, 2050000
    g = Grid(32639, (x0, y0, x0 + 2560, y0 + 2560), 10)
    da = cube.load_window([es], g)
    assert da.shape == (1, 7, 256, 256) and list(da.band.values) == list(BANDS)
    assert str(da.id.values[0]) == es.id
    pc = normalise_item(_pc()[0], "planetary-computer")
    x0, y0 = 420000, 9000000
    da = cube.load_window([pc], Grid(32647, (x0, y0, x0 + 1280, y0 + 1280), 10))
    assert da.shape == (1, 7, 128, 128) and str(da.id.values[0]) == pc.id
