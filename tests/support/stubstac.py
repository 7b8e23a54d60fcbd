"""A tiny STAC API on 127.0.0.1 for CLI tests that need a catalogue but no scenes.

`search` chooses what /search answers: "empty" (no items: every mine runs on nothing) or
"fail" (HTTP 400, a permanent error: every mine fails). The landing page, conformance and
the collection are real enough for pystac-client.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

from tests.support.loopback import loopback_server

COLLECTION = "sentinel-2-l2a"
CONFORMS = ["https://api.stacspec.org/v1.0.0/core", "https://api.stacspec.org/v1.0.0/item-search",
            "https://api.stacspec.org/v1.0.0/collections"]



def _handler(base: str, search: str) -> type[BaseHTTPRequestHandler]:
    collection = {"type": "Collection", "stac_version": "1.0.0", "id": COLLECTION, "description": "stub",
                  "license": "proprietary", "links": [],
                  "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                             "temporal": {"interval": [["2015-01-01T00:00:00Z", None]]}}}
    landing = {"type": "Catalog", "stac_version": "1.0.0", "id": "stub", "description": "stub", "conformsTo": CONFORMS,
               "links": [{"rel": "self", "href": base + "/"}, {"rel": "root", "href": base + "/"},
                         {"rel": "search", "href": base + "/search", "method": "POST",
                          "type": "application/geo+json"},
                         {"rel": "search", "href": base + "/search", "method": "GET",
                          "type": "application/geo+json"},
                         {"rel": "data", "href": base + "/collections"}]}

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

        def _send(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(self) -> None:
            path = self.path.split("?")[0].rstrip("/")
            if path == "":
                self._send(200, landing)
            elif path == "/conformance":
                self._send(200, {"conformsTo": CONFORMS})
            elif path == "/collections":
                self._send(200, {"collections": [collection], "links": []})
            elif path == f"/collections/{COLLECTION}":
                self._send(200, collection)
            elif path == "/search" and search == "empty":
                self._send(200, {"type": "FeatureCollection", "features": [], "links": [],
                                 "numberMatched": 0, "numberReturned": 0})
            elif path == "/search":
                self._send(400, {"code": "BadRequest", "description": "stub: search refused"})
            else:
                self._send(404, {"code": "NotFound", "description": path})

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self._route()

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._route()

    return H


@contextmanager
def stub_stac(search: str = "empty") -> Iterator[str]:
    """The stub's root URL while the block runs."""
    with loopback_server(BaseHTTPRequestHandler) as (srv, base):
        srv.RequestHandlerClass = _handler(base, search)     # the answers name the server's own URL
        yield base
