"""Nightly operations: schedule defaults, retries and isolation, the run artifact, dask.

Kept importable without the pipeline (no catalogue/plan imports) so the flow, the
deployment (`minewatch.flow.deploy`) and the tests can all use it.

Where retries live (issue 7):

- **Per mine, in Prefect**: the `mine` task is retried on *transient* errors only
  (network, HTTP 408/425/429/5xx, GDAL/CURL timeouts, a dropped dask connection), with
  exponential backoff and jitter (`mine_task_options`). The catalogue search comes first
  in a mine, so a retried mine costs one search and one small read. A permanent error
  (bad geometry, a 404 asset, a bug) is not retried: it is recorded on the mine.
- **Per HTTP request, in GDAL**: COG reads retry 429/5xx themselves
  (`minewatch.sky.reader.gdal_env`, from `catalog.gdal_http_*` in the settings, passed
  to stackstac), so one bad tile does not restart a mine.
- **Timeouts at the I/O layer**: the STAC client's `timeout` and `GDAL_HTTP_TIMEOUT`
  (`catalog.timeout_s`, `catalog.gdal_http_timeout_s`).
  Prefect's task `timeout_seconds` is off by default: tasks run in worker threads, where
  it can only interrupt Python code, never a blocking GDAL read, and Prefect 3.9 logs a
  warning for every such task run. If set, a timed-out mine is recorded, not retried.
- **Isolation**: the flow gathers mapped futures with `gather_isolated`, so a mine that
  is still failing after its retries becomes a recorded failure (run_summary.json
  `failures`, the Prefect artifact from `run_artifact_markdown`) while the others finish.
"""
from __future__ import annotations

import errno
import logging
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from minewatch.labels import TYPES_ZH

log = logging.getLogger("minewatch")

DEFAULT_CRON = "0 2 * * *"          # 02:00 every night ...
DEFAULT_TZ = "Asia/Shanghai"        # ... China Standard Time (no DST)
FLOW_NAME = "minewatch-nightly"     # @flow(name=...) in minewatch.flow.nightly
DEPLOYMENT_NAME = "nightly"
ARTIFACT_KEY = "minewatch-nightly-run"   # lowercase letters, digits, dashes only
PROGRESS_KEY = "minewatch-nightly-progress"

# --------------------------------------------------------------------------- run date


def local_run_date(tz: str = DEFAULT_TZ, when: datetime | None = None) -> date:
    """The calendar date of a run in `tz`.

    A container runs on UTC: at 02:00 Asia/Shanghai `date.today()` is still *yesterday*.
    `when` defaults to the flow run's scheduled start (so a late or retried run keeps
    its night), else now.
    """
    if when is None:
        try:
            from prefect.runtime import flow_run
            when = flow_run.scheduled_start_time
        except Exception:  # noqa: BLE001 - outside a flow run
            when = None
    if when is None:
        when = datetime.now(timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(ZoneInfo(tz)).date()


# --------------------------------------------------------------------------- retries

TRANSIENT_HTTP = frozenset({408, 425, 429, 500, 502, 503, 504})
_TRANSIENT_ERRNO = frozenset({errno.ETIMEDOUT, errno.ECONNRESET, errno.ECONNREFUSED, errno.ECONNABORTED,
                              errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN, errno.EPIPE})
# names, not imports: requests, httpx, urllib3, aiohttp, distributed need not be loaded
_TRANSIENT_NAMES = frozenset({
    "ConnectionError", "ConnectTimeout", "ReadTimeout", "WriteTimeout", "PoolTimeout", "Timeout",
    "TimeoutException", "ConnectError", "ReadError", "RemoteProtocolError", "NetworkError",
    "ChunkedEncodingError", "ProtocolError", "IncompleteRead", "ReadTimeoutError",
    "NewConnectionError", "MaxRetryError", "CommClosedError", "ServerDisconnectedError",
    "MalformedAnswerError",       # sky.catalog: 2xx bodies cut short or not JSON, after its own retries
})
# GDAL / CURL text, as rasterio's RasterioIOError / CPLE_HttpResponseError carry it
_TRANSIENT_TEXT = re.compile(
    r"HTTP response code: (408|425|429|5\d\d)\b|timed? ?out|Connection (reset|refused)|"
    r"Could not resolve host|CURL error|Operation too slow|SSL_read|Empty reply from server",
    re.IGNORECASE)
# GDAL says an HTTP href it could not fetch in time "does not exist in the file system"; on a
# local path the same words mean the file is missing (permanent)
_HTTP_MISSING = re.compile(r"(/vsicurl/|https?://)\S* does not exist in the file system", re.IGNORECASE)


TRANSIENT_ATTR = "minewatch_transient"   # set on an exception sent back from a cluster worker
LOG_ATTR = "minewatch_log"               # the worker's log records of the failed mine, on the same


def _status_code(exc: BaseException) -> int | None:
    code = getattr(exc, "status_code", None)          # pystac_client.APIError
    if code is None:
        resp = getattr(exc, "response", None)         # requests / httpx HTTPStatusError
        code = getattr(resp, "status_code", None)
    return code if isinstance(code, int) else None


def is_transient(exc: BaseException) -> bool:
    """True when trying again later may succeed: network, throttling, server errors.

    Follows `__cause__`/`__context__`, so a wrapped network error counts. Prefect's own
    task timeout (a backstop, when set) is not transient: a mine that hung that long
    would hang again, and the night has a budget.
    """
    if type(exc).__name__ == "TaskRunTimeoutError":
        return False
    judged = getattr(exc, TRANSIENT_ATTR, None)
    if isinstance(judged, bool):     # judged where it was raised (a worker), on the chain it had there
        return judged
    seen = 0
    e: BaseException | None = exc
    while e is not None and seen < 8:
        seen += 1
        if isinstance(e, (ConnectionError, TimeoutError)):
            return True
        if isinstance(e, OSError) and e.errno in _TRANSIENT_ERRNO:
            return True
        code = _status_code(e)
        if code is not None:
            return code in TRANSIENT_HTTP              # 4xx other than those: a real answer
        if any(c.__name__ in _TRANSIENT_NAMES for c in type(e).__mro__):
            return True
        if type(e).__module__.startswith("rasterio") and (_TRANSIENT_TEXT.search(str(e))
                                                          or _HTTP_MISSING.search(str(e))):
            return True
        e = e.__cause__ or e.__context__
    return False


def retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect `retry_condition_fn`: retry a failed task only on a transient error."""
    try:
        exc = state.result(raise_on_failure=False)
    except Exception as e:  # noqa: BLE001 - result unreadable: judge that error
        exc = e
    ok = isinstance(exc, BaseException) and is_transient(exc)
    if not ok:   # Prefect itself logs "Retry n/m will start ..." for the transient ones
        log.warning("%s failed (%s); permanent, not retried", getattr(task_run, "name", "task"),
                    failure_text(exc) if isinstance(exc, BaseException) else exc)
    return ok


def mine_task_options(retries: int, backoff_s: float, jitter: float = 0.5,
                      timeout_s: float | None = None) -> dict[str, Any]:
    """Keyword arguments for the per-mine `@task`: retries on transient errors only.

    Delays are `backoff_s * 2**k` (30 s, 60 s by default) with +-`jitter` spread, so
    mines that failed together do not hit the catalogue together again. `timeout_s`
    (default off) is a backstop only; see the module docstring. The values come from
    `Settings.run` (the config file or MINEWATCH_RUN__* variables).
    """
    from prefect.tasks import exponential_backoff

    return {"retries": retries, "retry_delay_seconds": exponential_backoff(backoff_s) if retries else 0,
            "retry_jitter_factor": jitter if retries else None, "retry_condition_fn": retry_if_transient,
            "timeout_seconds": timeout_s}


def submit_bounded(submit: Any, items: Iterable[Any], limit: int,
                   on_done: Callable[[Any], None] | None = None) -> list[Any]:
    """`submit(item)` for every item, never more than `limit` unfinished at once.

    Peak memory then follows `limit`, not the size of the registry, whatever the task
    runner's pool size; the futures come back in the items' order. With `on_done`, it is
    called with each future as it finishes (progress), and this returns when all have."""
    from prefect.futures import as_completed

    futures: list[Any] = []
    running: list[Any] = []
    for item in items:
        while len(running) >= limit:
            done = next(as_completed(running))
            running = [f for f in running if f is not done]
            if on_done is not None:
                on_done(done)
        f = submit(item)
        futures.append(f)
        running.append(f)
    if on_done is not None:
        for done in as_completed(running):
            on_done(done)
    return futures


# --------------------------------------------------------------------------- progress


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


@dataclass
class Progress:
    """Mines done of the night, scenes read, failures and the time left, for logs and a live line.

    `update` takes each finished mine's result (a MineResult or the exception) and returns a
    line when one is due: every `every_mines` mines or `every_s` seconds, and at the last mine.
    """
    total: int
    every_mines: int = 50
    every_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    done: int = 0
    failed: int = 0
    scenes: int = 0
    started: float = field(default=0.0)
    _last_t: float = field(default=0.0, repr=False)
    _last_n: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        self.started = self._last_t = self.clock()

    def update(self, result: Any) -> str | None:
        self.done += 1
        if isinstance(result, BaseException) or getattr(result, "error", None):
            self.failed += 1
        self.scenes += len(getattr(result, "scenes", None) or ())
        now = self.clock()
        due = (self.done - self._last_n >= self.every_mines or now - self._last_t >= self.every_s
               or self.done >= self.total)
        if not due:
            return None
        self._last_t, self._last_n = now, self.done
        return self.line()

    def left_s(self) -> float | None:
        if not self.done:
            return None
        return (self.clock() - self.started) / self.done * max(self.total - self.done, 0)

    def line(self) -> str:
        left = self.left_s()
        eta = "?" if left is None else _clock(left)
        return (f"进度 progress: {self.done}/{self.total} 座矿山 mines, {self.scenes} 景影像 scenes, "
                f"{self.failed} 失败 failed, 预计剩余 time left {eta}")

    @property
    def fraction(self) -> float:
        return 100.0 * self.done / self.total if self.total else 100.0


def live_line(text: str, stream: Any = None, final: bool = False) -> None:
    """Rewrite one terminal line in place (`\r`, erase to the end); a newline after the last."""
    stream = stream or sys.stderr
    stream.write("\r\x1b[K" + text + ("\n" if final else ""))
    stream.flush()


def start_progress_artifact(total: int, key: str = PROGRESS_KEY) -> Any:
    """A Prefect progress artifact of the flow run (0 %); None outside a run or on any error."""
    try:
        from prefect.artifacts import create_progress_artifact
        return create_progress_artifact(progress=0.0, key=key,
                                        description=f"minewatch: mines done of {total}")
    except Exception as e:  # noqa: BLE001 - progress must never fail the night
        log.debug("no progress artifact: %s", e)
        return None


def update_progress_artifact(artifact_id: Any, percent: float, text: str) -> None:
    if artifact_id is None:
        return
    try:
        from prefect.artifacts import update_progress_artifact as update
        update(artifact_id=artifact_id, progress=percent, description=text)
    except Exception as e:  # noqa: BLE001
        log.debug("progress artifact not updated: %s", e)


def ensure_prefect_logging(level: str) -> None:
    """minewatch's loggers reach Prefect (task run logs, the UI) whoever started the flow run.

    `minewatch run` sets PREFECT_LOGGING_EXTRA_LOGGERS before Prefect loads; a flow run
    started by `serve`, a worker or `prefect deployment run` may not have it, and Prefect
    leaves an unset logger at the root's WARNING: the per-mine INFO lines were lost there.
    """
    logger = logging.getLogger("minewatch")
    if logger.level == logging.NOTSET:
        logger.setLevel(level)
    try:
        from prefect.logging.handlers import APILogHandler
    except Exception:  # noqa: BLE001
        return
    if not any(isinstance(h, APILogHandler) for h in logger.handlers):
        logger.addHandler(APILogHandler())


# --------------------------------------------------------------------------- isolation


def gather_isolated(futures: Iterable[Any]) -> list[Any]:
    """Results of Prefect futures in order; a failed one gives its exception, not a raise.

    One mine that is still failing after its retries must not fail the night.
    """
    out = []
    for f in futures:
        try:
            out.append(f.result(raise_on_failure=False))
        except BaseException as e:  # noqa: BLE001 - crashed/cancelled states raise here
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            out.append(e)
    return out


# --------------------------------------------------------------------------- disk faults

_FULL_ERRNO = frozenset({errno.ENOSPC, errno.EDQUOT})
# GDAL reports a failed local write in its own words, without the OS errno: libtiff's strip
# and tile writes ("TIFFAppendToStrip:Seek error at scanline 0", "... Write error"), its
# directory ("TIFFWriteDirectoryTagData:IO error writing tag data") or a CPLE_FileIO error
# (rasterio's CPLE_FileIOError); "No space left" when the errno reaches it
_GDAL_NO_SPACE = re.compile(r"No space left on device|Disk quota exceeded", re.IGNORECASE)
_GDAL_READ_ONLY = re.compile(r"Read-only file system", re.IGNORECASE)
_GDAL_WRITE_FAILED = re.compile(r"TIFFAppendToStrip|TIFFWriteDirectory|_tiffWriteProc|_tiffSeekProc|"
                                r"Write error|Seek error|Write failed|I/?O error writing", re.IGNORECASE)
# SQLite (the ledger in OUT/state) says so in words too, through SQLAlchemy's wrapper
_SQLITE_FULL = re.compile(r"database or disk is full", re.IGNORECASE)
_SQLITE_READ_ONLY = re.compile(r"attempt to write a readonly database", re.IGNORECASE)
# a GDAL write failure counts as a full disk only when the folder has less than this left
# (the failed file's own blocks are freed by then; a COG of a mine is a few MB)
_LOW_SPACE_BYTES = 64 << 20


def _free_bytes(folder: Path) -> int | None:
    for p in (folder, *folder.parents):       # the folder may be gone (a staging folder removed)
        try:
            return shutil.disk_usage(p).free
        except OSError:
            continue
    return None


def disk_fault(exc: BaseException, folder: str | Path | None = None) -> str | None:
    """The one line for a full disk or a read-only file system anywhere in `exc`'s chain, else None.

    One rule for every writer: Python's OSError by its errno (ENOSPC/EDQUOT, EROFS), GDAL's
    errors (rasterio's CPLE_* and RasterioIOError, which carry no OS errno) and SQLite's
    (sqlite3.OperationalError, also under SQLAlchemy's) by their text. A
    plain GDAL write or seek error is a full disk only when `folder` (the output folder) is
    nearly full. The line names the file when Python knows it, else `folder`.
    """
    where = Path(folder) if folder is not None else None
    said = where or "the output folder"     # GDAL's and a write's errors name no file
    seen = 0
    e: BaseException | None = exc
    while e is not None and seen < 8:
        seen += 1
        if isinstance(e, OSError) and e.errno is not None and not type(e).__module__.startswith("rasterio"):
            path = e.filename or said
            if e.errno in _FULL_ERRNO:
                return f"磁盘已满 disk full: no space left for {path}"
            if e.errno == errno.EROFS:
                return f"输出目录只读 output folder is read-only: cannot write {path} ({e.strerror})"
        elif type(e).__module__ == "sqlite3":
            if _SQLITE_FULL.search(str(e)):
                return f"磁盘已满 disk full: no space left for {said} (SQLite: {e})"
            if _SQLITE_READ_ONLY.search(str(e)):
                return f"输出目录只读 output folder is read-only: cannot write {said} (SQLite: {e})"
        elif type(e).__module__.startswith("rasterio"):
            text = " ".join(str(e).split())[:160]
            if _GDAL_NO_SPACE.search(text):
                return f"磁盘已满 disk full: no space left for {said} (GDAL: {text})"
            if _GDAL_READ_ONLY.search(text):
                return f"输出目录只读 output folder is read-only: cannot write {said} (GDAL: {text})"
            if where is not None and (_GDAL_WRITE_FAILED.search(text) or type(e).__name__ == "CPLE_FileIOError"):
                free = _free_bytes(where)
                if free is not None and free < _LOW_SPACE_BYTES:
                    return (f"磁盘已满 disk full: no space left for {where} (GDAL: {text}; "
                            f"{free // 1024} KiB free)")
        e = e.__cause__ or e.__context__
    return None


def failure_text(exc: BaseException) -> str:
    """One line for run_summary.json: `Type: message` (first line, at most 300 chars); a full
    disk or a read-only file system is said so (`disk_fault`)."""
    fault = disk_fault(exc)
    if fault is not None:
        return fault[:300]
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
    return text[:300]


def night_failed(summary: dict) -> bool:
    """Every mine failed: systemic (catalogue down, bad config) - the flow should end Failed."""
    return summary.get("mines", 0) > 0 and summary.get("mines_failed", 0) >= summary.get("mines", 0)


# --------------------------------------------------------------------------- artifact



def _cell(v: Any, limit: int = 200) -> str:
    s = " ".join(str("" if v is None else v).split())
    s = s.replace("\\", "\\\\").replace("|", "\\|").replace("`", "'")
    return s if len(s) <= limit else s[: limit - 1] + "…"


def run_artifact_markdown(summary: dict) -> str:
    """The night's summary as Markdown (Chinese + English) for a Prefect artifact.

    `summary` is what `job.write_run` returns / writes to run_summary.json; missing keys
    are tolerated. Failed mines are listed with their error, so the night's failures
    can be read in the Prefect UI without opening the server's disk.
    """
    mines = int(summary.get("mines", 0) or 0)
    failed = int(summary.get("mines_failed", len(summary.get("failures") or [])) or 0)
    anomalies = int(summary.get("anomalies", 0) or 0)
    if mines == 0:
        status = "⚪ 无矿山 no mines in the registry / 登记表为空"
    elif failed == 0:
        status = f"✅ 全部完成 all {mines} mines finished"
    elif failed >= mines:
        status = f"❌ 全部失败 all {mines} mines failed"
    else:
        status = f"⚠️ 部分失败 {failed} of {mines} mines failed; the others finished"

    lines = [f"# minewatch 夜间运行 nightly run {_cell(summary.get('run_date', '?'))}", "", f"**{status}**", "",
             "| 项目 item | 数量 count |", "|---|---:|",
             f"| 计划年度 plan year | {_cell(summary.get('plan_year', ''))} |",
             f"| 矿山 mines | {mines} |",
             f"| 失败矿山 failed mines | {failed} |",
             f"| 评估影像 scenes judged | {int(summary.get('scenes_read', 0) or 0)} |",
             f"| 新读取时相 steps read from the catalogue | {int(summary.get('steps_read', 0) or 0)} |",
             f"| 缓存时相 steps from the pixel store | {int(summary.get('steps_from_store', 0) or 0)} |",
             f"| 异常 anomalies | {anomalies} |", ""]

    by_type = summary.get("anomalies_by_type") or {}
    if by_type:
        lines += ["## 异常类型 anomalies by type", "", "| 类型 type | 中文 | 数量 count |", "|---|---|---:|"]
        lines += [f"| {_cell(t)} | {TYPES_ZH.get(t, '')} | {int(n)} |" for t, n in sorted(by_type.items())]
        lines.append("")

    failures = summary.get("failures") or []
    if failures:
        lines += ["## 失败矿山 failed mines", "",
                  "| 采矿许可证号 license | 矿山 mine | 错误 error |", "|---|---|---|"]
        for f in failures:
            lines.append(f"| {_cell(f.get('license_no'))} | {_cell(f.get('mine_name', ''))} | "
                         f"{_cell(f.get('error'), 300)} |")
        lines += ["", "失败矿山已记录，其余矿山照常完成。查看日志中该许可证号的记录 "
                  "(`mine <license_no> failed`) 与 run_summary.json。 A failed mine is recorded and the "
                  "others finish; search the flow-run logs for the license number.", ""]

    outputs = summary.get("outputs") or []
    run_dir = summary.get("run_dir")
    if outputs or run_dir:
        lines += ["## 输出 outputs", ""]
        if run_dir:
            lines.append(f"目录 folder: `{_cell(run_dir, 400)}`")
            lines.append("")
        lines += [f"- `{_cell(o)}`" for o in outputs]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def publish_run_artifact(summary: dict, key: str = ARTIFACT_KEY) -> Any:
    """Attach `run_artifact_markdown(summary)` to the current flow run (Prefect UI > Artifacts).

    Returns the artifact id; never raises (an artifact must not fail a night whose
    outputs are already written).
    """
    try:
        from prefect.artifacts import create_markdown_artifact

        mines, failed = summary.get("mines", 0), summary.get("mines_failed", 0)
        return create_markdown_artifact(
            markdown=run_artifact_markdown(summary), key=key,
            description=f"minewatch {summary.get('run_date', '')}: {mines} mines, {failed} failed, "
                        f"{summary.get('anomalies', 0)} anomalies")
    except Exception as e:  # noqa: BLE001
        log.warning("could not create the run artifact: %s", e)
        return None


# --------------------------------------------------------------------------- dask


@contextmanager
def dask_client(scheduler_address: str | None = None, *, timeout: str = "30s",
                workers: int | None = None) -> Iterator[Any]:
    """The scheduler `dask.compute` uses inside the block.

    - `None` (default): dask's local threads (`workers` of them, default: the CPUs), no
      cluster. The night's graphs have many small tasks: a process pool would pickle
      their chunks between processes.
    - `"tcp://host:8786"`: a `distributed.Client` to that scheduler, used for every
      `dask.compute` in the block, from any thread (Prefect runs tasks in a thread pool;
      dask's config is process-wide). Closed on exit; the previous scheduler returns.

    Open it once in the flow body around the mapped mine tasks. Do not call
    `prefect_dask.get_dask_client()` / `worker_client()` inside tasks: it can deadlock.
    The workers must reach the same COG hrefs (URLs, or the same mounted paths) as
    the flow. Raises OSError/TimeoutError promptly when the scheduler is unreachable.
    """
    global _CLIENT
    import dask

    if not scheduler_address:
        with dask.config.set(scheduler="threads", num_workers=workers):
            yield None
        return

    from distributed import Client

    client = Client(scheduler_address, timeout=timeout, set_as_default=False)
    log.info("dask: using scheduler %s (%d workers)", scheduler_address,
             len(client.scheduler_info().get("workers", {})))
    _CLIENT = client
    try:
        with dask.config.set(scheduler=client):
            yield client
    finally:
        _CLIENT = None
        with _SCATTER_LOCK:
            _SCATTERED.clear()
        client.close()


_CLIENT: Any = None      # the distributed Client `dask_client` opened (process-wide, as dask's config)


def cluster_client() -> Any:
    """The Client of the `dask_client` block in progress, None when the night runs locally."""
    return _CLIENT


def local_graphs_on_worker() -> None:
    """On a cluster worker: `dask.compute` inside its tasks runs on the worker's own threads (as
    many as it has), not back through the scheduler, where a mine's graph would wait for the
    slot its own task holds (1 thread a worker). Set for the whole worker process, always the
    same value, so mines side by side on one worker never restore each other's setting."""
    import dask
    try:
        from distributed import get_worker
        nthreads = get_worker().state.nthreads
    except (ImportError, ValueError):      # not on a worker: this process's settings stand
        return
    dask.config.set(scheduler="threads", num_workers=nthreads)


class Logged(NamedTuple):
    """A worker's answer with the log records it made (`captured_log`)."""
    value: Any
    log: list[logging.LogRecord]


_SCATTERED: dict[int, tuple[Any, Any]] = {}      # id(obj) -> (obj, its Future on the cluster)
_SCATTER_LOCK = threading.Lock()


def scattered(client: Any, obj: Any) -> Any:
    """`obj` sent to the cluster once (a Future to pass to `run_on_cluster`): the night's promises
    are the same for every mine, and pickling them for each would cost the flow process."""
    with _SCATTER_LOCK:
        held = _SCATTERED.get(id(obj))
        if held is None or held[0] is not obj:
            held = (obj, client.scatter(obj, hash=False))
            _SCATTERED[id(obj)] = held
        return held[1]


def run_on_cluster(client: Any, fn: Callable[..., Any], *args: Any, name: str = "mine", **kwargs: Any) -> Any:
    """`fn(*args, **kwargs)` on a worker; waits and returns its result here.

    Not pure (a retry of a failed mine runs again rather than finding the failed key). The
    worker's log records (a `Logged` answer, or an exception's `minewatch_log`) are handed to
    this process's loggers, so they reach the night's log and Prefect under the task waiting
    here."""
    import uuid

    fut = client.submit(fn, *args, key=f"{name}-{uuid.uuid4().hex}", pure=False, **kwargs)
    try:
        res = fut.result()
    except BaseException as e:
        replay_log(getattr(e, LOG_ATTR, None) or [])
        raise
    finally:
        fut.release()
    if isinstance(res, Logged):
        replay_log(res.log)
        return res.value
    return res


@contextmanager
def captured_log(level: str | int = logging.INFO, name: str = "minewatch") -> Iterator[list[logging.LogRecord]]:
    """The records `name`'s loggers emit in this thread inside the block, made picklable (message
    formatted, traceback as text), for `replay_log` in the process that waits for them. Only
    this thread's: mines run side by side on one worker."""
    logger = logging.getLogger(name)
    if logger.level == logging.NOTSET:       # a worker process: INFO would not be made at all
        logger.setLevel(level)
    records: list[logging.LogRecord] = []
    handler = _ThreadCapture(records)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


class _ThreadCapture(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__()
        self.records, self.thread = records, threading.get_ident()
        self.fmt = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread:
            return
        r = logging.makeLogRecord(record.__dict__)
        r.msg, r.args = record.getMessage(), None
        if record.exc_info:
            r.exc_text = record.exc_text or self.fmt.formatException(record.exc_info)
            r.exc_info = None
        self.records.append(r)


def replay_log(records: Iterable[logging.LogRecord]) -> None:
    """Records captured on a worker, through this process's handlers (their level rules apply)."""
    for r in records:
        logger = logging.getLogger(r.name)
        if logger.isEnabledFor(r.levelno):
            logger.handle(r)
