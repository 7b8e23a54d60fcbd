"""STAC catalogues of Sentinel-2 L2A and how their items are made uniform.

Three sources are known: Earth Search v1 (Element 84, AWS), Microsoft Planetary Computer and
the local pgstac catalogue (`minewatch catalog up`, Earth Search layout). They differ in
asset keys, in where the projection sits, in signing, and in how the processing-baseline
offset is reported. `normalise_item` removes all of those differences so that the loader sees
one item shape:

- asset keys renamed to the internal band names (`BANDS`: blue, green, red, nir, swir16,
  swir22, scl; `cloud_prob` for a cloud-probability raster where the source has one and it
  was asked for); other assets are left as they are;
- `proj:epsg` and `proj:code` both set (stackstac 0.5.1 reads only `proj:epsg`, pystac 1.15
  writes only `proj:code`);
- `raster:bands` kept untouched, but never used to rescale (the loader runs `rescale=False`):
  Earth Search declares offset -0.1 even where the data were already shifted;
- `minewatch:dn_offset` (1000.0 or 0.0): the DN offset to subtract before scaling by 1/10000,
  decided once, here, from `s2:processing_baseline` and `earthsearch:boa_offset_applied`.
  `cube.reflectance_offset` reads this property, so the offset can never be applied twice.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Callable, Iterable, Literal, Mapping

import pystac

log = logging.getLogger("minewatch")

SourceName = Literal["earth-search", "planetary-computer", "local"]

# Internal band names (the Earth Search v1 asset keys); other catalogues map onto these.
BANDS = ("blue", "green", "red", "nir", "swir16", "swir22", "scl")
CLOUD_PROB = "cloud_prob"          # optional cloud probability (0..100), internal name

DN_OFFSET_PROP = "minewatch:dn_offset"
SOURCE_PROP = "minewatch:source"

# ESA started processing baseline 04.00 (with BOA_ADD_OFFSET = -1000) on this date: nothing
# acquired on or after it was ever published with an older baseline.
BASELINE_04_START = datetime(2022, 1, 25, tzinfo=timezone.utc)
_N_IN_NAME = re.compile(r"_N(\d{2})\.?(\d{2})(?!\d)")   # ESA names: ..._N0510_..., ..._N05.10


@dataclass(frozen=True)
class Source:
    """One STAC API that serves Sentinel-2 L2A, and how its items map onto ours."""
    name: str
    url: str
    collection: str
    asset_keys: Mapping[str, str]             # internal band name -> the catalogue's asset key
    cloud_prob_key: str | None = None         # the catalogue's cloud-probability asset, if any
    sign: Callable[[pystac.Item], pystac.Item] | None = field(default=None, compare=False)
    # Whether the API understands the STAC `query` extension; None: ask its conformance classes.
    supports_query: bool | None = None


_ES_KEYS = MappingProxyType({b: b for b in BANDS})
_PC_KEYS = MappingProxyType({"blue": "B02", "green": "B03", "red": "B04", "nir": "B08",
                             "swir16": "B11", "swir22": "B12", "scl": "SCL"})

EARTH_SEARCH = Source("earth-search", "https://earth-search.aws.element84.com/v1", "sentinel-2-l2a",
                      _ES_KEYS, cloud_prob_key="cloud")   # `cloud` exists in sentinel-2-c1-l2a only
PLANETARY_COMPUTER = Source("planetary-computer", "https://planetarycomputer.microsoft.com/api/stac/v1",
                            "sentinel-2-l2a", _PC_KEYS, cloud_prob_key=None)
LOCAL = Source("local", "http://127.0.0.1:8082", "sentinel-2-l2a", _ES_KEYS, cloud_prob_key="cloud")

_KNOWN = {s.name: s for s in (EARTH_SEARCH, PLANETARY_COMPUTER, LOCAL)}


def get_source(name: SourceName, url: str | None = None, collection: str | None = None,
               sign: Callable[[pystac.Item], pystac.Item] | None = None,
               supports_query: bool | None = None) -> Source:
    """A known source, optionally at another URL/collection (a mirror) or with a signing hook.

    For Planetary Computer pass e.g. `sign=planetary_computer.sign` (not a dependency here):
    asset hrefs are only readable with a SAS token, which expires, so sign just before loading.
    """
    try:
        base = _KNOWN[name]
    except KeyError:
        raise ValueError(f"unknown catalogue source {name!r}; known: {', '.join(_KNOWN)}") from None
    return Source(base.name, url or base.url, collection or base.collection, base.asset_keys,
                  base.cloud_prob_key, sign if sign is not None else base.sign,
                  supports_query if supports_query is not None else base.supports_query)


# ----------------------------------------------------------------------------------------
# processing baseline and the DN offset
# ----------------------------------------------------------------------------------------

def _parse_baseline(text: object) -> tuple[int, int] | None:
    if text is None:
        return None
    major, _, minor = str(text).strip().partition(".")
    try:
        return int(major), int(minor or 0)
    except ValueError:
        return None


def processing_baseline(item: pystac.Item) -> tuple[int, int] | None:
    """(major, minor) from `s2:processing_baseline`, else from the ESA product name (`_N0510_`)
    in `s2:product_uri` or an asset href; None if nothing says."""
    props = item.properties
    if "s2:processing_baseline" in props:
        b = _parse_baseline(props["s2:processing_baseline"])
        if b is None:
            raise ValueError(f"item {item.id}: unreadable s2:processing_baseline {props['s2:processing_baseline']!r}")
        return b
    names = [props.get(k) for k in ("s2:product_uri", "s2:granule_id", "s2:datastrip_id", "s2:datatake_id")]
    for text in names + [a.href for a in item.assets.values()]:
        m = _N_IN_NAME.search(str(text or ""))
        if m:
            return int(m.group(1)), int(m.group(2))
    return None


def dn_offset(item: pystac.Item) -> float:
    """DN offset to subtract before scaling (reflectance = (DN - offset) / 10000).

    1000 from processing baseline 04.00 on, 0 before (docs/domain.md §4), decided from the baseline,
    not from the date. If the catalogue says the shift was already removed from the pixels
    (Earth Search `earthsearch:boa_offset_applied: true`) it is 0, whatever `raster:bands` says.
    Without any baseline metadata, a scene acquired after baseline 04.00 started must have it;
    an older one is refused (ValueError): it may or may not have been reprocessed.

    Known limit: Earth Search v1 has scenes whose pixels were shifted while the flag says
    false (Element84/earth-search#71, cirrus-geo/cirrus-earth-search#33); metadata alone
    cannot detect those.
    """
    props = item.properties
    applied = props.get("earthsearch:boa_offset_applied", props.get("sentinel:boa_offset_applied"))
    if applied is True:
        return 0.0
    b = processing_baseline(item)
    if b is None:
        when = item.datetime or pystac.utils.str_to_datetime(props.get("start_datetime", "1970-01-01T00:00:00Z"))
        when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
        if when >= BASELINE_04_START:
            return 1000.0
        raise ValueError(f"item {item.id}: no processing baseline in its metadata and acquired before "
                         f"{BASELINE_04_START:%Y-%m-%d}; cannot tell whether DN carry the +1000 offset")
    return 1000.0 if b >= (4, 0) else 0.0


# ----------------------------------------------------------------------------------------
# normalisation
# ----------------------------------------------------------------------------------------

def _epsg_of(props: Mapping) -> int | None:
    if props.get("proj:epsg") is not None:
        return int(props["proj:epsg"])
    code = props.get("proj:code")
    if isinstance(code, str) and code.upper().startswith("EPSG:"):
        return int(code.split(":", 1)[1])
    return None


def _set_projection(d: dict) -> None:
    epsg = _epsg_of(d)
    if epsg is not None:
        d["proj:epsg"] = epsg
        d["proj:code"] = f"EPSG:{epsg}"


def normalise_item(item: pystac.Item, source: Source | SourceName, cloud_prob: bool = False) -> pystac.Item:
    """A copy of `item` in the one internal shape (see the module docstring); the input is not changed.

    Raises ValueError if a band is missing or the DN offset cannot be decided.
    """
    src = get_source(source) if isinstance(source, str) else source
    it = item.clone()
    it.properties[SOURCE_PROP] = src.name
    it.properties[DN_OFFSET_PROP] = dn_offset(item)
    _set_projection(it.properties)

    wanted = dict(src.asset_keys)
    if cloud_prob and src.cloud_prob_key and src.cloud_prob_key in it.assets:
        wanted[CLOUD_PROB] = src.cloud_prob_key
    missing = [f"{band} ({key})" for band, key in wanted.items() if key not in it.assets]
    if missing:
        raise ValueError(f"item {item.id} from {src.name}: missing assets {', '.join(missing)}")
    taken = {key: it.assets[key] for key in wanted.values()}
    for key in taken:
        del it.assets[key]
    for band, key in wanted.items():
        if band in it.assets:      # an unrelated asset already has the internal name: keep it aside
            it.assets[f"{src.name}:{band}"] = it.assets.pop(band)
        asset = taken[key]
        it.assets[band] = asset
        _set_projection(asset.extra_fields)
    if src.sign is not None:
        it = src.sign(it)
    return it


def normalise_items(items: Iterable[pystac.Item], source: Source | SourceName,
                    cloud_prob: bool = False) -> list[pystac.Item]:
    """`normalise_item` over a search result; an item that cannot be normalised is left out
    (logged with the reason) rather than loaded with a wrong offset or missing bands."""
    out = []
    for item in items:
        try:
            out.append(normalise_item(item, source, cloud_prob=cloud_prob))
        except ValueError as e:
            log.warning("skipping scene: %s", e)
    return out
