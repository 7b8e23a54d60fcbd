"""The nightly flow: promises -> one mapped task per mine -> the run folder.

Tasks only call library functions (minewatch.job); all logic lives there. Operations
(retries, isolation, the run artifact, dask) are in minewatch.ops; the schedule is in
minewatch.flow.deploy (`minewatch serve`).
"""
from __future__ import annotations

import logging
import sys
from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from minewatch import job, notify, ops
from minewatch.config import Settings, load_settings
from minewatch.pipeline import MineResult
from minewatch.promised.models import MiningRight


class NightFailed(RuntimeError):
    """Every mine failed: systemic (catalogue down, bad config). Outputs are written first."""
    summary: dict   # the night's run summary (set where it is raised)


@task(name="catalog-ready", retries=3, retry_delay_seconds=[60, 300, 900], retry_jitter_factor=0.2)
def catalog_ready(url: str, timeout: float) -> None:
    """A catalogue outage at 02:00 waits up to ~20 min here instead of failing every mine
    (each try already retries a 5xx or a body that is not JSON, as a search's calls do)."""
    from minewatch.sky.catalog import open_catalog

    open_catalog(url, timeout)


@task(name="load-promises")
def load_promises(config: str, plan_year: int, out_dir: str | None = None) -> job.Promises:
    s = load_settings(config)
    if out_dir:      # `--out`: the ledger (OUT/state) lives with the run folders it explains
        s = s.model_copy(update={"output_dir": Path(out_dir)})
    return job.load_promises(s, plan_year)


# retries are set per night from Settings.run (`with_options` in the flow body)
@task(name="mine", task_run_name="mine-{right.license_no}", cache_policy=NO_CACHE)
def mine(right: MiningRight, promises: job.Promises, config: str, as_of: date, plan_year: int,
         state_dir: str) -> MineResult:
    # results are cached by minewatch itself (job.ResultCache: plan version + scene ids),
    # not by Prefect, which would hash the whole registry on every task
    s = load_settings(config)
    client = ops.cluster_client()
    if client is not None:     # the whole mine on a worker; back come flags, series, product paths
        return ops.run_on_cluster(client, job.run_mine_on_worker, right, ops.scattered(client, promises), s,
                                  as_of, plan_year, state_dir, name=f"mine-{right.license_no}")
    return job.run_mine(right, promises, s, as_of, plan_year, reraise_transient=True,
                        cache=job.ResultCache(state_dir, s.run.state_storage_options))


@task(name="write-outputs")
def write_outputs(results: list[MineResult], out_dir: str, as_of: date, plan_year: int,
                  promises: job.Promises) -> dict:
    return job.write_run(results, Path(out_dir), as_of, plan_year, promises)


class _NightProgress:
    """Each finished mine: a live terminal line, a log line when due, the Prefect progress artifact."""

    def __init__(self, total: int, every_mines: int, every_s: float) -> None:
        self.p = ops.Progress(total, every_mines, every_s)
        # a live line only in a terminal and when INFO is shown (`-q` hides it)
        self.live = sys.stderr.isatty() and ops.log.isEnabledFor(logging.INFO)
        self.artifact = ops.start_progress_artifact(total) if total else None

    def __call__(self, future: Any) -> None:
        try:
            result = future.result(raise_on_failure=False)
        except BaseException as e:  # noqa: BLE001 - crashed states raise here; gathered later
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            result = e
        line = self.p.update(result)
        if self.live:
            ops.live_line(self.p.line(), final=self.p.done >= self.p.total)
        if line is not None:
            if not self.live:
                ops.log.info("%s", line)
            ops.update_progress_artifact(self.artifact, self.p.fraction, line)


@flow(name=ops.FLOW_NAME)
def nightly(config: str, run_date: date | None = None, out_dir: str | None = None) -> dict:
    s = load_settings(config)
    ops.ensure_prefect_logging(s.run.log_level)     # minewatch's lines reach Prefect under serve too
    as_of = run_date or ops.local_run_date(s.run.timezone)   # the scheduled night in run.timezone
    try:
        return _night(config, s, as_of, out_dir)
    except Exception as e:
        if not isinstance(e, NightFailed):   # NightFailed was told about with its summary
            notify.notify_crash(as_of.isoformat(), e, s.notify)
        raise


def _night(config: str, s: Settings, as_of: date, out_dir: str | None) -> dict:
    plan_year = as_of.year
    out = out_dir or str(s.output_dir)
    logger = get_run_logger()
    promises = load_promises(config, plan_year, out_dir)
    logger.info("%d mining rights, %d plans for %d", len(promises.rights), len(promises.plans), plan_year)
    if promises.rights:
        catalog_ready(s.catalog.url, s.catalog.timeout_s)
    with ops.dask_client(s.dask.scheduler_address, timeout=s.dask.connect_timeout):
        run = s.run
        mine_t = mine.with_options(**ops.mine_task_options(run.mine_retries, run.mine_retry_backoff_s,
                                                             run.mine_retry_jitter, run.mine_timeout_s))
        state_dir = job.state_root(s, out)
        progress = _NightProgress(len(promises.rights), run.progress_every_mines, run.progress_every_s)
        # at most run.max_concurrent_mines in flight, so peak memory follows it, not the registry
        futures = ops.submit_bounded(
            lambda right: mine_t.submit(right, promises=promises, config=config, as_of=as_of,
                                        plan_year=plan_year, state_dir=state_dir),
            promises.rights, run.max_concurrent_mines, on_done=progress)
        # a mine still failing after its retries is recorded; the others finish. A full or
        # read-only disk is no mine's fault and leaves no room for the outputs: the night stops
        gathered = ops.gather_isolated(futures)
        for r in gathered:
            if isinstance(r, BaseException) and ops.disk_fault(r, out) is not None:
                raise r
        results = [job.failed_mine(right, r) if isinstance(r, BaseException) else r
                   for right, r in zip(promises.rights, gathered)]
    for r in results:
        logger.info("mine %s: %d scenes, %d anomalies%s%s", r.license_no, len(r.scenes), len(r.anomalies),
                    " (nothing new: earlier result reused)" if r.reused else "",
                    f", FAILED: {r.error}" if r.error else "")
    summary = write_outputs(results, out, as_of, plan_year, promises)
    ops.publish_run_artifact(summary)
    notify.notify_night(summary, out, s.notify)      # after the outputs; never fails the night
    if ops.night_failed(summary):   # the flow run ends Failed, so Prefect notifications fire
        e = NightFailed(f"all {summary['mines']} mines failed; see {summary['run_dir']}/run_summary.json")
        e.summary = summary
        raise e
    return summary
