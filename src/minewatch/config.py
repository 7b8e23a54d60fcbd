"""One validated place for configuration: a YAML file read into pydantic models.

Relative paths in the file are resolved against the file's own folder, so a config
can be run from anywhere. Environment variables override the file (for containers):
`MINEWATCH_<SECTION>__<KEY>`, e.g. `MINEWATCH_RUN__MAX_CONCURRENT_MINES=4` or
`MINEWATCH_CATALOG__URL=...`; an environment variable beats the file, the file beats the
default. Nothing reads the environment anywhere else.
"""
from __future__ import annotations

import re
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class ConfigError(Exception):
    """A config file that is missing or does not validate; the message says which and why."""


def packaged(name: str) -> Path:
    """A file shipped in the package (minewatch/data/NAME): what a run needs, wherever it is installed."""
    return Path(str(resources.files("minewatch").joinpath("data", name)))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CatalogSettings(_Strict):
    url: str = "http://127.0.0.1:8082"          # STAC API root
    collection: str = "sentinel-2-l2a"          # the STAC collection of Sentinel-2 L2A scenes
    max_cloud_cover: float = Field(80.0, ge=0, le=100)   # scene-level eo:cloud_cover filter
    buffer_m: float = Field(300.0, ge=0)         # search/load window around the boundary
    timeout_s: float = Field(30.0, gt=0)        # every HTTP call to the STAC API
    # Which catalogue layout `url` serves (asset keys, offsets, signing: minewatch.sky.sources).
    # With source earth-search or planetary-computer and no `url` in the file, the public URL is used.
    source: Literal["earth-search", "planetary-computer", "local"] = "local"
    page_size: int = Field(100, ge=1, le=1000)   # items per search page
    retries: int = Field(3, ge=0, le=10)         # per HTTP call, on 429/5xx, dropped connections, timeouts
    backoff_s: float = Field(1.0, ge=0)          # first retry wait; doubles each retry
    max_search_s: float = Field(300.0, gt=0)     # one mine's whole search, retries included
    # None: send eo:cloud_cover as a STAC `query` only if the API declares that conformance class;
    # True: never send it (API claims it but ignores it); False: always send it. Checked here anyway.
    client_side_cloud_filter: bool | None = None
    cloud_probability: bool = False              # also load the source's cloud-probability asset if it has one
    # every COG read (minewatch.sky.reader.gdal_env): GDAL's own per-request timeout and retries of 429/5xx
    gdal_http_timeout_s: int = Field(30, gt=0)
    gdal_http_max_retry: int = Field(3, ge=0, le=10)        # GDAL_HTTP_MAX_RETRY
    gdal_http_retry_delay_s: float = Field(2.0, ge=0)       # GDAL_HTTP_RETRY_DELAY, seconds


class LocalCatalogSettings(_Strict):
    """The loopback pgstac + stac-fastapi server (`minewatch catalog up`)."""
    data_dir: Path = Path(".minewatch/catalog")   # the postgres cluster and server logs
    pg_port: int = 54329                          # postgres on 127.0.0.1
    api_port: int = 8082                          # the STAC API on 127.0.0.1


class ImagerySettings(_Strict):
    resolution: float = Field(10.0, gt=0)    # metres per pixel of the window cube
    # SCL classes masked (docs/domain.md §4): never 5 (bare ground is the signal)
    mask_classes: tuple[int, ...] = (0, 1, 3, 8, 9, 10)
    mask_dilation_px: int = Field(2, ge=0)   # masked pixels grow by this many pixels (cloud edges)
    chunk_time: int = Field(16, ge=1)        # time steps per dask chunk: memory per read
    # edge (px) of the pixel store's spatial chunks (sky.pixels: 1 step x all bands x this x this):
    # a per-pixel computation reads one such tile of every step; a change starts each mine's store afresh
    store_chunk_px: int = Field(512, ge=16)
    # side (px) of the spatial tiles a window's per-pixel evidence is computed on, each with its
    # whole time axis (assess.pixelstats): peak memory ~ chunk_px² x steps, not the window; a
    # window up to this side is one tile (read once); on several tiles the rules that read the
    # whole window (cropland peak dates, the stable ring's level, the sparse bare line) take up
    # to four passes, each reading its tile again, best at a multiple of `imagery.store_chunk_px`
    # (a tile then reads whole store chunks)
    chunk_px: int = Field(512, ge=16)
    # Also mask pixels whose cloud probability (percent) exceeds this, before the dilation: it
    # catches thin cloud edges SCL calls clear. Needs catalog.cloud_probability and a source with
    # the asset; pixels without a probability keep the SCL decision. None: SCL only.
    cloud_prob_max: float | None = Field(None, ge=0, le=100)
    # SCL classes that are cloud, shadow or snow (2 terrain shadow, 3 cloud shadow, 8/9 cloud, 10
    # cirrus, 11 snow): the evaluation asks whether a false flag's scenes had them over the flag
    cloud_shadow_classes: tuple[int, ...] = (2, 3, 8, 9, 10, 11)
    # Snow and ice (docs/assessment.md §4a) are masked on every date and counted per unit (series
    # `snow_fraction`). SCL classes that are snow or ice (11):
    snow_classes: tuple[int, ...] = (11,)
    # Snow where SCL misses it: NDSI = (green - swir16) / (green + swir16) above this (0.42, Sentinel
    # Hub's Sentinel-2 NDSI script; MOD10 uses 0.4), with snow_nir_min and snow_green_min
    ndsi_min: float = Field(0.42, ge=-1, le=1)
    snow_nir_min: float = Field(0.11, ge=0)     # snow test: NIR reflectance above this (MOD10_L2; not water)
    snow_green_min: float = Field(0.10, ge=0)   # snow test: green reflectance above this (MOD10_L2; not dark)
    # Ice on a pit lake: NDSI above ndsi_min and green reflectance above this, whatever the NIR (ice
    # and wet snow on water are dark in NIR; open water is under ~0.1 in green)
    ice_green_min: float = Field(0.20, ge=0)
    # Terrain shadow (§4a) is masked per date, so a unit or pixel is judged on its illuminated
    # dates only. SCL classes (2: dark area / topographic shadow):
    terrain_shadow_classes: tuple[int, ...] = (2,)
    # Shadow where SCL misses it: NIR reflectance under this, with dark_visible_max and dark_ndwi_max
    dark_nir_max: float = Field(0.06, ge=0)
    dark_visible_max: float = Field(0.05, ge=0)   # shadow test: blue, green and red reflectance all under this
    # shadow test: NDWI (green - nir) / (green + nir) at most this; above it a dark pixel is water
    # (McFeeters' NDWI: open water ~0.6, shaded ground ~0)
    dark_ndwi_max: float = Field(0.3, ge=-1, le=1)

    @field_validator("mask_classes", "snow_classes", "terrain_shadow_classes")
    @classmethod
    def _no_bare(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if 5 in v:
            raise ValueError("SCL class 5 (not vegetated) must not be masked: bare ground is the signal")
        if any(c < 0 or c > 11 for c in v):
            raise ValueError("SCL classes are 0..11")
        return v


class IndexSettings(_Strict):
    """End-members of the dimidiate pixel model: FVC = (NDVI - soil) / (veg - soil)."""
    ndvi_soil: float = 0.05                  # NDVI of bare soil (FVC 0)
    ndvi_veg: float = 0.80                   # NDVI of full vegetation cover (FVC 1)


class DisturbanceSettings(_Strict):
    """Change detection (docs/assessment.md): same-season baseline, persistence, MMU."""
    ndvi_drop: float = Field(0.25, gt=0)      # baseline-minus-current NDVI that counts as loss
    bare_ndvi: float = 0.2                    # current NDVI at or below this is bare
    min_clear_obs: int = Field(3, ge=1)       # persistence: clear observations confirming loss
    min_area_hm2: float = Field(0.2, ge=0)    # minimum mapping unit (0.2 ha in GFW alerts = 0.2 hm²)
    baseline_years: int = Field(1, ge=1, le=5)  # same season of this many earlier years form the baseline
    out_of_boundary: bool = True              # also look for loss outside the boundary (search buffer)
    damage_tolerance: float = Field(0.2, ge=0)  # bare area over declared damage may exceed it by this share


class ReferenceSettings(_Strict):
    """The natural-vegetation ring around each mine (reference normalisation)."""
    enabled: bool = True                      # normalise by the natural-vegetation ring
    inner_m: float = Field(100.0, ge=0)       # ring starts this far outside the boundary
    outer_m: float = Field(600.0, gt=0)       # ... and ends here
    # ring pixels are natural ground by stability, not by an NDVI floor (a desert ring is sparse):
    stable_std_max: float = Field(0.12, gt=0)   # NDVI std over the baseline season's clear dates at most this
    level_share: float = Field(0.5, ge=0, le=1)  # baseline median NDVI >= this share of the ring's (roads, pits out)
    # where the ring is under a unit's FVC minimum in both seasons (sparse natural cover), a unit
    # reaching this share of the ring's cover is not short (bar = min(min x factor, share x ring))
    sparse_share: float = Field(0.7, gt=0, le=1)
    # bare ground (damage excess) must be this much under the ring's season NDVI: where the ring
    # itself is near the bare line (desert steppe) matching it is not bare
    sparse_ndvi_gap: float = Field(0.05, ge=0)
    min_pixels: int = Field(200, ge=1)        # fewer usable ring pixels: no reference
    min_clear_fraction: float = Field(0.5, gt=0, le=1)  # a date counts for the ring if this much is clear
    min_factor: float = Field(0.4, gt=0, le=1)  # lowest allowed (this season / baseline season) factor


class CroplandSettings(_Strict):
    """Cropland (耕地 01xx) judged at the crop's peak, not after harvest (assess/cropland.py)."""
    enabled: bool = True                      # off: fields are judged over the whole season like grass
    land_class_prefix: str = "01"             # target classes judged at the cropland ring's peak
    green_ndvi_min: float = 0.5               # a field: a baseline-year date at least this green ...
    harvest_ndvi_max: float = 0.2             # ... followed by a date at most this (harvest, ploughing)
    peak_share: float = Field(0.75, gt=0, le=1)  # peak dates: the cropland ring's FVC >= this share of its season max


class PartsSettings(_Strict):
    """A unit judged by its parts as well as its mean (assess/parts.py, PARTIAL_RESTORATION)."""
    enabled: bool = True                      # off: units are judged by their mean only
    min_area_hm2: float = Field(0.1, ge=0)    # a contiguous bare part this large (hm², 10 px at 10 m) ...
    min_share: float = Field(0.2, ge=0, le=1)  # ... and this share of the unit is reported
    bare_fvc: float = Field(0.2, ge=0, le=1)  # a pixel's season-median FVC under this is bare (soil reads ~0.1)


class ConfidenceSettings(_Strict):
    """Confidence classes (low | high | highest) as GFW alerts; see assess/confidence.py."""
    report_min: str = Field("high", pattern=r"^(low|high|highest)$")   # lower ones are held back
    fvc_margin: float = Field(0.05, ge=0)     # margin (FVC) a high flag needs beyond its threshold
    water_margin: float = Field(0.10, ge=0)   # margin (water share) likewise
    agree_high: float = Field(0.6, ge=0, le=1)     # share of clear dates on the flag's side: high
    agree_highest: float = Field(0.8, ge=0, le=1)  # ... highest (also needs 2x obs and 2x margin)


class PhenologySettings(_Strict):
    """The season window checked against the reference ring's own peak each year (assess/season.py)."""
    enabled: bool = True                      # move the window when the ring peaks outside it
    tolerance_days: int = Field(10, ge=0)     # a ring peak this close outside the window moves nothing
    max_shift_days: int = Field(30, ge=0, le=60)  # the window moves at most this far (days)
    peak_share: float = Field(0.9, gt=0, le=1)    # the peak: centre of the dates at >= this share of the max
    min_obs: int = Field(4, ge=2)             # fewer clear ring dates around the window: not checked


class AssessSettings(_Strict):
    # the (region, land class) threshold table; a config that names none uses the packaged one
    thresholds: Path = Field(default_factory=lambda: packaged("thresholds.yaml"))
    # county code -> TD/T 1036 reclamation region, and each region's season; the packaged one by default
    regions: Path = Field(default_factory=lambda: packaged("regions.yaml"))
    region: str = "default"                   # used when a county code maps to no region
    season_start: str = "07-01"               # MM-DD: assessment season of mines in no region (peak growing season)
    season_end: str = "09-15"                 # MM-DD: the season's last day
    # licence -> "MM-DD/MM-DD": a mine's own assessment season, before its threshold row's and region's
    season_by_license: dict[str, str] = Field(default_factory=dict)
    phenology: PhenologySettings = PhenologySettings()
    min_clear_obs: int = Field(3, ge=1)       # fewer clear dates than this: cannot judge
    min_clear_fraction: float = Field(0.8, gt=0, le=1)  # a date counts for a unit if this much is clear
    at_risk_from: str = "06-01"               # MM-DD: AT_RISK is judged from here to the season's end
    recent_days: int = Field(45, ge=5)        # AT_RISK looks at the unit's clear dates in this window
    degradation_fvc_drop: float = Field(0.15, gt=0)   # accepted unit: FVC fall vs its previous season
    degradation_rel_drop: float = Field(0.20, gt=0)   # ... and fall of (unit / reference)
    temporary_bare_fvc: float = Field(0.15, ge=0, le=1)  # temporary land under this FVC is still bare
    # Persistent cloud (assess/windows.py): a season with fewer than min_clear_obs clear dates for a
    # unit is widened by this many days on each side, up to widen_steps times, before the unit is
    # unjudged (INSUFFICIENT_OBSERVATIONS / SNOW_COVER naming the widest window tried)
    widen_days: int = Field(15, ge=1)
    widen_steps: int = Field(2, ge=0, le=6)     # widenings at most (0: the season only)
    disturbance: DisturbanceSettings = DisturbanceSettings()
    reference: ReferenceSettings = ReferenceSettings()
    cropland: CroplandSettings = CroplandSettings()
    parts: PartsSettings = PartsSettings()
    confidence: ConfidenceSettings = ConfidenceSettings()

    @field_validator("season_by_license")
    @classmethod
    def _mmdd_windows(cls, v: dict[str, str]) -> dict[str, str]:
        for lic, w in v.items():
            if not re.fullmatch(r"[0-9]{2}-[0-9]{2}/[0-9]{2}-[0-9]{2}", w):
                raise ValueError(f"season_by_license[{lic}] = {w!r}: expected MM-DD/MM-DD")
        return v


class DaskSettings(_Strict):
    """Where `dask.compute` runs (minewatch.ops.dask_client)."""
    # None: the local threaded scheduler in the flow process. "tcp://dask-scheduler:8786":
    # a distributed cluster; its workers must reach the same COG hrefs as the flow.
    scheduler_address: str | None = None
    connect_timeout: str = "30s"              # how long to wait for the scheduler (dask duration)


class RunSettings(_Strict):
    """How the night runs its mines (minewatch.flow.nightly, minewatch.ops.mine_task_options)."""
    max_concurrent_mines: int = Field(2, ge=1)      # mines in flight: peak memory follows this, not the registry
    mine_retries: int = Field(2, ge=0, le=10)       # per mine, on transient errors only (network, 429/5xx)
    mine_retry_backoff_s: float = Field(30.0, ge=0)  # first retry wait; doubles each retry
    mine_retry_jitter: float = Field(0.5, ge=0, le=1)  # +- share of each wait, so mines do not retry together
    # a backstop only: a task thread cannot interrupt a blocking GDAL read (docs/operations.md)
    mine_timeout_s: float | None = Field(None, gt=0)
    # IANA zone whose calendar gives the default run date (a UTC container at 02:00 Shanghai is still "yesterday")
    timezone: str = "Asia/Shanghai"
    # without a terminal, a progress log line every this many finished mines ... or this many seconds
    progress_every_mines: int = Field(50, ge=1)
    progress_every_s: float = Field(60.0, gt=0)   # seconds between progress lines
    # level of minewatch's own loggers in the night's log (`--log-level`/`-q` on the command line win)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # fsspec URL of the per-mine state (result cache, pixel store), e.g. "s3://bucket/minewatch/state"
    # for workers on other machines (needs that protocol's package: s3fs). None: OUT/state on local disk.
    # The ledger stays in OUT/state (or ledger.url).
    state_url: str | None = None
    # fsspec options for state_url (e.g. {"client_kwargs": {"endpoint_url": ...}}); keys from the
    # environment (AWS_ACCESS_KEY_ID ...) rather than the file
    state_storage_options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown IANA time zone {v!r} (e.g. Asia/Shanghai)") from e
        return v


class PlanSettings(_Strict):
    """Reading and validating the annual plans (minewatch.promised)."""
    area_tolerance: float = Field(0.05, ge=0, le=1)   # declared vs computed unit area, relative


class WebhookSettings(_Strict):
    """One HTTP endpoint told about a bad night (minewatch.notify)."""
    url: str = Field(pattern=r"^https?://")   # a DingTalk/WeCom robot URL carries its access token
    # json: minewatch's own payload; dingtalk / wecom: the bureaus' group-robot "markdown" message
    format: Literal["json", "dingtalk", "wecom"] = "json"
    timeout_s: float = Field(10.0, gt=0)      # seconds for the whole request


class EmailSettings(_Strict):
    """SMTP delivery of the same message (minewatch.notify)."""
    host: str                                     # the SMTP server
    port: int = Field(25, ge=1, le=65535)         # 25 plain / starttls, 465 ssl
    sender: str                                   # the From address
    to: tuple[str, ...] = Field(min_length=1)     # recipients
    username: str | None = None                   # login only when set
    password: str | None = None                   # better from MINEWATCH_NOTIFY__EMAIL__PASSWORD than the file
    security: Literal["none", "starttls", "ssl"] = "none"   # how the connection is encrypted
    timeout_s: float = Field(10.0, gt=0)          # seconds per SMTP operation


class NotifySettings(_Strict):
    """Telling someone when a night goes wrong; nothing is sent when no channel is set."""
    webhooks: tuple[WebhookSettings, ...] = ()   # HTTP endpoints (a list of `notify.webhooks[]` entries)
    email: EmailSettings | None = None            # SMTP delivery (`notify.email.*`); none: no email
    on_night_failed: bool = True       # every mine failed (or the night stopped before its outputs)
    on_repeat_failure: bool = True     # a mine failed tonight and in the previous run
    on_new_high: bool = True           # anomalies of severity `high` whose status is `new` tonight
    max_listed: int = Field(20, ge=1)  # mines / anomalies named in one message; the rest are counted
class LedgerSettings(_Strict):
    """The unit ledger (minewatch.ledger): where it lives and how plan rows find their unit."""
    # None: SQLite at OUT/state/ledger.sqlite; else an SQLAlchemy URL, e.g. the compose stack's
    # PostgreSQL "postgresql+psycopg://minewatch@db:5432/minewatch"
    url: str | None = None
    # a row is the same ground as a unit of an earlier plan when intersection/union reaches this
    iou_min: float = Field(0.5, gt=0, le=1)
    # overlap (intersection / smaller area) from which a row and a unit are related at all:
    # two related units for one row is a merge, two rows for one unit a split (findings, not guesses)
    related_min: float = Field(0.25, gt=0, le=1)
    # 管护期: years after acceptance during which an accepted unit is still watched (and shown
    # as "in management" in the one-map package)
    management_years: int = Field(3, ge=0)
    # the county bureau's 验收 list: one .csv/.xlsx file or a folder of them (not inside `plans`:
    # every .xlsx there is read as a plan), imported by each night; None: only what
    # `minewatch ledger accept FILE...` imported by hand
    acceptance: Path | None = None
    # the regulation's time from application to acceptance, in working days (Mon-Fri minus `holidays`)
    acceptance_working_days: int = Field(60, ge=1)
    # public holidays (YYYY-MM-DD) that are not working days; makeup Saturdays (调休) are not
    # modelled, so the working-day count is approximate by a day or two
    holidays: tuple[date, ...] = ()


class ReportSettings(_Strict):
    """What the nightly run gives inspectors beside the HTML reports (minewatch.outputs)."""
    # a PDF per mine printed by headless Chromium (Debian chromium); off where it is not installed
    pdf: bool = True
    pdf_timeout_s: float = Field(120.0, gt=0)   # one mine's print; Chromium's first start is the slow part
    # 县级行政区划代码 (XZQDM) -> 名称 (XZQMC) for the locator map: the registry carries codes only
    county_names: dict[str, str] = {}
    locator_frame_m: float = Field(25_000.0, gt=0)   # side of the locator map's square around the licence, m
    # the bureau's official 行政区划 county layer (any OGR-readable file: .gpkg, .shp, .geojson), so the
    # locator map draws the mine's county outline, found by the registry's 6-digit county code; None: no outline
    county_boundaries: Path | None = None
    county_layer: str | None = None                  # layer of a multi-layer file; None: its first layer
    county_code_field: str = "XZQDM"                 # the layer's 6-digit county code field (天地图: PAC)
    # the layer's county name field, drawn on the map unless `county_names` names the code; None: not read
    county_name_field: str | None = "XZQMC"
    # the layer's CRS when the file declares none (a Shapefile without .prj), e.g. 4490 or a GK zone 4513-4554
    county_epsg: int | None = None
    pair_margin_m: float = Field(150.0, ge=0)        # around an anomaly's bbox in its before/after pair, m
    # the season's true colour under the overview page's map: longest side of each mine's image, px
    overview_image_max_px: int = Field(1024, ge=16)


class OnemapSettings(_Strict):
    """The one-map package for the provincial platform (minewatch.outputs.onemap*)."""
    # which containers the night writes, all from the one layer definition: onemap.gpkg,
    # onemap.gdb (File Geodatabase, GDAL's OpenFileGDB), shapefile/ (one .shp per layer)
    formats: tuple[Literal["gpkg", "filegdb", "shapefile"], ...] = Field(("gpkg",), min_length=1)
    # also write the feature layers projected into CGCS2000 3° Gauss-Krüger, as `<layer>_gk`
    gk_layers: bool = False
    # the zone's EPSG: 4513-4533 (easting with zone prefix, as 拐点坐标) or 4534-4554 ("CM", 500 km false
    # easting); None: the prefixed zone holding most of the night's mines' centroids
    gk_epsg: int | None = Field(None, ge=4513, le=4554)
    # which ArcGIS the File Geodatabase is for: arcgis10 writes dates as the classic Date type (a date-time at
    # 00:00; read by every ArcGIS and GDAL >= 3.6); pro3.2 as date-only Date fields (ArcGIS Pro 3.2+, GDAL 3.8+)
    filegdb_target: Literal["arcgis10", "pro3.2"] = "arcgis10"
    # 负责单位 named in the package's metadata record
    responsible_party: str = "矿山生态修复遥感监测 (minewatch)"

    @field_validator("formats")
    @classmethod
    def _distinct(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(v)) != len(v):
            raise ValueError(f"formats listed twice: {list(v)}")
        return v


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="forbid", frozen=True, env_prefix="MINEWATCH_",
                                      env_nested_delimiter="__")

    registry: Path                            # 采矿权登记库: .csv / .geojson / .gpkg
    plans: Path                               # a folder of .xlsx plans, or one file
    output_dir: Path = Path("out")            # one dated folder per night, `latest` at the newest
    catalog: CatalogSettings = CatalogSettings()
    local_catalog: LocalCatalogSettings = LocalCatalogSettings()
    imagery: ImagerySettings = ImagerySettings()
    indices: IndexSettings = IndexSettings()
    assess: AssessSettings = AssessSettings()
    dask: DaskSettings = DaskSettings()
    run: RunSettings = RunSettings()
    plan: PlanSettings = PlanSettings()
    notify: NotifySettings = NotifySettings()
    ledger: LedgerSettings = LedgerSettings()
    report: ReportSettings = ReportSettings()
    onemap: OnemapSettings = OnemapSettings()
    base_dir: Path = Path(".")                # the config file's folder; set by load_settings

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        # the environment over the YAML file (passed as init values); no .env or secret files
        return env_settings, init_settings

    @model_validator(mode="after")
    def _cloud_prob_needs_the_band(self) -> "Settings":
        if self.imagery.cloud_prob_max is not None and not self.catalog.cloud_probability:
            raise ValueError("imagery.cloud_prob_max needs catalog.cloud_probability: true "
                             "(the cloud-probability band is not loaded otherwise)")
        return self


def _resolve(base: Path, p: Path) -> Path:
    return p if p.is_absolute() else (base / p).resolve()


def load_settings(path: str | Path) -> Settings:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"配置文件不存在 config file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"配置文件不是有效的 YAML {path}: {e}") from e
    if not isinstance(raw, dict):
        raise ConfigError(f"配置文件顶层必须是映射 config top level must be a mapping: {path}")
    try:
        s = Settings(**raw)
    except ValidationError as e:
        lines = [f"  {'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors()]
        raise ConfigError(f"配置文件校验失败 invalid config {path}:\n" + "\n".join(lines)) from e
    base = path.parent.resolve()
    return s.model_copy(update={
        "base_dir": base,
        "registry": _resolve(base, s.registry),
        "plans": _resolve(base, s.plans),
        "output_dir": _resolve(base, s.output_dir),
        "local_catalog": s.local_catalog.model_copy(
            update={"data_dir": _resolve(base, s.local_catalog.data_dir)}),
        "assess": s.assess.model_copy(update={"thresholds": _resolve(base, s.assess.thresholds),
                                              "regions": _resolve(base, s.assess.regions)}),
        "ledger": s.ledger.model_copy(update={
            "acceptance": None if s.ledger.acceptance is None else _resolve(base, s.ledger.acceptance)}),
        "report": s.report.model_copy(update={
            "county_boundaries": None if s.report.county_boundaries is None
            else _resolve(base, s.report.county_boundaries)}),
    })
