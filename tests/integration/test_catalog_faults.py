"""STAC answers that are not transient-looking (issue 18 item 10), injected by a fault proxy on
127.0.0.1 in front of the real local catalogue (pgstac + stac-fastapi, fixture `stac_catalog`):
a body cut short, an HTML page with status 200, a dropped `next` link, a 503 once, an item
outside the searched window."""
from __future__ import annotations

import copy
import json
import logging
from contextlib import ExitStack
from datetime import date
from http.server import BaseHTTPRequestHandler

import pytest
import rasterio.errors
import requests
from tests.support.loopback import loopback_server

from minewatch import ops
from minewatch.cli import BadInput, check_catalog
from minewatch.config import Settings
from minewatch.sky.catalog import CatalogError, MalformedAnswerError, open_catalog, search_scenes, shortfall

pytestmark = pytest.mark.slow  # runs the catalogue

COLL = "s2-faults"
MINE = (110.00, 39.50, 110.05, 39.55)
FAR = (117.00, 36.00, 117.05, 36.05)
DAYS = ["2023-07-05", "2023-07-10", "2023-07-15", "2023-07-20", "2023-07-25"]


def _item(i, day):
    x0, y0, x1, y1 = MINE[0] - 0.05, MINE[1] - 0.05, MINE[2] + 0.05, MINE[3] + 0.05
    return {"type": "Feature", "stac_version": "1.0.0", "stac_extensions": [],
            "id": f"S2A_49SFA_{day.replace('-', '')}_{i}_L2A", "collection": COLL, "bbox": [x0, y0, x1, y1],
            "geometry": {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]},
            "properties": {"datetime": f"{day}T03:30:00Z", "eo:cloud_cover": 5.0, "platform": "sentinel-2a"},
            "assets": {"red": {"href": "https://example.invalid/red.tif", "roles": ["data"]}}, "links": []}


@pytest.fixture(scope="module")
def upstream(stac_catalog, tmp_path_factory):
    d = tmp_path_factory.mktemp("faults")
    (d / "items").mkdir()
    (d / "collection.json").write_text(json.dumps(
        {"type": "Collection", "stac_version": "1.0.0", "id": COLL, "description": "fault tests",
         "license": "proprietary", "links": [], "extent": {"spatial": {"bbox": [[73.0, 18.0, 135.0, 54.0]]},
                                 "temporal": {"interval": [["2015-06-27T00:00:00Z", None]]}}}))
    for i, day in enumerate(DAYS):
        (d / "items" / f"{i}.json").write_text(json.dumps(_item(0, day)))
    assert stac_catalog.load(d) == len(DAYS)
    return stac_catalog.url


class FaultProxy:
    """Forwards every request to `upstream`, rewriting its URLs to the proxy's; `faults[path]`
    is consumed one per request: an HTTP status, "truncate", "html", "drop_next", "outside"."""

    def __init__(self, upstream: str) -> None:
        self.upstream, self.faults, self.hits = upstream.rstrip("/"), {}, {}
        owner = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, code, data, ctype="application/json"):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method):
                path = self.path.split("?")[0].rstrip("/") or "/"
                owner.hits[path] = owner.hits.get(path, 0) + 1
                body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0)) if method == "POST" else None
                fault = owner.faults[path].pop(0) if owner.faults.get(path) else None
                if isinstance(fault, int):
                    return self._send(fault, b'{"code": "Unavailable"}')
                if fault == "html":
                    return self._send(200, b"<html><body><h1>Gateway maintenance</h1></body></html>", "text/html")
                r = requests.request(method, owner.upstream + self.path, data=body, timeout=30,
                                     headers={"Content-Type": self.headers.get("Content-Type", "application/json")})
                text = r.text.replace(owner.upstream, owner.url)
                if fault in ("drop_next", "outside"):
                    page = json.loads(text)
                    if fault == "drop_next":
                        page["links"] = [lk for lk in page.get("links", []) if lk.get("rel") != "next"]
                    else:
                        far = copy.deepcopy(page["features"][0])
                        x0, y0, x1, y1 = FAR
                        far.update(id="S2A_50SME_20230705_0_L2A", bbox=list(FAR), geometry={
                            "type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]})
                        page["features"].append(far)
                    text = json.dumps(page)
                data = text.encode()
                if fault == "truncate":
                    data = data[:len(data) // 2]      # a body cut short, its length declared as sent
                self._send(r.status_code, data, r.headers.get("Content-Type", "application/json"))

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

        self._stack = ExitStack()
        self.server, self.url = self._stack.enter_context(loopback_server(H))

    def close(self) -> None:
        self._stack.close()


@pytest.fixture()
def proxy(upstream):
    p = FaultProxy(upstream)
    yield p
    p.close()


def _search(p, **kw):
    kw.setdefault("backoff_s", 0.05)
    kw.setdefault("page_size", 2)
    return search_scenes(p.url, COLL, MINE, date(2023, 7, 1), date(2023, 7, 31), timeout=10, **kw)


def _days(items):
    return [it.datetime.date().isoformat() for it in items]


def test_clean_search_is_complete(proxy):
    got = _search(proxy)
    assert _days(got) == DAYS and shortfall(got) is None and got.paged == 5


def test_a_truncated_body_and_an_html_200_are_retried_like_a_5xx(proxy):
    proxy.faults["/search"] = ["truncate", "html"]
    got = _search(proxy, retries=3)
    assert _days(got) == DAYS and proxy.hits["/search"] == 2 + 3      # two bad answers, then three pages
    proxy.faults["/"] = ["html", "truncate"]
    assert _days(_search(proxy, retries=3)) == DAYS


def test_a_body_that_stays_malformed_is_a_transient_catalog_error(proxy):
    proxy.faults["/search"] = ["html"] * 10
    with pytest.raises(CatalogError, match="not STAC JSON") as e:
        _search(proxy, retries=2)
    assert isinstance(e.value.__cause__, MalformedAnswerError) and proxy.hits["/search"] == 3
    assert ops.is_transient(e.value)       # the mine task retries it, as it does a 5xx


def test_a_503_once_on_the_landing_page_waits_instead_of_failing_the_cli(proxy):
    proxy.faults["/"] = [503]
    s = Settings(registry="r.csv", plans="plans", catalog={"url": proxy.url, "backoff_s": 0.05, "timeout_s": 5})
    assert check_catalog(s) is None and proxy.hits["/"] == 2
    assert open_catalog(proxy.url, 5, backoff_s=0.05).id


def test_a_catalogue_that_stays_down_is_exit_2_with_one_line(proxy, capsys):
    proxy.faults["/"] = [503] * 20
    s = Settings(registry="r.csv", plans="plans",
                 catalog={"url": proxy.url, "backoff_s": 0.05, "timeout_s": 5, "retries": 2})
    with pytest.raises(BadInput, match="无法连接影像目录") as e:     # main() prints it as one line, exit 2
        check_catalog(s)
    line = str(e.value)
    assert "\n" not in line and proxy.url in line and "503" in line


def test_a_dropped_next_link_marks_the_evidence_incomplete(proxy, caplog):
    proxy.faults["/search"] = [None, "drop_next"]        # page 2 of 3 loses its `next`
    with caplog.at_level(logging.WARNING, logger="minewatch"):
        got = _search(proxy)
    assert len(got) == 4 and set(_days(got)) < set(DAYS) and (got.paged, got.matched) == (4, 5)
    assert shortfall(got) == "STAC search matched 5 items but paged only 4"
    assert "incomplete" in caplog.text


def test_an_item_outside_the_window_is_dropped_and_logged(proxy, caplog):
    proxy.faults["/search"] = ["outside"]
    with caplog.at_level(logging.WARNING, logger="minewatch"):
        got = _search(proxy, page_size=10)
    assert _days(got) == DAYS and "S2A_50SME_20230705_0_L2A" not in [it.id for it in got]
    assert "outside the window" in caplog.text and "S2A_50SME_20230705_0_L2A" in caplog.text


def test_gdal_http_timeout_text_is_transient_but_a_missing_local_file_is_not():
    http = rasterio.errors.RasterioIOError("'/vsicurl/http://127.0.0.1:9/a/B04.tif' does not exist in the file "
                                           "system, and is not recognized as a supported dataset name.")
    local = rasterio.errors.RasterioIOError("'/data/a/B04.tif' does not exist in the file system, and is not "
                                            "recognized as a supported dataset name.")
    assert ops.is_transient(http) and not ops.is_transient(local)
