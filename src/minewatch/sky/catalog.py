"""Finding Sentinel-2 scenes, only through a STAC API (local pgstac, Earth Search or Planetary Computer)."""
from __future__ import annotations

from datetime import date, datetime, time, timezone

import pystac
from pystac_client import Client

PAGE_SIZE = 100  # bounded pages: large pages time out on public APIs


class CatalogError(Exception):
    """The STAC API could not be searched (unreachable, unknown collection, HTTP error); names the URL."""


def _instant(d: date | datetime, end: bool) -> datetime:
    # A plain date means the whole UTC day; a naive datetime is taken as UTC.
    if not isinstance(d, datetime):
        return datetime.combine(d, time.max if end else time.min, tzinfo=timezone.utc)
    return d.replace(tzinfo=timezone.utc) if d.tzinfo is None else d.astimezone(timezone.utc)


def _rfc3339(d: datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _check_bbox(bbox) -> tuple[float, float, float, float]:
    if len(bbox) != 4:
        raise ValueError(f"bbox must be (min_lon, min_lat, max_lon, max_lat), got {bbox!r}")
    x0, y0, x1, y1 = (float(v) for v in bbox)
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise ValueError(f"bbox must be lon/lat degrees with min <= max, got {bbox!r} (projected coordinates?)")
    return x0, y0, x1, y1


def _when(item: pystac.Item) -> datetime:
    d = item.datetime or pystac.utils.str_to_datetime(item.properties["start_datetime"])
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


def search_scenes(url: str, collection: str, bbox: tuple[float, float, float, float],
                  start: date | datetime, end: date | datetime,
                  max_cloud_cover: float | None = None, timeout: float = 30) -> list[pystac.Item]:
    """Items of `collection` intersecting bbox (lon/lat) between start and end (dates: whole days,
    inclusive), with scene cloud cover <= max_cloud_cover; sorted by (datetime, id)."""
    bbox = _check_bbox(bbox)
    t0, t1 = _instant(start, end=False), _instant(end, end=True)
    if t0 > t1:
        raise ValueError(f"start {start} is after end {end}")
    try:
        client = Client.open(url, timeout=timeout)
        if client.get_collection(collection) is None:
            names = sorted(c.id for c in client.get_collections())
            raise CatalogError(f"collection {collection!r} not found at {url}; it has: {', '.join(names) or 'none'}")
        search = client.search(
            collections=[collection], bbox=bbox, datetime=f"{_rfc3339(t0)}/{_rfc3339(t1)}", limit=PAGE_SIZE,
            query={"eo:cloud_cover": {"lte": max_cloud_cover}} if max_cloud_cover is not None else None)
        items = list(search.items())
    except CatalogError:
        raise
    except Exception as e:  # APIError, connection errors, non-STAC answers: all "the catalogue failed"
        raise CatalogError(f"STAC search at {url} failed: {type(e).__name__}: {e}") from e
    if max_cloud_cover is not None:
        # Some APIs ignore `query`; items without eo:cloud_cover cannot be shown to meet the
        # limit and pgstac drops them server-side too, so the result is the same either way.
        items = [it for it in items
                 if it.properties.get("eo:cloud_cover") is not None
                 and it.properties["eo:cloud_cover"] <= max_cloud_cover]
    return sorted(items, key=lambda it: (_when(it), it.id))
