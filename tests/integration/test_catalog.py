"""The local catalogue end to end: load with pypgstac, search through the STAC API."""
from __future__ import annotations

import json
import socket
import time
from contextlib import ExitStack
from datetime import date, datetime, timezone
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pystac_client
import pytest
from tests.support.loopback import loopback_server
from tests.support.paths import SHARED

from minewatch import localstac
from minewatch.localstac import CatalogServerError
from minewatch.sky import sources
from minewatch.sky.catalog import CatalogError, search_scenes

pytestmark = pytest.mark.slow  # runs a server

COLL = "sentinel-2-l2a"
# Two mines far apart: Ordos (Inner Mongolia) and central Shandong.
MINE_A = (110.00, 39.50, 110.05, 39.55)
MINE_B = (117.00, 36.00, 117.05, 36.05)
BOTH = (109.0, 35.0, 118.0, 40.0)

# id, footprint, datetime, eo:cloud_cover (None: property missing)
SCENES = [
    ("S2A_49SFA_20230705_0_L2A", MINE_A, "2023-07-05T03:30:00Z", 5.0),
    ("S2B_49SFA_20230720_0_L2A", MINE_A, "2023-07-20T03:30:00Z", 60.0),
    ("S2A_49SFA_20230731_0_L2A", MINE_A, "2023-07-31T23:59:59Z", 10.0),  # last second of July
    ("S2A_49SFA_20230810_0_L2A", MINE_A, "2023-08-10T03:30:00Z", 95.0),
    ("S2A_50SME_20230705_0_L2A", MINE_B, "2023-07-05T03:30:00Z", 2.0),   # same instant as the first
    ("S2B_50SME_20230710_0_L2A", MINE_B, "2023-07-10T03:00:00Z", None),
    ("S2B_50SME_20230901_0_L2A", MINE_B, "2023-09-01T03:00:00Z", 30.0),
]


def _footprint(b, pad=0.05):
    x0, y0, x1, y1 = b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad
    return [x0, y0, x1, y1], {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def _item(sid, b, dt, cc, collection=COLL):
    bbox, geom = _footprint(b)
    props = {"datetime": dt, "platform": "sentinel-2a", "constellation": "sentinel-2",
             "proj:code": "EPSG:32649" if b is MINE_A else "EPSG:32650",
             "s2:processing_baseline": "05.09", "s2:mgrs_tile": sid.split("_")[1]}
    if cc is not None:
        props["eo:cloud_cover"] = cc
    assets = {k: {"href": f"https://example.invalid/{sid}/{k.upper()}.tif",
                  "type": "image/tiff; application=geotiff; profile=cloud-optimized", "roles": ["data"]}
              for k in ("red", "nir", "scl")}
    return {"type": "Feature", "stac_version": "1.0.0",
            "stac_extensions": ["https://stac-extensions.github.io/eo/v1.1.0/schema.json",
                                "https://stac-extensions.github.io/projection/v2.0.0/schema.json"],
            "id": sid, "collection": collection, "bbox": bbox, "geometry": geom,
            "properties": props, "assets": assets, "links": []}


def _collection(cid=COLL):
    return {"type": "Collection", "stac_version": "1.0.0", "id": cid, "description": "test scenes",
            "license": "proprietary", "links": [],
            "extent": {"spatial": {"bbox": [[73.0, 18.0, 135.0, 54.0]]},
                       "temporal": {"interval": [["2015-06-27T00:00:00Z", None]]}}}


def _write_folder(root: Path, scenes, cid=COLL) -> Path:
    (root / "items").mkdir(parents=True, exist_ok=True)
    (root / "collection.json").write_text(json.dumps(_collection(cid)))
    for s in scenes:
        (root / "items" / f"{s[0]}.json").write_text(json.dumps(_item(*s, collection=cid)))
    return root


@pytest.fixture(scope="module")
def loaded(stac_catalog, tmp_path_factory):
    folder = _write_folder(tmp_path_factory.mktemp("scenes"), SCENES)
    assert stac_catalog.load(folder) == len(SCENES)
    return stac_catalog, folder


def _ids(items):
    return [it.id for it in items]


def test_search_by_bbox(loaded):
    cat, _ = loaded
    got = search_scenes(cat.url, COLL, MINE_A, date(2023, 1, 1), date(2023, 12, 31))
    assert _ids(got) == [s[0] for s in SCENES if s[1] is MINE_A]  # and in date order
    got_b = search_scenes(cat.url, COLL, MINE_B, date(2023, 1, 1), date(2023, 12, 31))
    assert {it.id for it in got_b} == {s[0] for s in SCENES if s[1] is MINE_B}


def test_results_keep_earth_search_properties_and_assets(loaded):
    cat, _ = loaded
    (it,) = search_scenes(cat.url, COLL, MINE_A, date(2023, 7, 5), date(2023, 7, 5))
    assert it.id == "S2A_49SFA_20230705_0_L2A"
    assert it.properties["proj:code"] == "EPSG:32649"
    assert it.properties["s2:processing_baseline"] == "05.09"
    assert it.properties["eo:cloud_cover"] == 5.0
    assert it.assets["nir"].href == "https://example.invalid/S2A_49SFA_20230705_0_L2A/NIR.tif"
    assert it.collection_id == COLL


def test_sorted_by_datetime_then_id(loaded, monkeypatch):
    cat, _ = loaded
    # pgstac already answers newest first; reverse it as another API might, to test our sort
    real = pystac_client.ItemSearch.items
    monkeypatch.setattr(pystac_client.ItemSearch, "items", lambda self: iter(list(real(self))[::-1]))
    got = search_scenes(cat.url, COLL, BOTH, date(2023, 7, 1), date(2023, 9, 30))
    keys = [(it.datetime, it.id) for it in got]
    assert keys == sorted(keys) and len(got) == len(SCENES)
    # Same instant on both mines: the tie is broken by id.
    assert _ids(got)[:2] == ["S2A_49SFA_20230705_0_L2A", "S2A_50SME_20230705_0_L2A"]


def test_date_range_is_inclusive_whole_days(loaded):
    cat, _ = loaded
    july = search_scenes(cat.url, COLL, MINE_A, date(2023, 7, 1), date(2023, 7, 31))
    assert _ids(july) == ["S2A_49SFA_20230705_0_L2A", "S2B_49SFA_20230720_0_L2A", "S2A_49SFA_20230731_0_L2A"]
    assert _ids(search_scenes(cat.url, COLL, MINE_A, date(2023, 7, 20), date(2023, 7, 20))) \
        == ["S2B_49SFA_20230720_0_L2A"]
    assert search_scenes(cat.url, COLL, MINE_A, date(2023, 7, 6), date(2023, 7, 19)) == []
    # datetimes are exact instants (naive = UTC)
    got = search_scenes(cat.url, COLL, MINE_A, datetime(2023, 7, 20, 4), datetime(2023, 8, 1, tzinfo=timezone.utc))
    assert _ids(got) == ["S2A_49SFA_20230731_0_L2A"]


def test_cloud_cover_limit(loaded):
    cat, _ = loaded
    got = search_scenes(cat.url, COLL, MINE_A, date(2023, 1, 1), date(2023, 12, 31), max_cloud_cover=50)
    assert _ids(got) == ["S2A_49SFA_20230705_0_L2A", "S2A_49SFA_20230731_0_L2A"]
    # the limit is inclusive, and a scene without eo:cloud_cover cannot meet it
    got_b = search_scenes(cat.url, COLL, MINE_B, date(2023, 1, 1), date(2023, 12, 31), max_cloud_cover=30)
    assert _ids(got_b) == ["S2A_50SME_20230705_0_L2A", "S2B_50SME_20230901_0_L2A"]


def test_cloud_cover_enforced_when_api_ignores_query(loaded, monkeypatch):
    cat, _ = loaded
    real = pystac_client.Client.search

    def no_query(self, *a, **kw):
        kw.pop("query", None)
        return real(self, *a, **kw)

    monkeypatch.setattr(pystac_client.Client, "search", no_query)
    got = search_scenes(cat.url, COLL, BOTH, date(2023, 1, 1), date(2023, 12, 31), max_cloud_cover=10)
    assert _ids(got) == ["S2A_49SFA_20230705_0_L2A", "S2A_50SME_20230705_0_L2A", "S2A_49SFA_20230731_0_L2A"]


def test_pages_are_followed(loaded):
    cat, _ = loaded
    got = search_scenes(cat.url, COLL, BOTH, date(2023, 1, 1), date(2023, 12, 31), page_size=2)
    assert len(got) == len(SCENES)


def test_loading_twice_upserts_without_duplicates(loaded, tmp_path):
    cat, folder = loaded
    assert cat.load(folder) == len(SCENES)
    assert len(search_scenes(cat.url, COLL, BOTH, date(2023, 1, 1), date(2023, 12, 31))) == len(SCENES)
    # a changed item replaces the old one (upsert), it is not added beside it
    changed = [(sid, b, dt, 15.0 if sid == "S2B_49SFA_20230720_0_L2A" else cc) for sid, b, dt, cc in SCENES]
    cat.load(_write_folder(tmp_path / "v2", changed))
    got = search_scenes(cat.url, COLL, MINE_A, date(2023, 7, 20), date(2023, 7, 20))
    assert [(it.id, it.properties["eo:cloud_cover"]) for it in got] == [("S2B_49SFA_20230720_0_L2A", 15.0)]
    cat.load(folder)  # restore for other tests
    assert len(search_scenes(cat.url, COLL, BOTH, date(2023, 1, 1), date(2023, 12, 31))) == len(SCENES)


def test_malformed_item_names_the_file_and_loads_nothing(stac_catalog, tmp_path):
    folder = _write_folder(tmp_path / "bad", SCENES[:2], cid="broken-coll")
    bad = folder / "items" / "zz_broken.json"
    bad.write_text('{"type": "Feature", "id": "x",')
    with pytest.raises(CatalogServerError, match="zz_broken.json"):
        stac_catalog.load(folder)
    with pytest.raises(CatalogError, match="broken-coll"):  # nothing written, not even the collection
        search_scenes(stac_catalog.url, "broken-coll", MINE_A, date(2023, 1, 1), date(2023, 12, 31))


def test_item_of_another_collection_is_refused(stac_catalog, tmp_path):
    folder = _write_folder(tmp_path / "mixed", SCENES[:1])
    (folder / "items" / "other.json").write_text(json.dumps(_item(*SCENES[1], collection="landsat")))
    with pytest.raises(CatalogServerError, match="other.json"):
        stac_catalog.load(folder)


def test_unknown_collection(loaded):
    cat, _ = loaded
    with pytest.raises(CatalogError) as e:
        search_scenes(cat.url, "sentinel-1-grd", MINE_A, date(2023, 1, 1), date(2023, 12, 31))
    assert cat.url in str(e.value) and "sentinel-1-grd" in str(e.value) and COLL in str(e.value)


def test_unreachable_api_names_url():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(CatalogError, match=f"127.0.0.1:{port}"):
        search_scenes(url, COLL, MINE_A, date(2023, 1, 1), date(2023, 12, 31), timeout=5)
    assert not localstac.is_up(url)


def test_bad_arguments_are_caught_before_the_network():
    with pytest.raises(ValueError, match="lon/lat"):
        search_scenes("http://127.0.0.1:9", COLL, (500000, 4370000, 501000, 4371000),
                      date(2023, 1, 1), date(2023, 2, 1))
    with pytest.raises(ValueError, match="after"):
        search_scenes("http://127.0.0.1:9", COLL, MINE_A, date(2023, 2, 1), date(2023, 1, 1))


def test_up_twice_is_idempotent(stac_catalog):
    pid = (stac_catalog.data_dir / "api.pid").read_text()
    t = time.monotonic()
    url = localstac.up(stac_catalog.data_dir, pg_port=stac_catalog.pg_port, api_port=stac_catalog.api_port)
    assert url == stac_catalog.url and time.monotonic() - t < 2
    assert (stac_catalog.data_dir / "api.pid").read_text() == pid  # same server, not a new one
    assert localstac.is_up(url)


def test_up_on_other_ports_while_running_is_refused(stac_catalog):
    with pytest.raises(CatalogServerError, match="down"):
        localstac.up(stac_catalog.data_dir, pg_port=stac_catalog.pg_port + 1, api_port=stac_catalog.api_port)


def test_load_and_down_when_not_running(tmp_path):
    localstac.down(tmp_path / "never-started")  # no error
    folder = _write_folder(tmp_path / "f", SCENES[:1])
    with pytest.raises(CatalogServerError, match="catalog up"):
        localstac.load(folder, tmp_path / "never-started", pg_port=54399)


def test_up_restarts_a_dead_api(stac_catalog):
    import os
    import signal
    pid = int((stac_catalog.data_dir / "api.pid").read_text())
    os.killpg(pid, signal.SIGTERM)  # the fixture's own uvicorn
    for _ in range(50):
        if not localstac.is_up(stac_catalog.url):
            break
        time.sleep(0.1)
    assert not localstac.is_up(stac_catalog.url)
    assert localstac.up(stac_catalog.data_dir, pg_port=stac_catalog.pg_port,
                        api_port=stac_catalog.api_port) == stac_catalog.url
    assert localstac.is_up(stac_catalog.url)
    assert int((stac_catalog.data_dir / "api.pid").read_text()) != pid


# ---------------------------------------------------------------------------------------
# Surviving real APIs: a real HTTP server on loopback that misbehaves like public ones do
# (503 bursts, dropped connections, slow answers) and serves real Earth Search item JSON.
# ---------------------------------------------------------------------------------------

ES_ITEMS = Path("/work/shared/fixtures/stac-items/earth_search_v1_s2l2a_from_eodm.json")
if not ES_ITEMS.is_file():
    ES_ITEMS = SHARED / "fixtures" / "stac-items" / ES_ITEMS.name
OMAN = (48.5, 18.0, 50.0, 18.9)          # inside tiles 39QTA/39QUA of the fixture items (this server ignores bbox)
CONF_CORE = ["https://api.stacspec.org/v1.0.0/core", "https://api.stacspec.org/v1.0.0/item-search",
             "https://api.stacspec.org/v1.0.0/collections",
             "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"]
CONF_QUERY = "https://api.stacspec.org/v1.0.0/item-search#query"


class FlakyStac:
    """A minimal STAC API. `faults[path]` is a list consumed one per request: an HTTP status to
    answer with, "drop" (close without answering) or ("slow", seconds) before answering."""

    def __init__(self, query=True):
        self.items = json.loads(ES_ITEMS.read_text())["features"]
        self.query = query
        self.faults: dict[str, list] = {}
        self.hits: dict[str, int] = {}
        self.bodies: list[dict] = []
        owner = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, code, obj, ctype="application/json"):
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method):
                path = self.path.split("?")[0].rstrip("/") or "/"
                body = {}
                if method == "POST":
                    body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                owner.hits[path] = owner.hits.get(path, 0) + 1
                fault = owner.faults.get(path, []).pop(0) if owner.faults.get(path) else None
                if fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if isinstance(fault, tuple):
                    time.sleep(fault[1])
                elif isinstance(fault, int):
                    return self._send(fault, {"code": "Unavailable", "description": "try later"})
                try:
                    self._send(*owner.answer(method, path, body))
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

        self._stack = ExitStack()
        self.server, self.url = self._stack.enter_context(loopback_server(H))

    def answer(self, method, path, body):
        u = self.url
        if path == "/":
            return 200, {"type": "Catalog", "id": "flaky", "description": "test API", "stac_version": "1.0.0",
                         "conformsTo": CONF_CORE + ([CONF_QUERY] if self.query else []),
                         "links": [{"rel": "self", "href": f"{u}/"}, {"rel": "root", "href": f"{u}/"},
                                   {"rel": "conformance", "href": f"{u}/conformance"},
                                   {"rel": "data", "href": f"{u}/collections"},
                                   {"rel": "search", "href": f"{u}/search", "method": "POST",
                                    "type": "application/geo+json"}]}
        if path == f"/collections/{COLL}":
            return 200, {**_collection(), "links": [{"rel": "self", "href": f"{u}{path}"}]}
        if path == "/collections":
            return 200, {"collections": [_collection()], "links": []}
        if path == "/search" and method == "POST":
            self.bodies.append(body)
            limit, start = int(body.get("limit", 10)), int(body.get("token", 0))
            page = self.items[start:start + limit]
            links = []
            if start + limit < len(self.items):
                links.append({"rel": "next", "href": f"{u}/search", "method": "POST",
                              "body": {"token": start + limit}, "merge": True})
            return 200, {"type": "FeatureCollection", "features": page, "links": links}
        return 404, {"code": "NotFound", "description": path}

    def close(self):
        self._stack.close()


@pytest.fixture()
def flaky():
    api = FlakyStac()
    yield api
    api.close()


def _search(api, **kw):
    kw.setdefault("backoff_s", 0.05)
    return search_scenes(api.url, COLL, OMAN, date(2023, 6, 1), date(2023, 6, 30), timeout=5, **kw)


def test_503_twice_then_answer_is_retried(flaky):
    flaky.faults["/search"] = [503, 503]
    got = _search(flaky, retries=3)
    assert _ids(got) == ["S2B_39QTA_20230623_0_L2A", "S2A_39QUA_20230628_0_L2A", "S2A_39QTA_20230628_0_L2A"]
    assert flaky.hits["/search"] == 3                 # two refusals and the answer


def test_retries_back_off_exponentially(flaky):
    flaky.faults["/search"] = [503, 503, 503]
    t = time.monotonic()
    assert len(_search(flaky, retries=3, backoff_s=0.2)) == 3
    assert time.monotonic() - t >= 0.2 + 0.4 + 0.8 - 0.05     # 0.2, 0.4, 0.8 s waits


def test_landing_page_errors_and_dropped_connections_are_retried(flaky):
    flaky.faults["/"] = [502]
    flaky.faults["/search"] = ["drop", 500]
    assert len(_search(flaky, retries=2)) == 3
    assert flaky.hits["/search"] == 3


def test_a_timeout_is_retried(flaky):
    flaky.faults["/search"] = [("slow", 2.0)]
    got = search_scenes(flaky.url, COLL, OMAN, date(2023, 6, 1), date(2023, 6, 30), timeout=0.5,
                        retries=2, backoff_s=0.05)
    assert len(got) == 3 and flaky.hits["/search"] == 2


def test_persistent_failure_raises_catalog_error_in_bounded_time(flaky):
    flaky.faults["/search"] = [503] * 100
    t = time.monotonic()
    with pytest.raises(CatalogError, match="503") as e:
        _search(flaky, retries=2)
    assert flaky.hits["/search"] == 3 and flaky.url in str(e.value)
    # many retries allowed, but the whole search stops at max_total_s
    flaky.faults["/search"] = [503] * 100
    flaky.hits.clear()
    t = time.monotonic()
    with pytest.raises(CatalogError):
        _search(flaky, retries=50, backoff_s=0.2, max_total_s=1.0)
    assert time.monotonic() - t < 2.5 and flaky.hits["/search"] < 10


def test_pages_are_bounded_and_followed(flaky):
    got = _search(flaky, page_size=2)
    assert len(got) == 3
    assert [b.get("limit") for b in flaky.bodies] == [2, 2]   # two pages of at most 2


def test_cloud_query_only_where_the_api_declares_it(flaky):
    got = _search(flaky, max_cloud_cover=4.1)
    assert flaky.bodies[-1]["query"] == {"eo:cloud_cover": {"lte": 4.1}}
    # this server ignores `query` anyway: the limit is enforced here (4.255 is dropped)
    assert sorted(_ids(got)) == ["S2A_39QTA_20230628_0_L2A", "S2B_39QTA_20230623_0_L2A"]
    _search(flaky, max_cloud_cover=4.1, client_side_cloud_filter=True)
    assert "query" not in flaky.bodies[-1]


def test_api_without_query_conformance_gets_no_query():
    api = FlakyStac(query=False)
    try:
        got = _search(api, max_cloud_cover=4.1)
        assert "query" not in api.bodies[-1]
        assert sorted(_ids(got)) == ["S2A_39QTA_20230628_0_L2A", "S2B_39QTA_20230623_0_L2A"]
    finally:
        api.close()


def test_results_can_come_back_normalised(flaky):
    got = _search(flaky, source=sources.get_source("earth-search", url=flaky.url))
    assert [it.datetime for it in got] == sorted(it.datetime for it in got)
    for it in got:
        assert it.properties["proj:epsg"] == 32639 and it.properties["minewatch:dn_offset"] == 0.0
        assert set(sources.BANDS) <= set(it.assets)
