"""Finding Sentinel-2 scenes, only through a STAC API (local pgstac, Earth Search or Planetary Computer).

Searches are made to survive public APIs: pages are bounded (`page_size`), every HTTP call has
a timeout, 429/5xx answers, dropped connections and timeouts are retried with exponential
backoff (`backoff_s`, 2 x `backoff_s`, 4 x ...) up to `retries` times per call and never past
`max_total_s` for the whole search (a call already in flight may add one `timeout`). What still
fails raises `CatalogError` for that search (the pipeline isolates mines, so one mine only).

Answers that are not transient-looking are treated like a 5xx all the same: a body cut short
or not JSON (an HTML page from a proxy, with status 200) is asked for again on the same
backoff and deadline (`MalformedAnswerError` when it stays so, which `ops.is_transient`
counts as transient). A search that pages fewer items than the API matched (`numberMatched`
or `context.matched`; without them, a count query when the last page came back full and
without a `next` link) returns its items as `Scenes` with `shortfall()` saying so, and items
whose footprint does not touch the searched box are dropped and logged.

One pystac-client `Client` per thread and API (URL and call limits) serves every search
(`_client`): the landing page and the collection are read once, not once per mine, and the
HTTP connections are kept alive. Per thread, because a `requests.Session` (the client's
`StacApiIO`) is not documented as safe to share between threads; the flow's mines run in
threads. Each search gets its own deadline on the shared client's retry policy; a search
that fails drops the client, so the next one starts from a fresh landing page. Searches are
not incremental: each mine still pages its whole history (a later change may ask the API
only for items newer than the mine's state holds, with a periodic full search).
"""
from __future__ import annotations

import logging
import threading
import time as _time
from datetime import date, datetime, time, timezone
from typing import Any, Sequence

import pystac
import requests
from pystac_client import Client
from pystac_client.conformance import ConformanceClasses
from pystac_client.exceptions import APIError
from pystac_client.stac_api_io import StacApiIO
from urllib3.util.retry import Retry

from minewatch.config import CatalogSettings
from minewatch.sky.sources import Source, normalise_items

log = logging.getLogger("minewatch")

_DEFAULTS = CatalogSettings()   # the search's defaults are the settings' (bounded pages, retries, deadline)
RETRY_STATUS = (429, 500, 502, 503, 504)


class CatalogError(Exception):
    """The STAC API could not be searched (unreachable, unknown collection, HTTP error); names the URL."""


class MalformedAnswerError(Exception):
    """The API answered 2xx with a body that is not STAC JSON (cut short, HTML), after every retry."""


class Scenes(list):
    """Items of a search, and how many the API said it matched (None: it did not say)."""

    def __init__(self, items: Sequence[pystac.Item] = (), matched: int | None = None, paged: int = 0) -> None:
        super().__init__(items)
        self.matched, self.paged = matched, paged

    def shortfall(self) -> str | None:
        """Why this window's evidence is incomplete (the API matched more than it paged), else None."""
        if self.matched is None or self.paged >= self.matched:
            return None
        return f"STAC search matched {self.matched} items but paged only {self.paged}"


def shortfall(items: Sequence[pystac.Item]) -> str | None:
    """`Scenes.shortfall` of a search's result; None for any other list of items."""
    return items.shortfall() if isinstance(items, Scenes) else None


def _instant(d: date | datetime, end: bool) -> datetime:
    # A plain date means the whole UTC day; a naive datetime is taken as UTC.
    if not isinstance(d, datetime):
        return datetime.combine(d, time.max if end else time.min, tzinfo=timezone.utc)
    return d.replace(tzinfo=timezone.utc) if d.tzinfo is None else d.astimezone(timezone.utc)


def _rfc3339(d: datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _check_bbox(bbox: Sequence[float]) -> tuple[float, float, float, float]:
    if len(bbox) != 4:
        raise ValueError(f"bbox must be (min_lon, min_lat, max_lon, max_lat), got {bbox!r}")
    x0, y0, x1, y1 = (float(v) for v in bbox)
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise ValueError(f"bbox must be lon/lat degrees with min <= max, got {bbox!r} (projected coordinates?)")
    return x0, y0, x1, y1


class Deadline:
    """When the current search must give up (time.monotonic()); shared by a client's retry
    policy and its JSON reads, and set anew for each search on a reused client."""

    def __init__(self, at: float | None = None) -> None:
        self.at = at

    def left(self) -> float:
        return float("inf") if self.at is None else self.at - _time.monotonic()


class _DeadlineRetry(Retry):
    """urllib3 Retry: exponential backoff from the first retry, and nothing after `deadline`
    (its current time); Retry-After is honoured but clipped to the time left."""

    def __init__(self, *args: Any, deadline: Deadline | None = None, backoff_s: float = _DEFAULTS.backoff_s,
                 **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.deadline = deadline if deadline is not None else Deadline()
        self.backoff_s = backoff_s

    def new(self, **kw: Any) -> "_DeadlineRetry":
        r = super().new(**kw)
        r.deadline, r.backoff_s = self.deadline, self.backoff_s
        return r

    def _left(self) -> float:
        return max(0.0, self.deadline.left())

    def get_backoff_time(self) -> float:
        n = 0
        for h in reversed(self.history):
            if h.redirect_location is not None:
                break
            n += 1
        return 0.0 if n == 0 else min(self.backoff_s * 2 ** (n - 1), self._left())

    def get_retry_after(self, response: Any) -> float | None:
        after = super().get_retry_after(response)
        return None if after is None else min(after, self._left())

    def is_exhausted(self) -> bool:
        return super().is_exhausted() or self._left() <= 0


class _PatientIO(StacApiIO):
    """StacApiIO whose JSON reads retry a 2xx body that is cut short or not JSON, like a 5xx."""

    def __init__(self, *args: Any, retries: int, backoff_s: float, deadline: Deadline, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.retries, self.backoff_s, self.deadline = retries, backoff_s, deadline

    def read_json(self, source: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        n = 0
        while True:
            try:
                d = super().read_json(source, *args, **kwargs)
                if isinstance(d, dict):
                    return d
                why: BaseException = ValueError(f"a JSON {type(d).__name__}, not an object")
            except ValueError as e:         # JSONDecodeError: HTML, a body cut at its declared length
                why = e
            except APIError as e:           # a body cut short of its Content-Length; HTTP errors pass
                if e.status_code is not None or not isinstance(e.__context__, requests.exceptions.RequestException) \
                        or isinstance(e.__context__, requests.exceptions.ConnectionError):
                    raise
                why = e
            left = self.deadline.left()
            if n >= self.retries or left <= 0:
                raise MalformedAnswerError(f"{_href(source)} answered {n + 1} times with a body that is not "
                                           f"STAC JSON ({type(why).__name__}: {str(why)[:120]})") from why
            wait = min(self.backoff_s * 2 ** n, left)
            log.warning("STAC answer from %s is not JSON (%s); retrying in %.1f s", _href(source),
                        type(why).__name__, wait)
            _time.sleep(wait)
            n += 1


def _href(source: Any) -> str:
    return str(getattr(source, "href", source))


def _stac_io(timeout: float, retries: int, backoff_s: float, deadline: Deadline) -> StacApiIO:
    retry = _DeadlineRetry(total=retries, connect=retries, read=retries, status=retries, other=retries,
                           redirect=5, allowed_methods=None,   # POST /search is idempotent: retry it too
                           status_forcelist=RETRY_STATUS, raise_on_status=False,
                           backoff_s=backoff_s, deadline=deadline)
    return _PatientIO(timeout=timeout, max_retries=retry, retries=retries, backoff_s=backoff_s, deadline=deadline)


def open_catalog(url: str, timeout: float = _DEFAULTS.timeout_s, *, retries: int = _DEFAULTS.retries,
                 backoff_s: float = _DEFAULTS.backoff_s, max_total_s: float = _DEFAULTS.max_search_s) -> Client:
    """The API's landing page under the search's retries (5xx, dropped connections, bodies that
    are not JSON); CatalogError naming the URL when it still fails. For checks before a night."""
    began = _time.monotonic()
    try:
        return Client.open(url, stac_io=_stac_io(timeout, retries, backoff_s, Deadline(began + max_total_s)),
                           timeout=timeout)
    except Exception as e:  # noqa: BLE001 - any failure here means "the catalogue is not there"
        status = getattr(e, "status_code", None)
        raise CatalogError(f"STAC API unreachable at {url} after {_time.monotonic() - began:.1f} s "
                           f"(up to {retries} retries per call): {type(e).__name__}"
                           f"{f' HTTP {status}' if status else ''}: {e}") from e


class _Open:
    """A client kept for one thread and API, with the collections it has found."""

    def __init__(self, client: Client, deadline: Deadline) -> None:
        self.client, self.deadline, self.collections = client, deadline, set[str]()


_LOCAL = threading.local()


def _clients() -> dict[tuple, _Open]:
    if not hasattr(_LOCAL, "clients"):
        _LOCAL.clients = {}
    return _LOCAL.clients


def _client(url: str, timeout: float, retries: int, backoff_s: float, deadline: float) -> _Open:
    """This thread's client of the API at `url` with these call limits (opened on first use),
    its deadline set to `deadline` for the search about to run."""
    key = (url, timeout, retries, backoff_s)
    c = _clients().get(key)
    if c is None:
        d = Deadline(deadline)
        c = _Open(Client.open(url, stac_io=_stac_io(timeout, retries, backoff_s, d), timeout=timeout), d)
        _clients()[key] = c
    c.deadline.at = deadline
    return c


def forget_clients() -> None:
    """Drop this thread's kept clients (the next search opens the API again)."""
    _clients().clear()


def _matched(page: dict[str, Any]) -> int | None:
    n = page.get("numberMatched", (page.get("context") or {}).get("matched"))
    return n if isinstance(n, int) else None


def _has_next(page: dict[str, Any]) -> bool:
    return any(lk.get("rel") == "next" for lk in page.get("links") or [])


def _touches(item: pystac.Item, box: Any) -> bool:
    from shapely.geometry import box as make_box
    from shapely.geometry import shape
    if item.geometry:
        return shape(item.geometry).intersects(box)
    b = item.bbox
    return b is not None and len(b) >= 4 and bool(make_box(*b[:2], *b[-2:]).intersects(box))


def _when(item: pystac.Item) -> datetime:
    d = item.datetime or pystac.utils.str_to_datetime(item.properties["start_datetime"])
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


def search_scenes(url: str, collection: str, bbox: tuple[float, float, float, float],
                  start: date | datetime, end: date | datetime,
                  max_cloud_cover: float | None = None, timeout: float = _DEFAULTS.timeout_s, *,
                  page_size: int = _DEFAULTS.page_size, retries: int = _DEFAULTS.retries,
                  backoff_s: float = _DEFAULTS.backoff_s, max_total_s: float = _DEFAULTS.max_search_s,
                  client_side_cloud_filter: bool | None = _DEFAULTS.client_side_cloud_filter,
                  source: Source | None = None, cloud_prob: bool = False) -> Scenes:
    """Items of `collection` intersecting bbox (lon/lat) between start and end (dates: whole days,
    inclusive), with scene cloud cover <= max_cloud_cover (None: no limit); sorted by (datetime, id),
    one per id (as `Scenes`: a list that also knows whether the API matched more than it paged).
    The other defaults are `CatalogSettings()`'s (`timeout`: `timeout_s`,
    `max_total_s`: `max_search_s`).

    Cloud cover: sent to the API as a `query` only where it declares the STAC query conformance
    class (`client_side_cloud_filter=None`), never (`True`: for APIs that claim it and ignore it),
    or always (`False`); the limit is then checked here on every item whatever the API did.
    `source`: if given, items are returned normalised (`sources.normalise_items`: internal band
    names, `proj:epsg`, `minewatch:dn_offset`; items that cannot be normalised are left out and
    logged); without it, as the API sent them.
    """
    bbox = _check_bbox(bbox)
    t0, t1 = _instant(start, end=False), _instant(end, end=True)
    if t0 > t1:
        raise ValueError(f"start {start} is after end {end}")
    limit = int(page_size)
    if limit < 1 or retries < 0 or backoff_s < 0 or max_total_s <= 0 or timeout <= 0:
        raise ValueError("page_size >= 1, retries >= 0, backoff_s >= 0, max_total_s > 0 and timeout > 0 are required")
    began = _time.monotonic()
    deadline = began + max_total_s
    key = (url, timeout, retries, backoff_s)
    try:
        kept = _client(url, timeout, retries, backoff_s, deadline)
        client = kept.client
        if collection not in kept.collections:
            if client.get_collection(collection) is None:
                names = sorted(c.id for c in client.get_collections())
                raise CatalogError(f"collection {collection!r} not found at {url}; it has: "
                                   f"{', '.join(names) or 'none'}")
            kept.collections.add(collection)
        send_query = max_cloud_cover is not None and (
            not client_side_cloud_filter if client_side_cloud_filter is not None
            else client.conforms_to(ConformanceClasses.QUERY))
        search = client.search(
            collections=[collection], bbox=bbox, datetime=f"{_rfc3339(t0)}/{_rfc3339(t1)}", limit=limit,
            query={"eo:cloud_cover": {"lte": max_cloud_cover}} if send_query else None)
        items: list[pystac.Item] = []
        sizes: list[int] = []
        matched: int | None = None
        last: dict[str, Any] = {}
        for last in search.pages_as_dicts():
            matched = _matched(last) if not sizes else matched
            sizes.append(len(last.get("features", [])))
            # no root: a kept client would cache every item of the night (pystac's resolved objects)
            items.extend(pystac.ItemCollection.from_dict(last, preserve_dict=False).items)
            if _time.monotonic() > deadline:
                raise CatalogError(f"STAC search at {url} took longer than {max_total_s:g} s "
                                   f"({len(items)} items so far); giving up")
        # no count in the answer: a full last page without `next` may be a dropped link, so count
        if matched is None and sizes and not _has_next(last) and sizes[-1] >= min(limit, max(sizes[:-1] or [limit])):
            probe = client.search(collections=[collection], bbox=bbox, datetime=f"{_rfc3339(t0)}/{_rfc3339(t1)}",
                                  limit=len(items) + 1, query=search.get_parameters().get("query"))
            n = sum(len(p.get("features", [])) for p in probe.pages_as_dicts())
            matched = n if n > len(items) else None
    except CatalogError:
        _clients().pop(key, None)
        raise
    except Exception as e:  # APIError, connection errors, non-STAC answers: all "the catalogue failed"
        _clients().pop(key, None)        # the next search starts from a fresh landing page
        status = getattr(e, "status_code", None)
        raise CatalogError(f"STAC search at {url} failed after {_time.monotonic() - began:.1f} s "
                           f"(up to {retries} retries per call): {type(e).__name__}"
                           f"{f' HTTP {status}' if status else ''}: {e}") from e
    paged = len(items)
    from shapely.geometry import box as make_box
    window = make_box(*bbox)
    outside = [it.id for it in items if not _touches(it, window)]
    if outside:     # an API that ignored bbox: these would only be NaN steps (or misaligned grids)
        log.warning("STAC search at %s returned %d items outside the window %s, dropped: %s", url, len(outside),
                    bbox, ", ".join(outside[:5]) + (" ..." if len(outside) > 5 else ""))
        items = [it for it in items if it.id not in set(outside)]
    if matched is not None and paged < matched:
        log.warning("STAC search at %s matched %d items but paged only %d (a `next` link lost?): "
                    "the evidence of this window is incomplete", url, matched, paged)
    if max_cloud_cover is not None:
        # Some APIs ignore `query`; items without eo:cloud_cover cannot be shown to meet the
        # limit and pgstac drops them server-side too, so the result is the same either way.
        items = [it for it in items
                 if it.properties.get("eo:cloud_cover") is not None
                 and it.properties["eo:cloud_cover"] <= max_cloud_cover]
    items = list({it.id: it for it in items}.values())    # an item repeated across pages counts once
    if source is not None:
        items = normalise_items(items, source, cloud_prob=cloud_prob)
    return Scenes(sorted(items, key=lambda it: (_when(it), it.id)), matched=matched, paged=paged)
