"""Retries on transient errors only, one mine's failure recorded while the others finish,
and the run artifact (Chinese + English).

The Prefect part runs a small flow with the same task options and gathering as the
nightly flow (`ops.mine_task_options`, `ops.gather_isolated`, `ops.publish_run_artifact`)
on a temporary local server (`prefect_test_harness`); no pipeline module is needed.
"""
from __future__ import annotations

import errno
import threading
import time
from collections import Counter

import pytest

from minewatch import ops
from minewatch.config import ConfigError, load_settings

# --------------------------------------------------------------------------- classification


class _Resp:
    def __init__(self, code):
        self.status_code = code


class _HTTPError(Exception):          # shaped like requests/httpx status errors
    def __init__(self, code):
        super().__init__(f"HTTP {code}")
        self.response = _Resp(code)


def _api_error(code):
    from pystac_client.exceptions import APIError
    e = APIError("server said no")
    e.status_code = code
    return e


def _chained(outer, inner):
    try:
        try:
            raise inner
        except Exception as e:
            raise outer from e
    except Exception as e:  # noqa: BLE001
        return e


@pytest.mark.parametrize("exc,transient", [
    (ConnectionResetError("reset by peer"), True),
    (TimeoutError("read timed out"), True),
    (OSError(errno.EHOSTUNREACH, "no route"), True),
    (OSError(errno.ENOENT, "no such file"), False),
    (FileNotFoundError("plan.xlsx"), False),
    (_HTTPError(503), True),
    (_HTTPError(429), True),
    (_HTTPError(404), False),
    (_HTTPError(400), False),
    (ValueError("not a polygon"), False),
    (KeyError("B08"), False),
    (_chained(RuntimeError("search failed"), ConnectionError("refused")), True),
    (_chained(RuntimeError("search failed"), ValueError("bad bbox")), False),
])
def test_is_transient(exc, transient):
    assert ops.is_transient(exc) is transient


def test_is_transient_real_library_errors():
    import httpx
    import requests
    from prefect.task_engine import TaskRunTimeoutError
    from rasterio.errors import RasterioIOError

    assert ops.is_transient(_api_error(502))
    assert not ops.is_transient(_api_error(404))
    assert ops.is_transient(requests.exceptions.ConnectionError("dns"))
    assert ops.is_transient(requests.exceptions.ReadTimeout("slow"))
    assert ops.is_transient(httpx.ReadTimeout("slow"))
    assert ops.is_transient(RasterioIOError("HTTP response code: 503 /vsicurl/https://x/B04.tif"))
    assert ops.is_transient(RasterioIOError("CURL error: Could not resolve host: sentinel-cogs"))
    assert not ops.is_transient(RasterioIOError("HTTP response code: 404 /vsicurl/https://x/B04.tif"))
    assert not ops.is_transient(RasterioIOError("'/data/B04.tif' not recognized as a supported file format"))
    assert not ops.is_transient(TaskRunTimeoutError("Scope timed out after 1800 second(s)."))


def test_task_options():
    o = ops.mine_task_options(2, 30.0)
    assert o["retries"] == 2 and o["retry_condition_fn"] is ops.retry_if_transient
    assert o["retry_delay_seconds"](2) == [30.0, 60.0] and o["timeout_seconds"] is None
    assert ops.mine_task_options(0, 30.0)["retry_delay_seconds"] == 0


def test_task_options_from_the_environment_through_settings(monkeypatch, tmp_path):
    """MINEWATCH_RUN__* override the config file's run section; the YAML's other keys stay."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("registry: r.csv\nplans: p\nrun:\n  mine_retries: 1\n  mine_retry_backoff_s: 9\n", encoding="utf-8")
    monkeypatch.setenv("MINEWATCH_RUN__MINE_RETRIES", "4")
    r = load_settings(cfg).run
    assert (r.mine_retries, r.mine_retry_backoff_s, r.max_concurrent_mines) == (4, 9.0, 2)
    o = ops.mine_task_options(r.mine_retries, r.mine_retry_backoff_s)
    assert o["retries"] == 4 and o["retry_delay_seconds"](4) == [9.0, 18.0, 36.0, 72.0]
    monkeypatch.setenv("MINEWATCH_RUN__MAX_CONCURRENT_MINES", "0")
    with pytest.raises(ConfigError, match="run.max_concurrent_mines"):
        load_settings(cfg)


def test_failure_text_and_night_failed():
    assert ops.failure_text(ConnectionError("reset\nmore")) == "ConnectionError: reset"
    assert ops.failure_text(KeyError()) == "KeyError"
    assert len(ops.failure_text(ValueError("x" * 1000))) == 300
    assert not ops.night_failed({"mines": 0, "mines_failed": 0})
    assert not ops.night_failed({"mines": 3, "mines_failed": 2})
    assert ops.night_failed({"mines": 3, "mines_failed": 3})


# --------------------------------------------------------------------------- artifact

SUMMARY = {
    "run_date": "2026-11-20", "plan_year": 2026, "mines": 3, "mines_failed": 1, "scenes_read": 57,
    "anomalies": 4, "anomalies_by_type": {"RESTORATION_SHORTFALL": 3, "UNDECLARED_DISTURBANCE": 1},
    "failures": [{"license_no": "C1500002009031120009999", "mine_name": "示例|露天矿",
                  "error": "APIError: 503 Service Unavailable\nretry later"}],
    "outputs": ["anomalies.geojson", "run_summary.json", "unit_series.csv", "unjudged.csv"],
    "run_dir": "/data/out/2026-11-20",
}


def test_artifact_markdown_partial_failure():
    md = ops.run_artifact_markdown(SUMMARY)
    assert md.startswith("# minewatch 夜间运行 nightly run 2026-11-20\n")
    assert "⚠️ 部分失败 1 of 3 mines failed" in md
    assert "| 矿山 mines | 3 |" in md and "| 异常 anomalies | 4 |" in md and "| 评估影像 scenes judged | 57 |" in md
    assert "| RESTORATION_SHORTFALL | 修复不达标 | 3 |" in md
    assert "| UNDECLARED_DISTURBANCE | 未申报损毁 | 1 |" in md
    # the failed mine's row: pipes escaped, newline folded, one table row
    row = next(line for line in md.splitlines() if line.startswith("| C1500002009031120009999"))
    assert "示例\\|露天矿" in row and "APIError: 503 Service Unavailable retry later" in row
    assert row.count(" | ") == 2
    assert "`/data/out/2026-11-20`" in md and "- `anomalies.geojson`" in md


def test_artifact_markdown_other_states():
    ok = ops.run_artifact_markdown({**SUMMARY, "mines_failed": 0, "failures": []})
    assert "✅ 全部完成 all 3 mines finished" in ok and "## 失败矿山 failed mines" not in ok
    allf = ops.run_artifact_markdown({**SUMMARY, "mines_failed": 3})
    assert "❌ 全部失败 all 3 mines failed" in allf
    empty = ops.run_artifact_markdown({"run_date": "2026-11-20", "mines": 0})
    assert "无矿山 no mines" in empty and "异常类型" not in empty
    assert ops.run_artifact_markdown({}).startswith("# minewatch 夜间运行 nightly run ?")


# --------------------------------------------------------------------------- in Prefect

CALLS: Counter = Counter()
_LOCK = threading.Lock()
BEHAVIOUR = {"M-OK": "ok", "M-FLAKY": "flaky", "M-BROKEN": "broken", "M-DOWN": "down"}


def _mine_body(license_no: str) -> dict:
    with _LOCK:
        CALLS[license_no] += 1
        n = CALLS[license_no]
    b = BEHAVIOUR[license_no]
    if b == "flaky" and n == 1:
        raise ConnectionResetError("catalogue connection reset")        # transient, then fine
    if b == "broken":
        raise ValueError("plan unit 3 geometry is not a polygon")        # permanent: no retry
    if b == "down":
        raise _api_error(503)                                            # transient every time
    return {"license_no": license_no, "error": None}


@pytest.fixture(scope="module")
def prefect_local():
    from prefect.testing.utilities import prefect_test_harness

    t0 = time.monotonic()
    with prefect_test_harness(server_startup_timeout=90):
        print(f"\ntemporary Prefect server up in {time.monotonic() - t0:.1f}s")
        yield


def test_flow_isolates_failed_mines(prefect_local):
    from prefect import flow, get_client, task
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    mine = task(name="mine", task_run_name="mine-{license_no}",
                **ops.mine_task_options(retries=2, backoff_s=0.05, jitter=0, timeout_s=60))(_mine_body)

    @flow(name="isolation-check")
    def night(licenses: list[str]) -> dict:
        futures = mine.map(licenses)
        results = ops.gather_isolated(futures)
        failures = [{"license_no": lic, "error": ops.failure_text(r)}
                    for lic, r in zip(licenses, results) if isinstance(r, BaseException)]
        summary = {"run_date": "2026-11-20", "plan_year": 2026, "mines": len(licenses),
                   "mines_failed": len(failures), "scenes_read": 0, "anomalies": 0,
                   "anomalies_by_type": {}, "failures": failures, "outputs": []}
        ops.publish_run_artifact(summary, key="minewatch-isolation-test")
        return summary

    CALLS.clear()
    t0 = time.monotonic()
    state = night(list(BEHAVIOUR), return_state=True)
    took = time.monotonic() - t0
    assert state.is_completed(), state
    summary = state.result()
    assert CALLS == Counter({"M-OK": 1, "M-FLAKY": 2, "M-BROKEN": 1, "M-DOWN": 3}), CALLS
    assert summary["mines"] == 4 and summary["mines_failed"] == 2
    assert {f["license_no"]: f["error"] for f in summary["failures"]} == {
        "M-BROKEN": "ValueError: plan unit 3 geometry is not a polygon",
        "M-DOWN": "APIError: server said no"}
    assert not ops.night_failed(summary)
    assert took < 60

    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=["minewatch-isolation-test"])))
    assert len(arts) == 1
    assert "⚠️ 部分失败 2 of 4 mines failed" in arts[0].data
    assert "| M-BROKEN |" in arts[0].data and "| M-DOWN |" in arts[0].data


def test_task_timeout_is_recorded_not_retried(prefect_local):
    """The backstop timeout fails the mine once (no retry) and the flow still completes."""
    from prefect import flow, task

    n = Counter()

    def slow(license_no: str) -> str:
        n[license_no] += 1
        for _ in range(100):          # Python-level wait: the watcher can interrupt it
            time.sleep(0.05)
        return license_no

    t = task(name="mine", **ops.mine_task_options(retries=2, backoff_s=0.05, jitter=0, timeout_s=1))(slow)

    @flow(name="timeout-check")
    def night() -> list:
        return ops.gather_isolated(t.map(["M-SLOW"]))

    state = night(return_state=True)
    assert state.is_completed()
    (r,) = state.result()
    assert isinstance(r, TimeoutError)
    assert n["M-SLOW"] == 1
