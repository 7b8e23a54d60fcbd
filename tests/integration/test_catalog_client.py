"""sky.catalog keeps one pystac-client Client per thread and API: a night's mines share it
instead of opening the API (landing page, collection) once each."""
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from pystac_client import Client
from tests.support.paths import REPO

from minewatch.promised.registry import read_registry
from minewatch.sky import catalog

COLL = "sentinel-2-l2a"


@pytest.fixture()
def opened(monkeypatch):
    """The URLs Client.open was called with, this test; no client kept from before it."""
    calls: list[str] = []
    real = Client.open

    def spy(url, *a, **k):
        calls.append(url)
        return real(url, *a, **k)
    catalog.forget_clients()
    monkeypatch.setattr(Client, "open", staticmethod(spy))
    yield calls
    catalog.forget_clients()


def _boxes() -> list[tuple[float, float, float, float]]:
    return [r.boundary.bounds for r in read_registry(REPO / "sample_scenes" / "registry.csv").rights]


def test_one_client_per_thread_and_url_serves_every_mine(sample_loaded, opened):
    url, boxes = sample_loaded.url, _boxes()

    def night() -> list[list[str]]:
        return [[it.id for it in catalog.search_scenes(url, COLL, b, date(2024, 1, 1), date(2026, 11, 20))]
                for b in boxes]
    shared = night()
    assert opened == [url] and all(shared)              # three mines, one client
    assert night() == shared and opened == [url]        # the next night in this thread: still that one
    with ThreadPoolExecutor(1) as ex:                   # another thread opens its own (requests.Session)
        assert ex.submit(night).result() == shared
    assert opened == [url, url]
    catalog.forget_clients()                            # a fresh client finds the same items
    assert night() == shared and len(opened) == 3


def test_a_failed_search_drops_the_kept_client(sample_loaded, opened):
    url, (b, *_) = sample_loaded.url, _boxes()
    with pytest.raises(catalog.CatalogError, match="not found"):
        catalog.search_scenes(url, "no-such-collection", b, date(2026, 1, 1), date(2026, 11, 20))
    assert catalog.search_scenes(url, COLL, b, date(2026, 1, 1), date(2026, 11, 20))
    assert opened == [url, url]          # the failure's client was not kept
