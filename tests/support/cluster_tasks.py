"""Functions for tests to run on a distributed worker (importable there, unlike a test module)."""
from __future__ import annotations

import logging
import os

import dask
import dask.array as da

from minewatch import ops

log = logging.getLogger("minewatch")


class Flaky(RuntimeError):
    """A failure transient only by its cause (a dropped connection)."""


def logged_sum(n: int) -> ops.Logged:
    """A small dask graph inside a worker task, logged, as a mine does: it must run on the
    worker's own threads (the single-threaded worker's slot is held by this task)."""
    ops.local_graphs_on_worker()
    with ops.captured_log("INFO") as records:
        total = int(dask.compute(da.arange(n, chunks=max(1, n // 4)).sum())[0])
        log.info("summed %d numbers on pid %d", n, os.getpid())
    return ops.Logged(total, records)


def failing_transient() -> None:
    """Raises what a worker raises for a mine that failed transiently (job.run_mine_on_worker)."""
    with ops.captured_log("INFO") as records:
        try:
            try:
                raise ConnectionResetError("catalogue went away")
            except ConnectionResetError as cause:
                raise Flaky("search failed") from cause
        except Flaky as e:
            log.warning("mine X: transient failure on pid %d", os.getpid())
            setattr(e, ops.TRANSIENT_ATTR, ops.is_transient(e))
            setattr(e, ops.LOG_ATTR, list(records))
            raise
