"""`ops.run_on_cluster` and friends on a real one-worker LocalCluster (a worker process): the
answer and the worker's log records come back, a transient failure judged on the worker stays
transient here (the judgement travels with it), the promises are sent once."""
from __future__ import annotations

import logging
import os
import threading

import pytest
from tests.support import cluster_tasks

from minewatch import ops


@pytest.fixture(scope="module")
def client():
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as c, \
            ops.dask_client(c.scheduler_address) as cl:
        yield cl


def test_a_task_runs_its_graph_on_its_worker_and_its_log_comes_back(client, caplog):
    caplog.set_level(logging.INFO, logger="minewatch")
    assert ops.cluster_client() is client
    # one worker thread, held by the task: a graph sent back to the scheduler would never run
    assert ops.run_on_cluster(client, cluster_tasks.logged_sum, 1000, name="sum") == sum(range(1000))
    [rec] = [r for r in caplog.records if r.getMessage().startswith("summed 1000 numbers")]
    worker_pid = next(iter(client.run(os.getpid).values()))
    assert rec.process == worker_pid != os.getpid() and rec.getMessage().endswith(str(worker_pid))


def test_a_transient_failure_on_a_worker_is_transient_here(client, caplog):
    caplog.set_level(logging.INFO, logger="minewatch")
    with pytest.raises(cluster_tasks.Flaky) as info:
        ops.run_on_cluster(client, cluster_tasks.failing_transient, name="flaky")
    e = info.value
    assert getattr(e, ops.TRANSIENT_ATTR) is True and ops.is_transient(e)     # the task retries it
    assert not ops.is_transient(cluster_tasks.Flaky("a new one, not judged"))
    assert any("transient failure on pid" in r.getMessage() for r in caplog.records)


def test_the_promises_are_scattered_once(client):
    big = {"rights": list(range(10_000))}
    f = ops.scattered(client, big)
    assert ops.scattered(client, big) is f and ops.scattered(client, dict(big)) is not f
    assert client.submit(lambda p: len(p["rights"]), f).result() == 10_000   # the value, on the worker


def test_the_workers_judgement_wins_over_the_type():
    e = ConnectionResetError("judged permanent where it was raised")
    assert ops.is_transient(e)
    setattr(e, ops.TRANSIENT_ATTR, False)
    assert not ops.is_transient(e)


def test_captured_log_keeps_only_its_own_threads_records():
    log = logging.getLogger("minewatch")
    other = threading.Thread(target=lambda: log.warning("from another thread"))
    with ops.captured_log("INFO") as records:
        log.info("mine %s: %d scenes", "A", 3)
        other.start()
        other.join()
        try:
            raise ValueError("bad geometry")
        except ValueError:
            log.exception("mine A failed")
    assert [r.getMessage() for r in records] == ["mine A: 3 scenes", "mine A failed"]
    assert records[0].args is None and "ValueError: bad geometry" in records[1].exc_text
    assert records[1].exc_info is None             # picklable: no traceback object
