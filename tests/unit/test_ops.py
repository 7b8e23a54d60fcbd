"""minewatch.ops.submit_bounded in a real Prefect flow: never more mines in flight than the limit."""
from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from prefect import flow, task

from minewatch import ops


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_submit_bounded_keeps_at_most_limit_in_flight_and_the_order(limit):
    lock = threading.Lock()
    now = {"in_flight": 0, "peak": 0}

    @task
    def work(i: int) -> int:
        with lock:
            now["in_flight"] += 1
            now["peak"] = max(now["peak"], now["in_flight"])
        time.sleep(0.05 * (i % 3))   # uneven durations: later items finish first sometimes
        with lock:
            now["in_flight"] -= 1
        return i * i

    @flow
    def f() -> list[int]:
        futures = ops.submit_bounded(lambda i: work.submit(i), range(9), limit)
        return [fu.result() for fu in futures]

    assert f() == [i * i for i in range(9)]
    assert now["peak"] == limit


def test_submit_bounded_reports_each_finished_future_once_before_returning():
    """`on_done` (the night's progress) sees every mine as it finishes, within the limit."""
    seen: list[int] = []

    @task
    def work(i: int) -> int:
        time.sleep(0.05 * (3 - i % 3))
        return i

    @flow
    def f() -> list[int]:
        futures = ops.submit_bounded(lambda i: work.submit(i), range(7), 2,
                                     on_done=lambda fu: seen.append(fu.result()))
        assert len(seen) == 7                      # all reported when submit_bounded returns
        return [fu.result() for fu in futures]

    assert f() == list(range(7))
    assert sorted(seen) == list(range(7))


# ----------------------------------------------------------------- disk faults: one rule for every writer

def _gdal_write_into(folder, width: int = 512):
    """The error rasterio raises when a GeoTIFF does not fit in `folder` (None if it fits)."""
    import numpy as np
    import rasterio
    from affine import Affine

    data = np.random.default_rng(0).random((4, width, width), dtype=np.float32)
    try:
        with rasterio.open(folder / "x.tif", "w", driver="GTiff", width=width, height=width, count=4,
                           dtype="float32", crs="EPSG:32650", transform=Affine(10, 0, 0, 0, -10, 0)) as dst:
            dst.write(data)
    except Exception as e:  # noqa: BLE001 - whatever GDAL raises is what is judged
        return e
    return None


def test_disk_fault_by_errno_and_in_a_chain(tmp_path):
    import errno
    import os

    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert ops.disk_fault(full, tmp_path) == f"磁盘已满 disk full: no space left for {tmp_path}"
    ro = OSError(errno.EROFS, os.strerror(errno.EROFS), str(tmp_path / "a.json"))
    assert ops.disk_fault(ro).startswith(f"输出目录只读 output folder is read-only: cannot write {tmp_path / 'a.json'}")
    try:                                   # wrapped, as a task or a library re-raises it
        try:
            raise full
        except OSError as e:
            raise RuntimeError("write-outputs failed") from e
    except RuntimeError as wrapped:
        assert ops.disk_fault(wrapped, tmp_path) is not None
        assert ops.failure_text(wrapped) == "磁盘已满 disk full: no space left for the output folder"
    assert ops.disk_fault(OSError(errno.ENOENT, "No such file")) is None
    assert ops.disk_fault(ValueError("No space left on device")) is None     # not an OS or GDAL error


@contextmanager
def _tiny_disk(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `where` for the test (skipped where mount is not permitted)."""
    where.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (mount needs root)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_gdal_write_error_is_a_full_disk_only_when_the_folder_is_nearly_full(tmp_path):
    import shutil

    from rasterio._err import CPLE_AppDefinedError

    seek = CPLE_AppDefinedError(3, 1, "TIFFAppendToStrip:Seek error at scanline 0")
    assert ops.disk_fault(seek) is None                 # no folder to look at: not guessed
    if shutil.disk_usage(tmp_path).free > 1 << 30:      # a roomy disk: some other write failure
        assert ops.disk_fault(seek, tmp_path) is None
    with _tiny_disk(tmp_path / "disk", "256k") as disk:
        err = _gdal_write_into(disk)
        assert err is not None and err.__class__.__module__.startswith("rasterio")
        line = ops.disk_fault(err, disk)
        assert line is not None and line.startswith(f"磁盘已满 disk full: no space left for {disk} (GDAL: ")


def test_sqlite_on_a_full_disk_is_a_full_disk(tmp_path):
    import sqlite3

    with _tiny_disk(tmp_path / "disk", "64k") as disk:
        con = sqlite3.connect(disk / "ledger.sqlite")
        try:
            con.execute("CREATE TABLE t (x BLOB)")
            with pytest.raises(sqlite3.OperationalError) as err:
                for _ in range(100):
                    con.execute("INSERT INTO t VALUES (?)", (b"x" * 4096,))
                    con.commit()
        finally:
            con.close()
        assert ops.disk_fault(err.value, disk) == (f"磁盘已满 disk full: no space left for {disk} "
                                                   f"(SQLite: database or disk is full)")
