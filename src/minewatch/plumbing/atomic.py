"""Atomic writes: a reader never sees half a file (temp file in the same folder, then rename)."""
from __future__ import annotations

import io
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openpyxl import Workbook


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path beside `path`; on success it replaces `path` in one rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the pid in the name lets runfolder.remove_leftovers tell a killed run's temp from a live one's
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.pid{os.getpid()}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())   # mkstemp makes 0600; outputs are for others to read
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def write_text(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


FIXED_TIMESTAMP = datetime(2025, 7, 1, 0, 0, 0)   # the regulation's entry into force


def deterministic_zip(data: bytes) -> bytes:
    """Fix zip entry timestamps and docProps/core.xml dates (openpyxl stamps 'now'),
    so the same workbook gives the same bytes."""
    stamp = FIXED_TIMESTAMP.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:(?:modified|created)[^>]*>)[^<]*(<)",
                                 rb"\g<1>" + stamp + rb"\g<2>", content)
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = info.external_attr
            dst.writestr(zi, content)
    return out.getvalue()


def write_workbook(path: str | Path, wb: Workbook) -> Path:
    """An openpyxl workbook saved atomically and byte-for-byte reproducibly."""
    wb.properties.created = wb.properties.modified = FIXED_TIMESTAMP
    buf = io.BytesIO()
    wb.save(buf)
    with atomic_path(path) as tmp:
        tmp.write_bytes(deterministic_zip(buf.getvalue()))
    return Path(path)


def put_bytes(fs: Any, path: str, blob: bytes) -> None:
    """`blob` at `path` on an fsspec filesystem, whole or not at all: a local file through a temp
    file and a rename, elsewhere one PUT (object stores write an object whole or not at all)."""
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    if "file" in protocols:
        with atomic_path(path) as tmp:
            tmp.write_bytes(blob)
    else:
        fs.pipe_file(path, blob)
