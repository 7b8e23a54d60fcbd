"""A local S3-compatible server (moto in server mode on a free 127.0.0.1 port) for state on object storage."""
from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def moto_s3(bucket: str) -> Iterator[dict[str, Any]]:
    """fsspec storage options (s3fs) for a fresh server holding an empty `bucket`, while the block runs."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    opts = {"key": "testing", "secret": "testing", "client_kwargs": {
        "endpoint_url": f"http://127.0.0.1:{port}", "region_name": "us-east-1"}}
    try:
        boto3.client("s3", aws_access_key_id="testing", aws_secret_access_key="testing",
                     **opts["client_kwargs"]).create_bucket(Bucket=bucket)
        yield opts
    finally:
        server.stop()
