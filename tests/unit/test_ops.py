"""minewatch.ops.submit_bounded in a real Prefect flow: never more mines in flight than the limit."""
from __future__ import annotations

import threading
import time

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
