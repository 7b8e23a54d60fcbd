"""minewatch.synth.scenes: COGs and Earth Search v1-like items that a loader can trust."""
from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from rio_cogeo.cogeo import cog_validate

from minewatch.synth import scenes as s2

H = W = 300
BOUNDS = (400000.0, 4400000.0, 403000.0, 4403000.0)      # 3 km x 3 km in EPSG:32650
WHEN = datetime(2026, 7, 12, 3, 10, tzinfo=timezone.utc)
ASSETS = s2.BANDS_10M + s2.BANDS_20M
BAND_INDEX = {b: i for i, b in enumerate(s2.REFLECTANCE_BANDS)}
NOISE_MAX = s2.NOISE_SIGMA * s2.NOISE_CLIP_SIGMAS       # hard bound on the noise, reflectance
DY, DX = 24, 18                                          # shadow offset in 10 m px: 240 m north, 180 m west


def spec(**kw) -> s2.SceneSpec:
    base = dict(item_id="S2B_50TMK_20260712_0_L2A", datetime=WHEN, epsg=32650, bounds=BOUNDS,
                mgrs_tile="50TMK")
    base.update(kw)
    return s2.SceneSpec(**base)


def quadrants() -> tuple[np.ndarray, np.ndarray]:
    """NW pure vegetation, NE bare soil, SW rock, SE water."""
    fvc = np.zeros((H, W), np.float32)
    bg = np.full((H, W), s2.SOIL, np.uint8)
    fvc[:150, :150] = 1.0
    bg[150:, :150] = s2.ROCK
    bg[150:, 150:] = s2.WATER
    return fvc, bg


def soil() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((H, W), np.float32), np.full((H, W), s2.SOIL, np.uint8)


def read(item: pystac.Item, asset: str) -> np.ndarray:
    with rasterio.open(item.assets[asset].href) as src:
        return src.read(1)


def refl(item: pystac.Item, asset: str, offset: int = 1000) -> np.ndarray:
    return (read(item, asset).astype(np.float64) - offset) / 10000.0


def truth(band: str, fvc: float, bg: int) -> float:
    i = BAND_INDEX[band]
    return fvc * s2.END_MEMBERS["veg"][i] + (1 - fvc) * s2.END_MEMBERS[bg][i]


def sha(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def clear_item(tmp_path_factory):
    out = tmp_path_factory.mktemp("clear")
    fvc, bg = quadrants()
    return s2.write_scene(out, spec(seed=3), fvc, bg)


@pytest.fixture(scope="module")
def cloudy_item(tmp_path_factory):
    """Uniform bare soil under 30 % cloud: brightness alone tells cloud, shadow and ground apart."""
    out = tmp_path_factory.mktemp("cloudy")
    fvc, bg = soil()
    return s2.write_scene(out, spec(cloud_fraction=0.3, seed=11), fvc, bg)


# ---------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------

def test_every_asset_is_a_valid_cog(clear_item, cloudy_item):
    for item in (clear_item, cloudy_item):
        for a in ASSETS:
            href = item.assets[a].href
            assert Path(href).is_absolute() and Path(href).name == f"{a}.tif"
            assert Path(href).parent.name == item.id
            valid, errors, warnings = cog_validate(href)
            assert valid and not errors, (a, errors)
            with rasterio.open(href) as src:
                assert src.driver == "GTiff"
                assert src.compression.name.upper() == "DEFLATE"
                assert src.profile["tiled"] and src.block_shapes[0][0] < src.height
                assert src.overviews(1), f"{a}: no overviews"
                assert src.nodata == 0
                assert src.crs.to_epsg() == 32650
                assert src.dtypes[0] == ("uint8" if a == "scl" else "uint16")


def test_grid_and_20m_bands(clear_item):
    for a in ASSETS:
        with rasterio.open(clear_item.assets[a].href) as src:
            res = 10 if a in s2.BANDS_10M else 20
            assert src.res == (res, res)
            assert src.shape == (H * 10 // res, W * 10 // res)
            assert (src.bounds.left, src.bounds.bottom, src.bounds.right, src.bounds.top) == BOUNDS
            ext = clear_item.assets[a].extra_fields
            assert ext["proj:shape"] == list(src.shape)
            assert ext["proj:transform"] == list(src.transform)[:6]
            assert ext["raster:bands"][0]["spatial_resolution"] == res


def test_20m_reflectance_is_the_2x2_mean_of_the_10m_truth(tmp_path):
    # a 10 m checkerboard of pure vegetation and bare soil: every 20 m pixel is half and half
    fvc = ((np.add.outer(np.arange(H), np.arange(W)) % 2) == 0).astype(np.float32)
    bg = np.full((H, W), s2.SOIL, np.uint8)
    item = s2.write_scene(tmp_path, spec(seed=5), fvc, bg)
    for band in ("swir16", "swir22"):
        r = refl(item, band)
        assert r.shape == (H // 2, W // 2)
        expect = 0.5 * (truth(band, 1, s2.SOIL) + truth(band, 0, s2.SOIL))
        assert np.abs(r - expect).max() <= NOISE_MAX + 1e-4
        assert abs(r.mean() - expect) < 0.001
    # the 10 m bands keep the checkerboard
    nir = refl(item, "nir")
    assert abs(nir[fvc == 1].mean() - truth("nir", 1, s2.SOIL)) < 0.001
    assert abs(nir[fvc == 0].mean() - truth("nir", 0, s2.SOIL)) < 0.001


def test_same_inputs_give_byte_identical_files(tmp_path):
    fvc, bg = quadrants()
    sp = spec(cloud_fraction=0.25, seed=42)
    a = s2.write_scene(tmp_path / "a", sp, fvc, bg)
    first = {k: sha(a.assets[k].href) for k in ASSETS}
    time.sleep(1.1)                                    # a timestamp in the files would now differ
    a2 = s2.write_scene(tmp_path / "a", sp, fvc, bg)   # rewrite in place
    b = s2.write_scene(tmp_path / "b", sp, fvc, bg)    # and elsewhere
    assert {k: sha(a2.assets[k].href) for k in ASSETS} == first
    assert {k: sha(b.assets[k].href) for k in ASSETS} == first
    assert a.to_dict() == a2.to_dict()
    s2.write_collection(tmp_path / "c1", [a])
    s2.write_collection(tmp_path / "c2", [a2])
    for rel in ("collection.json", f"items/{sp.item_id}.json"):
        assert (tmp_path / "c1" / rel).read_bytes() == (tmp_path / "c2" / rel).read_bytes()
    # another seed gives other noise and other clouds
    c = s2.write_scene(tmp_path / "c", spec(cloud_fraction=0.25, seed=43), fvc, bg)
    assert sha(c.assets["red"].href) != first["red"]
    assert not np.array_equal(read(c, "scl"), read(a, "scl"))


# ---------------------------------------------------------------------------------------
# radiometry
# ---------------------------------------------------------------------------------------

def test_dn_is_reflectance_times_1e4_plus_1000(clear_item):
    assert clear_item.properties["s2:processing_baseline"] == "05.10"
    cases = [(slice(10, 140), slice(10, 140), 1.0, s2.SOIL),        # veg quadrant
             (slice(10, 140), slice(160, 290), 0.0, s2.SOIL),
             (slice(160, 290), slice(10, 140), 0.0, s2.ROCK),
             (slice(160, 290), slice(160, 290), 0.0, s2.WATER)]
    for band in s2.BANDS_10M:
        dn = read(clear_item, band).astype(np.int64)
        for rs, cs, f, bg in cases:
            expect = round(truth(band, f, bg) * 1e4) + 1000
            err = dn[rs, cs] - expect
            assert np.abs(err).max() <= NOISE_MAX * 1e4 + 1, (band, f, bg)
            assert abs(err.mean()) < 5                # unbiased: the offset is exactly 1000
            assert 10 < err.std() < 60                # and there is noise (sigma 40 DN)
    # one pixel, spelled out
    assert abs(int(read(clear_item, "red")[20, 20]) - (round(0.035 * 1e4) + 1000)) <= 161


def test_baseline_03_01_has_no_offset(tmp_path):
    fvc, bg = quadrants()
    item = s2.write_scene(tmp_path, spec(processing_baseline="03.01", seed=3), fvc, bg)
    red = read(item, "red").astype(np.int64)
    err = red[10:140, 160:290] - round(truth("red", 0, s2.SOIL) * 1e4)
    assert np.abs(err).max() <= NOISE_MAX * 1e4 + 1
    assert abs(err.mean()) < 5
    assert item.properties["s2:processing_baseline"] == "03.01"
    assert item.properties["earthsearch:boa_offset_applied"] is False
    assert item.assets["red"].extra_fields["raster:bands"][0]["offset"] == 0.0
    assert item.assets["scl"].extra_fields["raster:bands"][0] == {"nodata": 0, "data_type": "uint8",
                                                                 "spatial_resolution": 20}
    # water DN without the offset stays above 0 (0 is no data)
    assert read(item, "nir").min() >= 1


def test_baseline_compared_as_version_numbers():
    assert s2.baseline_has_offset("04.00")
    assert s2.baseline_has_offset("05.10") and s2.baseline_has_offset("10.00") and s2.baseline_has_offset("4.0")
    assert not s2.baseline_has_offset("03.99") and not s2.baseline_has_offset("02.14")
    with pytest.raises(ValueError):
        s2.baseline_has_offset("N0510")


def test_ndvi_vegetation_soil_rock_water(clear_item):
    red, nir = refl(clear_item, "red"), refl(clear_item, "nir")
    green, swir = refl(clear_item, "green"), refl(clear_item, "swir16")
    ndvi = (nir - red) / (nir + red)
    veg, bare = ndvi[10:140, 10:140].mean(), ndvi[10:140, 160:290].mean()
    rock, water = ndvi[160:290, 10:140].mean(), ndvi[160:290, 160:290].mean()
    assert 0.80 <= veg <= 0.86
    assert 0.10 <= bare <= 0.15
    assert rock < bare and water < 0
    assert 0.35 <= nir[10:140, 10:140].mean() <= 0.45 and 0.03 <= red[10:140, 10:140].mean() <= 0.05
    assert 0.15 <= red[10:140, 160:290].mean() <= 0.20 and 0.22 <= nir[10:140, 160:290].mean() <= 0.28
    assert 0.01 <= nir[160:290, 160:290].mean() <= 0.02
    # water: green above SWIR (MNDWI > 0), at 20 m
    g20 = green.reshape(H // 2, 2, W // 2, 2).mean(axis=(1, 3))
    assert (g20[80:145, 80:145] > swir[80:145, 80:145]).all()
    # bare soil and rock are brighter in SWIR than vegetation (BSI > 0 only off the canopy)
    assert swir[5:70, 80:145].mean() > swir[5:70, 5:70].mean()


# ---------------------------------------------------------------------------------------
# clouds, shadows, SCL
# ---------------------------------------------------------------------------------------

def test_scl_land_classes_on_a_clear_day(clear_item):
    scl = read(clear_item, "scl")
    assert scl.shape == (H // 2, W // 2)
    assert (scl[:75, :75] == 4).all()       # vegetation
    assert (scl[:75, 75:] == 5).all()       # bare soil: not vegetated, never masked
    assert (scl[75:, :75] == 5).all()       # rock
    assert (scl[75:, 75:] == 6).all()       # water
    assert clear_item.properties["eo:cloud_cover"] == 0.0
    assert clear_item.properties["s2:vegetation_percentage"] == 25.0


def test_scl_follows_fvc_and_background(tmp_path):
    # NDVI threshold 0.4 of the mix: fvc 0.1 stays bare, fvc 0.5 is vegetation; water under little cover stays water
    fvc = np.full((H, W), 0.1, np.float32)
    fvc[:, 150:] = 0.5
    bg = np.full((H, W), s2.SOIL, np.uint8)
    bg[200:, :] = s2.WATER
    fvc[200:, :] = 0.1
    scl = read(s2.write_scene(tmp_path, spec(), fvc, bg), "scl")
    assert (scl[:100, :75] == 5).all() and (scl[:100, 75:] == 4).all() and (scl[100:, :] == 6).all()


def test_clouds_and_shadows_are_labelled_where_they_were_made(cloudy_item):
    blue = refl(cloudy_item, "blue")                  # ground is bare soil: blue 0.10 +- 0.016
    soil_lo, soil_hi = truth("blue", 0, s2.SOIL) - NOISE_MAX, truth("blue", 0, s2.SOIL) + NOISE_MAX
    cloudy = blue > soil_hi + 1e-4                    # every cloud pixel, thin edges included
    # an opaque core is at least 0.40 * 1.02 bright; a thin edge blends at most that with the ground
    core_min = s2.CLOUD_BASE * s2.CLOUD_BAND_FACTOR[0] - NOISE_MAX
    surely_core = blue > core_min + 2 * NOISE_MAX + 1e-4
    maybe_core = blue >= core_min - 1e-4
    dark = blue < soil_lo - 1e-4                      # shadowed ground
    assert abs(cloudy.mean() - 0.30) < 0.005          # the requested cloud fraction
    assert blue[cloudy].max() <= 0.62 and surely_core.mean() > 0.1
    # shadows are the ground darkened by SHADOW_FACTOR, never under cloud
    assert dark.mean() > 0.02 and not (dark & cloudy).any()
    assert abs(blue[dark].mean() - s2.SHADOW_FACTOR * truth("blue", 0, s2.SOIL)) < 0.002
    # ... and fall to the north-west: the pixel 240 m south and 180 m east of each is cloudy
    rr, cc = np.nonzero(dark)
    inside = (rr + DY < H) & (cc + DX < W)
    assert inside.sum() > 100
    assert cloudy[rr[inside] + DY, cc[inside] + DX].all()
    # the opposite direction does not explain them
    rr2, cc2 = rr[(rr >= DY) & (cc >= DX)], cc[(rr >= DY) & (cc >= DX)]
    assert cloudy[rr2 - DY, cc2 - DX].mean() < 0.8

    scl = read(cloudy_item, "scl")
    blocks = lambda m: m.reshape(H // 2, 2, W // 2, 2)          # noqa: E731
    any_core, any_maybe, any_cloud, any_dark = (blocks(m).any(axis=(1, 3))
                                                for m in (surely_core, maybe_core, cloudy, dark))
    assert set(np.unique(scl)) <= {3, 5, 8, 9}
    assert (scl[any_core] == 9).all()                 # worst case: one opaque 10 m pixel is enough
    assert np.isin(scl[any_cloud], (8, 9)).all()
    assert any_maybe[scl == 9].all()
    assert any_cloud[scl == 8].all() and not any_core[scl == 8].any()
    assert (scl[any_dark & ~any_cloud] == 3).all() and any_dark[scl == 3].all()
    assert ((scl == 5) == ~(any_cloud | any_dark)).all()   # everything else is plain bare ground


def test_eo_cloud_cover_matches_the_written_scl(cloudy_item):
    scl = read(cloudy_item, "scl")
    p = cloudy_item.properties
    assert p["eo:cloud_cover"] == round(100.0 * np.isin(scl, (8, 9, 10)).mean(), 2)
    assert p["s2:cloud_shadow_percentage"] == round(100.0 * (scl == 3).mean(), 2)
    assert p["s2:high_proba_clouds_percentage"] == round(100.0 * (scl == 9).mean(), 2)
    assert 30.0 <= p["eo:cloud_cover"] <= 40.0      # 30 % at 10 m, a little more after worst-case 20 m


def test_overcast_scene(tmp_path):
    fvc, bg = quadrants()
    item = s2.write_scene(tmp_path, spec(cloud_fraction=1.0, seed=1), fvc, bg)
    scl = read(item, "scl")
    assert np.isin(scl, (8, 9)).all() and item.properties["eo:cloud_cover"] == 100.0
    b = refl(item, "blue")
    assert b.min() > 0.08 and b.max() < 0.62     # thin edges (opacity >= 0.2) over dark canopy stay dimmer
    assert (b > 0.35).mean() > 0.5


# ---------------------------------------------------------------------------------------
# optional cloud probability, and an SCL that misses thin cloud
# ---------------------------------------------------------------------------------------

def test_no_cloud_asset_unless_asked(cloudy_item):
    assert "cloud" not in cloudy_item.assets
    assert not (Path(cloudy_item.assets["red"].href).parent / "cloud.tif").exists()


def test_cloud_probability_is_the_worst_10m_opacity_and_changes_nothing_else(tmp_path, cloudy_item):
    fvc, bg = soil()
    item = s2.write_scene(tmp_path, spec(cloud_fraction=0.3, seed=11, cloud_probability=True), fvc, bg)
    for k in ASSETS:                                   # the same scene as without the option
        assert sha(item.assets[k].href) == sha(cloudy_item.assets[k].href), k
    a = item.assets["cloud"]
    assert a.roles == ["data", "cloud"] and a.extra_fields["raster:bands"][0]["data_type"] == "uint8"
    assert "nodata" not in a.extra_fields["raster:bands"][0]          # 0 % is a value
    assert a.extra_fields["proj:shape"] == [H // 2, W // 2]
    assert a.extra_fields["proj:transform"] == item.assets["scl"].extra_fields["proj:transform"]
    valid, errors, _ = cog_validate(a.href)
    assert valid and not errors
    with rasterio.open(a.href) as src:
        assert src.nodata is None and src.dtypes == ("uint8",)
        prob = src.read(1)
    scl = read(item, "scl")
    assert (prob[scl == 9] == 100).all()               # opaque cores
    assert (prob[np.isin(scl, (3, 5))] == 0).all()     # ground and shadow: no cloud at all
    edge = prob[scl == 8]
    assert edge.min() >= 20 and (edge < 100).mean() > 0.3   # thin edges: opacity 0.2 .. 1


def test_scl_can_miss_thin_cloud_that_the_probability_sees(tmp_path, cloudy_item):
    fvc, bg = soil()
    item = s2.write_scene(tmp_path, spec(cloud_fraction=0.3, seed=11, cloud_probability=True,
                                         scl_missed_alpha=0.6), fvc, bg)
    for k in s2.REFLECTANCE_BANDS:                     # the pixels still carry the cloud
        assert sha(item.assets[k].href) == sha(cloudy_item.assets[k].href), k
    full, scl, prob = read(cloudy_item, "scl"), read(item, "scl"), read(item, "cloud")
    missed = (full == 8) & (scl != 8)
    # labelled as what lies beneath: bare soil, or a shadow sharing the 20 m pixel
    assert missed.mean() > 0.01 and np.isin(scl[missed], (3, 5)).all()
    assert (prob[missed] > 0).all() and (prob[missed] <= 60).all()  # only the faint ones
    assert (scl[full != 8] == full[full != 8]).all() and (scl[prob > 60] == full[prob > 60]).all()
    assert item.properties["eo:cloud_cover"] < cloudy_item.properties["eo:cloud_cover"]
    assert item.properties["eo:cloud_cover"] == round(100.0 * np.isin(scl, (8, 9, 10)).mean(), 2)
    coll = json.loads((s2.write_collection(tmp_path / "cat", [item]) / "collection.json").read_text())
    assert "cloud" in coll["item_assets"]


# ---------------------------------------------------------------------------------------
# STAC
# ---------------------------------------------------------------------------------------

def test_item_has_the_earth_search_v1_shape(clear_item):
    d = clear_item.to_dict()
    p = d["properties"]
    assert d["id"] == "S2B_50TMK_20260712_0_L2A" and d["collection"] == "sentinel-2-l2a"
    assert p["datetime"].startswith("2026-07-12T03:10:00")
    assert p["platform"] == "sentinel-2b" and p["constellation"] == "sentinel-2" and p["instruments"] == ["msi"]
    assert p["proj:code"] == "EPSG:32650" and "proj:epsg" not in p
    assert (p["mgrs:utm_zone"], p["mgrs:latitude_band"], p["mgrs:grid_square"]) == (50, "T", "MK")
    assert p["s2:mgrs_tile"] == "50TMK"
    assert p["earthsearch:boa_offset_applied"] is False
    assert p["minewatch:synthetic"] is True
    # footprint in lon/lat around 115.85 E 39.76 N (UTM 50N, 400-403 km E, 4400-4403 km N)
    lon0, lat0, lon1, lat1 = d["bbox"]
    assert 115.8 < lon0 < lon1 < 115.9 and 39.7 < lat0 < lat1 < 39.8
    assert d["geometry"]["type"] == "Polygon"
    ring = np.array(d["geometry"]["coordinates"][0])
    assert (ring[0] == ring[-1]).all()
    assert np.allclose([ring[:, 0].min(), ring[:, 1].min(), ring[:, 0].max(), ring[:, 1].max()], d["bbox"])
    assert set(d["assets"]) == set(ASSETS)
    for k, a in d["assets"].items():
        assert a["type"] == "image/tiff; application=geotiff; profile=cloud-optimized"
        rb = a["raster:bands"][0]
        assert rb["nodata"] == 0
        if k == "scl":
            assert a["roles"] == ["data"] and "scale" not in rb and "offset" not in rb
        else:
            assert a["roles"] == ["data", "reflectance"]
            assert rb == {"nodata": 0, "data_type": "uint16", "spatial_resolution": 10 if k in s2.BANDS_10M else 20,
                          "scale": 0.0001, "offset": -0.1}
            assert a["eo:bands"][0]["common_name"] == k
    assert s2.write_scene.__name__ and s2._platform("S2A_50TMK_20260717_0_L2A") == "sentinel-2a"


def test_item_round_trips_and_assets_are_readable(clear_item, tmp_path):
    cat = s2.write_collection(tmp_path / "catalog", [clear_item])
    assert cat == tmp_path / "catalog"
    path = cat / "items" / f"{clear_item.id}.json"
    raw = path.read_text(encoding="utf-8")
    d = json.loads(raw)
    assert raw == json.dumps(d, sort_keys=True, indent=1, ensure_ascii=False) + "\n"    # sorted keys
    item = pystac.Item.from_dict(d)
    assert item.id == clear_item.id and item.collection_id == "sentinel-2-l2a"
    assert item.datetime == WHEN
    assert item.properties["proj:code"] == "EPSG:32650"
    for k in ASSETS:
        with rasterio.open(item.assets[k].href) as src:
            assert src.read(1).shape == tuple(item.assets[k].extra_fields["proj:shape"])
    coll = pystac.Collection.from_file(str(cat / "collection.json"))
    assert coll.id == "sentinel-2-l2a" and coll.license
    assert set(coll.extra_fields["item_assets"]) == set(ASSETS)
    assert coll.extent.temporal.intervals[0][0] == WHEN
    assert coll.extent.spatial.bboxes[0] == pytest.approx(clear_item.bbox)


def test_collection_extent_spans_the_items(tmp_path):
    fvc, bg = soil()
    items = []
    for i, (dx, days) in enumerate(((0, 0), (3000, 5), (-3000, 10))):
        b = (BOUNDS[0] + dx, BOUNDS[1], BOUNDS[2] + dx, BOUNDS[3])
        sat = "S2A" if i % 2 else "S2B"
        d = WHEN + timedelta(days=days)
        items.append(s2.write_scene(tmp_path / "scenes", spec(item_id=f"{sat}_50TMK_{d:%Y%m%d}_0_L2A", datetime=d,
                                                              bounds=b, seed=i), fvc, bg))
    cat = s2.write_collection(tmp_path / "cat", items[::-1])
    assert sorted(p.name for p in (cat / "items").glob("*.json")) == sorted(f"{it.id}.json" for it in items)
    c = json.loads((cat / "collection.json").read_text())
    assert c["extent"]["temporal"]["interval"][0][0].startswith("2026-07-12T03:10:00")
    assert c["extent"]["temporal"]["interval"][0][1].startswith("2026-07-22T03:10:00")
    bb = c["extent"]["spatial"]["bbox"][0]
    assert bb[0] == min(it.bbox[0] for it in items) and bb[2] == max(it.bbox[2] for it in items)
    assert c["summaries"]["platform"] == ["sentinel-2a", "sentinel-2b"]
    with pytest.raises(ValueError, match="duplicate"):
        s2.write_collection(tmp_path / "dup", [items[0], items[0]])
    with pytest.raises(ValueError):
        s2.write_collection(tmp_path / "none", [])


# ---------------------------------------------------------------------------------------
# validation and speed
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("kw, fvc_shape, bg_value, match", [
    ({}, (H, W + 2), 0, "shape"),
    ({}, (W, H - 10), 0, "shape"),
    ({}, (H, W), 3, "SOIL"),
    ({"bounds": (400010.0, 4400000.0, 403010.0, 4403000.0)}, (H, W), 0, "multiples of 20"),
    ({"datetime": datetime(2026, 7, 12, 3, 10)}, (H, W), 0, "timezone"),
    ({"epsg": 32651}, (H, W), 0, "does not match"),
    ({"epsg": 4326}, (H, W), 0, "UTM"),
    ({"mgrs_tile": "50-TMK"}, (H, W), 0, "mgrs_tile"),
    ({"processing_baseline": "5"}, (H, W), 0, "processing_baseline"),
    ({"cloud_fraction": 1.5}, (H, W), 0, "cloud_fraction"),
    ({"scl_missed_alpha": -0.1}, (H, W), 0, "scl_missed_alpha"),
    ({"scl_missed_alpha": float("nan")}, (H, W), 0, "scl_missed_alpha"),
    ({"item_id": "a/b"}, (H, W), 0, "item_id"),
])
def test_bad_inputs_raise_clear_errors(tmp_path, kw, fvc_shape, bg_value, match):
    with pytest.raises(ValueError, match=match):
        s2.write_scene(tmp_path, spec(**kw), np.zeros(fvc_shape, np.float32), np.full(fvc_shape, bg_value, np.uint8))


def test_bad_fvc_values_raise(tmp_path):
    bg = np.zeros((H, W), np.uint8)
    for bad in (np.full((H, W), 1.2, np.float32), np.full((H, W), np.nan, np.float32), np.zeros((H, W), np.int32)):
        with pytest.raises(ValueError, match="fvc"):
            s2.write_scene(tmp_path, spec(), bad, bg)
    with pytest.raises(ValueError, match="background"):
        s2.write_scene(tmp_path, spec(), np.zeros((H, W), np.float32), np.zeros((H, W), np.float32))


@pytest.mark.parametrize("side_m", [20, 40, 6000])
def test_tiny_and_large_scenes_are_valid_cogs(tmp_path, side_m):
    n = side_m // 10
    sp = spec(bounds=(BOUNDS[0], BOUNDS[1], BOUNDS[0] + side_m, BOUNDS[1] + side_m), cloud_fraction=0.5, seed=1)
    item = s2.write_scene(tmp_path, sp, np.full((n, n), 0.5, np.float32), np.zeros((n, n), np.uint8))
    for a in ("red", "scl"):
        valid, errors, _ = cog_validate(item.assets[a].href)
        assert valid and not errors
    assert read(item, "scl").shape == (n // 2, n // 2)
