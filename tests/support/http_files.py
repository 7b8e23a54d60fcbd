"""A real HTTP file server on 127.0.0.1 with Range requests (GDAL's /vsicurl/ reads COGs by range)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from tests.support.loopback import loopback_server


def _handler(root: Path) -> type[BaseHTTPRequestHandler]:
    class Files(BaseHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

        def _body(self) -> tuple[int, bytes, int, int] | None:
            p = (root / self.path.split("?")[0].lstrip("/")).resolve()
            if root not in p.parents or not p.is_file():
                self.send_error(404)
                return None
            data = p.read_bytes()
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes="):
                a, _, b = rng[6:].partition("-")
                start, end = int(a), min(int(b) if b else len(data) - 1, len(data) - 1)
                return 206, data[start:end + 1], len(data), start
            return 200, data, len(data), 0

        def _send(self, head_only: bool) -> None:
            got = self._body()
            if got is None:
                return
            code, body, total, start = got
            self.send_response(code)
            self.send_header("Content-Type", "image/tiff")
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(body)))
            if code == 206:
                self.send_header("Content-Range", f"bytes {start}-{start + len(body) - 1}/{total}")
            self.end_headers()
            if not head_only:
                self.wfile.write(body)

        def do_GET(self) -> None:
            self._send(False)

        def do_HEAD(self) -> None:
            self._send(True)

    return Files


@contextmanager
def serve_files(root: Path) -> Iterator[str]:
    """Serve `root` over HTTP on a free loopback port; yields the base URL (no trailing slash)."""
    with loopback_server(_handler(Path(root).resolve())) as (_, url):
        yield url
