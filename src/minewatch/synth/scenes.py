"""Deterministic Sentinel-2 L2A-like scenes: Cloud-Optimized GeoTIFFs + Earth Search v1 items.

The caller describes the ground at one date on a 10 m UTM grid (vegetation fraction and
the background under it) and `write_scene` turns it into what a Sentinel-2 L2A download
from Earth Search v1 looks like to the pipeline:

- one COG per asset (`blue green red nir` at 10 m, `swir16 swir22 scl` at 20 m), DEFLATE,
  tiled, with overviews, nodata 0, byte-identical for identical inputs;
- digital numbers as the ESA products carry them: DN = round(reflectance * 10000), plus
  1000 from processing baseline 04.00 on (the BOA_ADD_OFFSET, docs/domain.md §4); DN 0 = no data;
- a Sen2Cor-like scene classification (SCL) that agrees with the pixels: clouds (9 cores,
  8 thin edges), their shadows (3), water (6), vegetation (4), bare soil and rock (5);
  optionally (`SceneSpec.scl_missed_alpha`) the faintest cloud edges labelled as the ground
  beneath, as Sen2Cor does with thin cloud;
- optionally (`SceneSpec.cloud_probability`) a cloud-probability asset `cloud` like Sen2Cor's
  MSK_CLDPRB: uint8 percent at 20 m, the cloud opacity of the worst 10 m pixel of each 20 m
  pixel (0 clear, 100 core), with no nodata value (0 is a valid probability); it sees the
  edges the SCL missed;
- a STAC item shaped like Earth Search v1 `sentinel-2-l2a` (pystac 1.15 writes `proj:code`),
  with `earthsearch:boa_offset_applied: false` (the offset is still in the data) and
  `eo:cloud_cover` counted from the SCL actually written.

Reflectance model (linear mixing, noise-free "truth", then sensor noise):

    ground  = fvc * END_MEMBERS["veg"] + (1 - fvc) * END_MEMBERS[background]
    ground *= SHADOW_FACTOR                  where a cloud's shadow falls (and no cloud)
    toa     = alpha * cloud + (1 - alpha) * ground     alpha: cloud opacity (0 clear, 1 core)
    DN      = round((toa + noise) * 10000) [+ 1000]

The 20 m bands are 2x2 means of the 10 m truth (before noise); the SCL is classified at
10 m and aggregated to 20 m (worst case for clouds and shadows, majority for the rest).

Everything here is synthetic. Items carry `minewatch:synthetic: true` so that nobody
mistakes them for real acquisitions.
"""
from __future__ import annotations

import json
import math
import re
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pystac
import rasterio
from pystac.utils import datetime_to_str
from rasterio.transform import Affine
from rasterio.warp import transform as warp_transform

BANDS_10M = ("blue", "green", "red", "nir")      # B02 B03 B04 B08
BANDS_20M = ("swir16", "swir22", "scl")         # B11 B12 SCL
REFLECTANCE_BANDS = BANDS_10M + BANDS_20M[:2]   # the six reflectance assets, in this order
SOIL, ROCK, WATER = 0, 1, 2                       # background under the vegetation fraction

# ---------------------------------------------------------------------------------------
# End-member surface reflectances (0..1), one value per band in REFLECTANCE_BANDS order:
#                 blue   green  red    nir    swir16 swir22
# veg             0.030  0.060  0.035  0.400  0.200  0.100   NDVI 0.839 (grass/shrub canopy)
# SOIL            0.100  0.140  0.180  0.235  0.300  0.260   NDVI 0.133 (bare loess / spoil)
# ROCK            0.200  0.230  0.260  0.300  0.330  0.300   NDVI 0.071 (bright, flat: quarry faces, waste rock)
# WATER           0.060  0.070  0.040  0.015  0.008  0.005   NDVI -0.45, MNDWI 0.79 (pit ponds)
# Values are typical of published Sentinel-2 L2A spectra for northern China (green
# vegetation, loess soils, limestone/sandstone rock, clear-to-slightly-turbid water);
# they are chosen to hit the textbook contrasts, not fitted to any one site.
# ---------------------------------------------------------------------------------------
END_MEMBERS: dict[object, tuple[float, ...]] = {
    "veg": (0.030, 0.060, 0.035, 0.400, 0.200, 0.100),
    SOIL: (0.100, 0.140, 0.180, 0.235, 0.300, 0.260),
    ROCK: (0.200, 0.230, 0.260, 0.300, 0.330, 0.300),
    WATER: (0.060, 0.070, 0.040, 0.015, 0.008, 0.005),
}

# Snow and ice (optional, `write_scene(snow=...)`): fresh snow replaces the ground (bright in
# the visible, dark in SWIR: NDSI 0.83); where the ground is WATER the cover is lake ice (dark
# in NIR and SWIR like the water under it, bright in green: NDSI 0.83). SCL 11 over both.
#                 blue   green  red    nir    swir16 swir22
SNOW = (0.850, 0.850, 0.820, 0.750, 0.080, 0.050)
ICE = (0.350, 0.320, 0.280, 0.090, 0.030, 0.020)
# Terrain shadow (optional, `write_scene(terrain_shadow=...)`): the slope sees only diffuse
# skylight, ground x TERRAIN_SHADOW_FACTOR, plus the sky's path radiance (bluest first), so NDVI
# falls (vegetation 0.84 -> ~0.5) and a shaded unit reads thin; SCL 2 (dark area) over it.
TERRAIN_SHADOW_FACTOR = 0.08
TERRAIN_SHADOW_DIFFUSE = (0.020, 0.016, 0.012, 0.008, 0.004, 0.002)

# Sensor/texture noise: additive Gaussian in reflectance, sigma NOISE_SIGMA, cut at
# NOISE_CLIP_SIGMAS sigmas so "the DN equals the truth within noise" is a hard bound.
NOISE_SIGMA = 0.004
NOISE_CLIP_SIGMAS = 4.0

# Clouds: reflectance of an opaque cloud core is CLOUD_BASE + CLOUD_RANGE * thickness
# (thickness 0..1 inside the core) times a near-flat per-band factor; thin edges blend
# the cloud over the ground with opacity CLOUD_EDGE_ALPHA_MIN..1.
CLOUD_BASE, CLOUD_RANGE = 0.40, 0.18
CLOUD_BAND_FACTOR = (1.02, 1.00, 0.99, 0.98, 0.90, 0.78)   # core reflectance 0.31..0.59
CLOUD_EDGE_ALPHA_MIN = 0.2
CLOUD_CORE_SHARE = 0.7           # share of the cloudy area that is opaque core (SCL 9)
CLOUD_SCALE_M = 160.0            # spacing of the coarse random lattice of the cloud field
CLOUD_DETAIL_M = 40.0            # spacing of the finer octave (ragged edges)

# Cloud shadows: the cloud mask moved by SHADOW_OFFSET_M = (east, north) metres. With the
# sun in the south-east (azimuth ~143 deg, mid-morning overpass at 35-45 deg N) shadows fall
# to the north-west: 180 m west and 240 m north, 300 m in all. Kept short on purpose so that
# shadows land inside mine-sized windows; multiples of 20 m so they stay on the 20 m grid.
SHADOW_OFFSET_M = (-180.0, 240.0)
SHADOW_FACTOR = 0.30             # ground reflectance multiplier under a shadow
SUN_AZIMUTH_DEG = round((math.degrees(math.atan2(-SHADOW_OFFSET_M[0], -SHADOW_OFFSET_M[1]))) % 360, 2)

# Sen2Cor scene classification codes (docs/domain.md §4)
SCL_NODATA, SCL_DARK, SCL_SHADOW, SCL_VEG, SCL_BARE, SCL_WATER = 0, 2, 3, 4, 5, 6
SCL_CLOUD_MEDIUM, SCL_CLOUD_HIGH, SCL_CIRRUS, SCL_SNOW = 8, 9, 10, 11
SCL_VEG_NDVI = 0.40              # Sen2Cor-like NDVI threshold for class 4

COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
COLLECTION_ID = "sentinel-2-l2a"
COG_BLOCKSIZE = 128
DN_SCALE, DN_OFFSET = 10000, 1000

# Earth Search v1 asset metadata (B02..B12 wavelengths in micrometres, Sentinel-2A MSI)
_ASSET_META = {
    "blue": ("B02", "Blue (band 2)", 0.49, 0.098),
    "green": ("B03", "Green (band 3)", 0.56, 0.045),
    "red": ("B04", "Red (band 4)", 0.665, 0.038),
    "nir": ("B08", "NIR 1 (band 8)", 0.842, 0.145),
    "swir16": ("B11", "SWIR 1 (band 11)", 1.61, 0.143),
    "swir22": ("B12", "SWIR 2 (band 12)", 2.19, 0.242),
}
_STAC_EXTENSIONS = [
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "https://stac-extensions.github.io/grid/v1.1.0/schema.json",
    "https://stac-extensions.github.io/mgrs/v1.0.0/schema.json",
    "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "https://stac-extensions.github.io/view/v1.0.0/schema.json",
]
_LICENSE_HREF = "https://sentinel.esa.int/documents/247904/690755/Sentinel_Data_Legal_Notice"
_MGRS_RE = re.compile(r"^(\d{1,2})([C-HJ-NP-X])([A-HJ-NP-Z]{2})$")
_BASELINE_RE = re.compile(r"^(\d{1,2})\.(\d{1,2})$")


@dataclass(frozen=True)
class SceneSpec:
    item_id: str                 # e.g. "S2B_50TMK_20260712_0_L2A"
    datetime: datetime           # tz-aware UTC
    epsg: int                    # UTM, e.g. 32650
    bounds: tuple[float, float, float, float]   # UTM metres (minx, miny, maxx, maxy), multiples of 20
    mgrs_tile: str               # e.g. "50TMK"
    processing_baseline: str = "05.10"   # >= "04.00": the +1000 DN offset is baked into the data
    cloud_fraction: float = 0.0  # share of the scene under cloud (0 = clear)
    seed: int = 0
    cloud_probability: bool = False   # also write the cloud-probability asset `cloud`
    # Cloud edges fainter than this opacity (0..1) are labelled in the SCL as the ground under
    # them (Sen2Cor misses thin cloud); the pixels and the cloud probability still carry the
    # cloud. 0: every cloudy pixel is labelled 8 or 9.
    scl_missed_alpha: float = 0.0


# ---------------------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------------------

def baseline_has_offset(baseline: str) -> bool:
    """True when the processing baseline is 04.00 or newer (compared as version numbers)."""
    m = _BASELINE_RE.match(str(baseline).strip())
    if not m:
        raise ValueError(f"processing_baseline must look like '05.10', got {baseline!r}")
    return (int(m.group(1)), int(m.group(2))) >= (4, 0)


def _parse_mgrs(tile: str) -> tuple[int, str, str]:
    m = _MGRS_RE.match(tile or "")
    if not m:
        raise ValueError(f"mgrs_tile must look like '50TMK', got {tile!r}")
    zone = int(m.group(1))
    if not 1 <= zone <= 60:
        raise ValueError(f"mgrs_tile {tile!r}: UTM zone {zone} is not 1..60")
    return zone, m.group(2), m.group(3)


def _check_spec(spec: SceneSpec) -> tuple[int, int]:
    """Validate the spec; return the 10 m grid shape (H, W)."""
    if not spec.item_id or not re.fullmatch(r"[A-Za-z0-9_.-]+", spec.item_id):
        raise ValueError(f"item_id must be a plain file name (letters, digits, _ . -), got {spec.item_id!r}")
    if not isinstance(spec.datetime, datetime) or spec.datetime.tzinfo is None \
            or spec.datetime.utcoffset() is None:
        raise ValueError(f"{spec.item_id}: datetime must be timezone-aware (UTC), got {spec.datetime!r}")
    zone, band, _ = _parse_mgrs(spec.mgrs_tile)
    north = band >= "N"
    if not ((32601 <= spec.epsg <= 32660) or (32701 <= spec.epsg <= 32760)):
        raise ValueError(f"{spec.item_id}: epsg must be a WGS 84 / UTM zone (326xx or 327xx), got {spec.epsg}")
    if spec.epsg % 100 != zone or (spec.epsg < 32700) != north:
        raise ValueError(f"{spec.item_id}: epsg {spec.epsg} does not match MGRS tile {spec.mgrs_tile!r} "
                         f"(zone {zone}, {'north' if north else 'south'})")
    baseline_has_offset(spec.processing_baseline)
    for name in ("cloud_fraction", "scl_missed_alpha"):
        v = float(getattr(spec, name))
        if not (0.0 <= v <= 1.0):
            raise ValueError(f"{spec.item_id}: {name} must be within 0..1, got {getattr(spec, name)!r}")
    if len(spec.bounds) != 4:
        raise ValueError(f"{spec.item_id}: bounds must be (minx, miny, maxx, maxy)")
    for v in spec.bounds:
        if not math.isfinite(v) or abs(v / 20.0 - round(v / 20.0)) > 1e-6:
            raise ValueError(f"{spec.item_id}: bounds must be multiples of 20 m, got {spec.bounds!r}")
    minx, miny, maxx, maxy = (round(v) for v in spec.bounds)
    if maxx <= minx or maxy <= miny:
        raise ValueError(f"{spec.item_id}: bounds must have minx < maxx and miny < maxy, got {spec.bounds!r}")
    return (maxy - miny) // 10, (maxx - minx) // 10


def _check_ground(spec: SceneSpec, shape: tuple[int, int], fvc: np.ndarray,
                  background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    fvc = np.asarray(fvc)
    background = np.asarray(background)
    for name, a in (("fvc", fvc), ("background", background)):
        if a.shape != shape:
            raise ValueError(f"{spec.item_id}: {name} has shape {a.shape}, the 10 m grid of bounds "
                             f"{spec.bounds} needs (H, W) = {shape}")
    if not np.issubdtype(fvc.dtype, np.floating):
        raise ValueError(f"{spec.item_id}: fvc must be a float array (0..1), got {fvc.dtype}")
    fvc = fvc.astype(np.float32, copy=False)
    if not np.isfinite(fvc).all():
        raise ValueError(f"{spec.item_id}: fvc has NaN or infinite values")
    lo, hi = float(fvc.min()), float(fvc.max())
    if lo < -1e-6 or hi > 1 + 1e-6:
        raise ValueError(f"{spec.item_id}: fvc must be within 0..1, got {lo:.4g}..{hi:.4g}")
    fvc = np.clip(fvc, 0.0, 1.0)
    if not np.issubdtype(background.dtype, np.integer):
        raise ValueError(f"{spec.item_id}: background must be an integer array of SOIL/ROCK/WATER, "
                         f"got {background.dtype}")
    bad = (background < 0) | (background > WATER)
    if bad.any():
        raise ValueError(f"{spec.item_id}: background values must be SOIL={SOIL}, ROCK={ROCK} or WATER={WATER}; "
                         f"found {sorted(set(np.unique(background[bad]).tolist()))}")
    return fvc, background.astype(np.uint8, copy=False)


# ---------------------------------------------------------------------------------------
# physics-ish
# ---------------------------------------------------------------------------------------

def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed) & 0xFFFFFFFFFFFFFFFF, stream])))


def _interp_matrix(n_out: int, n_in: int, step: float) -> np.ndarray:
    """(n_out, n_in) linear-interpolation weights: output pixel i sits at i/step lattice units."""
    pos = (np.arange(n_out, dtype=np.float64) + 0.5) / step
    i0 = np.clip(np.floor(pos).astype(int), 0, n_in - 2)
    t = pos - i0
    m = np.zeros((n_out, n_in), dtype=np.float64)
    rows = np.arange(n_out)
    m[rows, i0] = 1.0 - t
    m[rows, i0 + 1] = t
    return m


def _smooth_field(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Smooth random field on an (h, w) 10 m grid: two octaves of bilinear lattice noise."""
    out = np.zeros((h, w), dtype=np.float64)
    for spacing_m, amp in ((CLOUD_SCALE_M, 1.0), (CLOUD_DETAIL_M, 0.35)):
        step = spacing_m / 10.0                       # 10 m pixels per lattice cell
        nh, nw = int(math.ceil(h / step)) + 2, int(math.ceil(w / step)) + 2
        lattice = rng.standard_normal((nh, nw))
        if spacing_m == CLOUD_SCALE_M:                # soften the coarse lattice a little more
            lattice = (lattice + np.roll(lattice, 1, 0) + np.roll(lattice, 1, 1)
                       + np.roll(lattice, (1, 1), (0, 1))) / 2.0
        out += amp * (_interp_matrix(h, nh, step) @ lattice @ _interp_matrix(w, nw, step).T)
    return out


def _top_threshold(values: np.ndarray, k: int) -> float:
    """The k-th largest value (so that values >= it are k pixels, ties aside); +inf for k = 0."""
    flat = values.ravel()
    if k <= 0:
        return math.inf
    if k >= flat.size:
        return float(flat.min())
    return float(np.partition(flat, flat.size - k)[flat.size - k])


@dataclass(frozen=True)
class _Clouds:
    alpha: np.ndarray        # (H, W) float32 opacity 0..1
    core: np.ndarray         # (H, W) bool, opaque cores
    edge: np.ndarray         # (H, W) bool, thin edges
    shadow: np.ndarray       # (H, W) bool, shadow on the ground and not under cloud
    thickness: np.ndarray    # (H, W) float32 0..1 inside the cores


def _clouds(spec: SceneSpec, h: int, w: int) -> _Clouds | None:
    cf = float(spec.cloud_fraction)
    if cf <= 0.0:
        return None
    dx_px = int(round(SHADOW_OFFSET_M[0] / 10.0))          # east (+) / west (-)
    dy_px = int(round(SHADOW_OFFSET_M[1] / 10.0))          # north (+) / south (-)
    # Shadow at pixel p comes from the cloud at p - offset: north-up rows grow southward,
    # so the cloud sits dy_px rows further south and -dx_px columns further east.
    sr, sc = dy_px, -dx_px
    ph, pw = h + abs(sr), w + abs(sc)
    r0, c0 = max(0, -sr), max(0, -sc)                      # scene window inside the padded field
    field = _smooth_field(_rng(spec.seed, 1), ph, pw)
    scene = field[r0:r0 + h, c0:c0 + w]
    n = h * w
    k = int(round(cf * n))
    thr = _top_threshold(scene, k)
    thr_core = _top_threshold(scene, int(round(CLOUD_CORE_SHARE * k)))
    cloudy = scene >= thr
    core = scene >= thr_core
    edge = cloudy & ~core
    alpha = np.zeros((h, w), dtype=np.float32)
    alpha[core] = 1.0
    if edge.any():
        span = (thr_core - thr) if math.isfinite(thr_core) else (float(scene.max()) - thr)
        span = span if span > 0 else 1.0
        alpha[edge] = CLOUD_EDGE_ALPHA_MIN + (1 - CLOUD_EDGE_ALPHA_MIN) * np.clip((scene[edge] - thr) / span, 0, 1)
    thickness = np.zeros((h, w), dtype=np.float32)
    if core.any():
        top = float(scene.max())
        thickness[core] = np.clip((scene[core] - thr_core) / max(top - thr_core, 1e-9), 0, 1)
    caster = field[r0 + sr:r0 + sr + h, c0 + sc:c0 + sc + w]   # the field seen from the shadow
    shadow = (caster >= thr) & ~cloudy
    return _Clouds(alpha, core, edge, shadow, thickness)


def _block_mean(a: np.ndarray) -> np.ndarray:
    h, w = a.shape
    return a.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3), dtype=np.float64).astype(np.float32)


def _cloud_prob(clouds: _Clouds | None, h: int, w: int) -> np.ndarray:
    """Cloud probability in percent at 20 m: the opacity of the most cloudy 10 m pixel."""
    if clouds is None:
        return np.zeros((h // 2, w // 2), dtype=np.uint8)
    worst = clouds.alpha.reshape(h // 2, 2, w // 2, 2).max(axis=(1, 3))
    return np.rint(worst.astype(np.float64) * 100.0).astype(np.uint8)


def _scl(red: np.ndarray, nir: np.ndarray, background: np.ndarray, clouds: _Clouds | None,
         missed_alpha: float = 0.0, snow: np.ndarray | None = None,
         terrain_shadow: np.ndarray | None = None) -> np.ndarray:
    """Sen2Cor-like SCL at 20 m from the 10 m clear-sky ground reflectance and the clouds;
    cloud edges fainter than `missed_alpha` keep the ground's class. Any terrain-shadowed
    10 m pixel makes its 20 m pixel 2, any snowy one 11 (then cloud shadow and clouds on top)."""
    ndvi = (nir - red) / np.maximum(nir + red, 1e-6)
    land = np.where(ndvi >= SCL_VEG_NDVI, SCL_VEG, np.where(background == WATER, SCL_WATER, SCL_BARE)).astype(np.uint8)
    h, w = land.shape
    blocks = land.reshape(h // 2, 2, w // 2, 2)
    # majority of the four 10 m pixels; ties go to the first of (5, 4, 6): bare before
    # vegetation, so that a 2:2 block never over-claims restored cover
    counts = np.stack([(blocks == c).sum(axis=(1, 3)) for c in (SCL_BARE, SCL_VEG, SCL_WATER)])
    scl = np.array([SCL_BARE, SCL_VEG, SCL_WATER], dtype=np.uint8)[np.argmax(counts, axis=0)]

    def anyb(m: np.ndarray) -> np.ndarray:
        return m.reshape(h // 2, 2, w // 2, 2).any(axis=(1, 3))
    if terrain_shadow is not None:
        scl[anyb(terrain_shadow)] = SCL_DARK
    if snow is not None:
        scl[anyb(snow)] = SCL_SNOW
    if clouds is not None:
        # worst case: any cloudy / shadowed 10 m pixel marks the 20 m pixel
        scl[anyb(clouds.shadow)] = SCL_SHADOW
        scl[anyb(clouds.edge & (clouds.alpha >= np.float32(missed_alpha)))] = SCL_CLOUD_MEDIUM
        scl[anyb(clouds.core)] = SCL_CLOUD_HIGH
    return scl


def _to_dn(refl: np.ndarray, offset: int) -> np.ndarray:
    dn = np.rint(refl.astype(np.float64) * DN_SCALE) + offset
    return np.clip(dn, 1, 65535).astype(np.uint16)


def _noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    n = rng.standard_normal(shape, dtype=np.float32) * np.float32(NOISE_SIGMA)
    lim = np.float32(NOISE_CLIP_SIGMAS * NOISE_SIGMA)
    return np.clip(n, -lim, lim)


def _write_cog(path: Path, arr: np.ndarray, transform: Affine, epsg: int, categorical: bool,
               nodata: int | None = 0) -> None:
    h, w = arr.shape
    # overviews down to about one block, at least one level (none only for a 1-pixel image)
    side = max(h, w)
    levels = min(max(1, math.ceil(math.log2(side / COG_BLOCKSIZE))) if side > 1 else 0, int(math.log2(side)))
    profile = dict(
        driver="COG", width=w, height=h, count=1, dtype=arr.dtype, crs=f"EPSG:{epsg}",
        transform=transform, nodata=nodata, compress="DEFLATE", predictor="NO" if categorical else "STANDARD",
        blocksize=COG_BLOCKSIZE, overview_resampling="nearest" if categorical else "average",
    )
    if levels:
        profile["overview_count"] = levels
    else:
        profile["overviews"] = "NONE"
    tmp = path.with_name(path.name + ".part")
    with rasterio.Env(GDAL_NUM_THREADS="1"):
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(arr, 1)
    tmp.replace(path)


# ---------------------------------------------------------------------------------------
# STAC
# ---------------------------------------------------------------------------------------

def _platform(item_id: str) -> str:
    m = re.match(r"^S2([A-D])_", item_id)
    if m:
        return f"sentinel-2{m.group(1).lower()}"
    return "sentinel-2a" if zlib.crc32(item_id.encode()) % 2 == 0 else "sentinel-2b"


def _asset_defs(has_offset: bool, cloud: bool = False) -> dict[str, dict]:
    """Asset fields shared by items and the collection's item_assets (no href, no grid);
    `cloud`: with the cloud-probability asset."""
    out = {}
    for key in REFLECTANCE_BANDS:
        band, desc, cw, fwhm = _ASSET_META[key]
        res = 10 if key in BANDS_10M else 20
        out[key] = {
            "title": f"{desc} - {res}m",
            "type": COG_MEDIA_TYPE,
            "roles": ["data", "reflectance"],
            "gsd": res,
            "eo:bands": [{"name": key, "common_name": key, "description": desc,
                          "center_wavelength": cw, "full_width_half_max": fwhm}],
            "raster:bands": [{"nodata": 0, "data_type": "uint16", "spatial_resolution": res,
                              "scale": 1.0 / DN_SCALE, "offset": -DN_OFFSET / DN_SCALE if has_offset else 0.0}],
        }
    out["scl"] = {
        "title": "Scene classification map (SCL)",
        "type": COG_MEDIA_TYPE,
        "roles": ["data"],
        "gsd": 20,
        "raster:bands": [{"nodata": 0, "data_type": "uint8", "spatial_resolution": 20}],
    }
    if cloud:
        out["cloud"] = {
            "title": "Cloud probabilities",
            "type": COG_MEDIA_TYPE,
            "roles": ["data", "cloud"],
            "gsd": 20,
            "raster:bands": [{"data_type": "uint8", "spatial_resolution": 20, "unit": "%"}],
        }
    return out


def _footprint(epsg: int, bounds: tuple[float, float, float, float]) -> tuple[dict, list[float]]:
    minx, miny, maxx, maxy = bounds
    # counter-clockwise ring (RFC 7946), edges densified so the lon/lat polygon follows
    # the projected square closely
    n = 8
    xs = ([minx + (maxx - minx) * i / n for i in range(n)] + [maxx] * n
          + [maxx - (maxx - minx) * i / n for i in range(n)] + [minx] * n)
    ys = ([miny] * n + [miny + (maxy - miny) * i / n for i in range(n)]
          + [maxy] * n + [maxy - (maxy - miny) * i / n for i in range(n)])
    lons, lats = warp_transform(f"EPSG:{epsg}", "EPSG:4326", xs, ys)
    ring = [[round(x, 9), round(y, 9)] for x, y in zip(lons, lats)]
    ring.append(ring[0])
    bbox = [min(p[0] for p in ring), min(p[1] for p in ring), max(p[0] for p in ring), max(p[1] for p in ring)]
    return {"type": "Polygon", "coordinates": [ring]}, bbox


def _scl_stats(scl: np.ndarray) -> dict[str, float]:
    counts = np.bincount(scl.ravel(), minlength=12).astype(np.float64)
    valid = counts[1:].sum()
    pct = (lambda *cs: round(float(sum(counts[c] for c in cs) / valid * 100.0), 2)) if valid else (lambda *cs: 0.0)
    return {
        "eo:cloud_cover": pct(SCL_CLOUD_MEDIUM, SCL_CLOUD_HIGH, SCL_CIRRUS),
        "s2:nodata_pixel_percentage": round(float(counts[0] / counts.sum() * 100.0), 2),
        "s2:cloud_shadow_percentage": pct(SCL_SHADOW),
        "s2:vegetation_percentage": pct(SCL_VEG),
        "s2:not_vegetated_percentage": pct(SCL_BARE),
        "s2:water_percentage": pct(SCL_WATER),
        "s2:medium_proba_clouds_percentage": pct(SCL_CLOUD_MEDIUM),
        "s2:high_proba_clouds_percentage": pct(SCL_CLOUD_HIGH),
        "s2:thin_cirrus_percentage": pct(SCL_CIRRUS),
    }


# ---------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------

def _check_layer(spec: SceneSpec, shape: tuple[int, int], name: str, a: np.ndarray | None) -> np.ndarray | None:
    """An optional (H, W) bool layer (snow, terrain shadow); None or all False gives None."""
    if a is None:
        return None
    a = np.asarray(a)
    if a.shape != shape or a.dtype != bool:
        raise ValueError(f"{spec.item_id}: {name} must be a bool array of shape {shape}, got {a.dtype} {a.shape}")
    return a if a.any() else None


def write_scene(out_dir: Path, spec: SceneSpec, fvc: np.ndarray, background: np.ndarray,
                snow: np.ndarray | None = None, terrain_shadow: np.ndarray | None = None) -> pystac.Item:
    """Write one scene as seven COGs under out_dir/<item_id>/ and return its STAC item.

    `fvc` float (H, W) 0..1 and `background` integer (H, W) of SOIL/ROCK/WATER lie on the
    north-up 10 m grid of `spec.bounds` (H = height / 10, W = width / 10). Optional bool (H, W)
    `snow` (snow on land, ice on WATER) and `terrain_shadow` (the slope in shadow) change only
    the pixels they cover: without them (or all False) the files are those of before. Same
    inputs give byte-identical files. Raises ValueError on inconsistent inputs.
    """
    h, w = _check_spec(spec)
    fvc, background = _check_ground(spec, (h, w), fvc, background)
    snow = _check_layer(spec, (h, w), "snow", snow)
    terrain_shadow = _check_layer(spec, (h, w), "terrain_shadow", terrain_shadow)
    has_offset = baseline_has_offset(spec.processing_baseline)
    offset = DN_OFFSET if has_offset else 0

    em = np.array([END_MEMBERS[SOIL], END_MEMBERS[ROCK], END_MEMBERS[WATER]], dtype=np.float32)  # (3, 6)
    veg = np.array(END_MEMBERS["veg"], dtype=np.float32)
    bg_refl = em[background]                                   # (H, W, 6)
    f = fvc[..., None]
    truth = f * veg + (1.0 - f) * bg_refl                      # ground reflectance, (H, W, 6)
    clouds = _clouds(spec, h, w)
    # land classes from the clear ground
    scl = _scl(truth[..., 2], truth[..., 3], background, clouds, float(spec.scl_missed_alpha),
               snow, terrain_shadow)
    if snow is not None:
        cover = np.where((background == WATER)[..., None], np.array(ICE, np.float32), np.array(SNOW, np.float32))
        truth = np.where(snow[..., None], cover, truth).astype(np.float32)
    if terrain_shadow is not None:
        shaded = truth * np.float32(TERRAIN_SHADOW_FACTOR) + np.array(TERRAIN_SHADOW_DIFFUSE, np.float32)
        truth = np.where(terrain_shadow[..., None], shaded, truth).astype(np.float32)
    if clouds is not None:
        truth[clouds.shadow] *= np.float32(SHADOW_FACTOR)
        cloud_refl = (CLOUD_BASE + CLOUD_RANGE * clouds.thickness)[..., None] * np.array(CLOUD_BAND_FACTOR, np.float32)
        a = clouds.alpha[..., None]
        truth = a * cloud_refl + (1.0 - a) * truth

    minx, miny, maxx, maxy = (float(round(v)) for v in spec.bounds)
    rng = _rng(spec.seed, 2)
    arrays: dict[str, tuple[np.ndarray, Affine, bool]] = {}
    t10 = Affine(10.0, 0.0, minx, 0.0, -10.0, maxy)
    t20 = Affine(20.0, 0.0, minx, 0.0, -20.0, maxy)
    for i, key in enumerate(REFLECTANCE_BANDS):
        if key in BANDS_10M:
            refl, tr = truth[..., i], t10
        else:
            refl, tr = _block_mean(truth[..., i]), t20
        arrays[key] = (_to_dn(refl + _noise(rng, refl.shape), offset), tr, False)
    arrays["scl"] = (scl, t20, True)
    keys: tuple[str, ...] = BANDS_10M + BANDS_20M
    if spec.cloud_probability:
        arrays["cloud"] = (_cloud_prob(clouds, h, w), t20, True)
        keys += ("cloud",)

    scene_dir = Path(out_dir) / spec.item_id
    scene_dir.mkdir(parents=True, exist_ok=True)
    defs = _asset_defs(has_offset, cloud=spec.cloud_probability)
    assets = {}
    for key in keys:
        arr, tr, categorical = arrays[key]
        path = (scene_dir / f"{key}.tif").resolve()
        _write_cog(path, arr, tr, spec.epsg, categorical, nodata=None if key == "cloud" else 0)
        assets[key] = {"href": str(path), **defs[key],
                       "proj:shape": [int(arr.shape[0]), int(arr.shape[1])],
                       "proj:transform": [float(v) for v in tuple(tr)[:6]]}

    zone, lat_band, square = _parse_mgrs(spec.mgrs_tile)
    geometry, bbox = _footprint(spec.epsg, (minx, miny, maxx, maxy))
    dt = spec.datetime.astimezone(timezone.utc)
    props = {
        "datetime": datetime_to_str(dt),
        "platform": _platform(spec.item_id),
        "constellation": "sentinel-2",
        "instruments": ["msi"],
        **_scl_stats(scl),
        "proj:code": f"EPSG:{spec.epsg}",
        "mgrs:utm_zone": zone,
        "mgrs:latitude_band": lat_band,
        "mgrs:grid_square": square,
        "grid:code": f"MGRS-{zone}{lat_band}{square}",
        "s2:mgrs_tile": spec.mgrs_tile,
        "s2:processing_baseline": spec.processing_baseline,
        "s2:product_type": "S2MSI2A",
        "view:sun_azimuth": SUN_AZIMUTH_DEG,
        "earthsearch:boa_offset_applied": False,
        "minewatch:synthetic": True,
        "minewatch:seed": int(spec.seed),
    }
    d = {
        "type": "Feature",
        "stac_version": pystac.get_stac_version(),
        "stac_extensions": list(_STAC_EXTENSIONS),
        "id": spec.item_id,
        "geometry": geometry,
        "bbox": bbox,
        "properties": props,
        # rel=collection: STAC 1.1 requires it whenever `collection` is set; relative to
        # write_collection's layout (items/<id>.json beside ../collection.json)
        "links": [{"rel": "collection", "href": "../collection.json", "type": "application/json"},
                  {"rel": "license", "href": _LICENSE_HREF}],
        "assets": assets,
        "collection": COLLECTION_ID,
    }
    return pystac.Item.from_dict(d, preserve_dict=True, migrate=False)


def _dump(obj: dict, path: Path) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(obj, sort_keys=True, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def write_collection(catalog_dir: Path, items: list[pystac.Item]) -> Path:
    """Write catalog_dir/collection.json and catalog_dir/items/<item_id>.json; return catalog_dir.

    The collection's extent covers the given items. Item files of other ids already in
    items/ are left alone (the loader reads whatever is there).
    """
    items = list(items)
    if not items:
        raise ValueError("write_collection needs at least one item")
    ids = [it.id for it in items]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ValueError(f"duplicate item ids: {dup}")
    catalog_dir = Path(catalog_dir)
    (catalog_dir / "items").mkdir(parents=True, exist_ok=True)

    bboxes = np.array([it.bbox for it in items], dtype=np.float64)
    # pystac types datetime Optional (for ranges); every synthetic scene has one
    times = sorted(it.datetime.astimezone(timezone.utc) for it in items)  # type: ignore[union-attr]
    has_offset = all(baseline_has_offset(it.properties.get("s2:processing_baseline", "05.10")) for it in items)
    coll = {
        "type": "Collection",
        "stac_version": pystac.get_stac_version(),
        "stac_extensions": [
            "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
            "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
        ],
        "id": COLLECTION_ID,
        "title": "Sentinel-2 Level-2A (synthetic, minewatch)",
        "description": ("Synthetic Sentinel-2 L2A-like scenes written by minewatch.synth.scenes in the "
                        "shape of Earth Search v1 sentinel-2-l2a: COG assets blue, green, red, nir (10 m), "
                        "swir16, swir22, scl (20 m); DN with the +1000 offset from baseline 04.00."),
        "keywords": ["sentinel", "copernicus", "esa", "msi", "l2a", "synthetic"],
        "license": "proprietary",
        "links": [{"rel": "license", "href": _LICENSE_HREF,
                   "title": "Legal notice on the use of Copernicus Sentinel Data"}],
        "extent": {
            "spatial": {"bbox": [[float(bboxes[:, 0].min()), float(bboxes[:, 1].min()),
                                  float(bboxes[:, 2].max()), float(bboxes[:, 3].max())]]},
            "temporal": {"interval": [[datetime_to_str(times[0]), datetime_to_str(times[-1])]]},
        },
        "summaries": {
            "platform": sorted({it.properties["platform"] for it in items}),
            "constellation": ["sentinel-2"],
            "instruments": ["msi"],
        },
        "item_assets": _asset_defs(has_offset, cloud=any("cloud" in it.assets for it in items)),
    }
    pystac.Collection.from_dict(coll, migrate=False)   # fails loudly if the dict is not a collection
    for it in sorted(items, key=lambda i: i.id):
        if it.collection_id != COLLECTION_ID:
            raise ValueError(f"item {it.id} belongs to collection {it.collection_id!r}, not {COLLECTION_ID!r}")
        _dump(it.to_dict(include_self_link=False, transform_hrefs=False), catalog_dir / "items" / f"{it.id}.json")
    _dump(coll, catalog_dir / "collection.json")
    return catalog_dir
