"""The nightly flow: promises -> one mapped task per mine -> the run folder.

Tasks only call library functions (minewatch.job); all logic lives there.
"""
from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger, task

from minewatch import job
from minewatch.config import load_settings


@task(name="load-promises")
def load_promises(config: str, plan_year: int) -> job.Promises:
    return job.load_promises(load_settings(config), plan_year)


@task(name="mine", task_run_name="mine-{right.license_no}")
def mine(right, promises: job.Promises, config: str, as_of: date, plan_year: int):
    return job.run_mine(right, promises, load_settings(config), as_of, plan_year)


@task(name="write-outputs")
def write_outputs(results, out_dir: str, as_of: date, plan_year: int, promises: job.Promises) -> dict:
    return job.write_run(results, out_dir, as_of, plan_year, promises)


@flow(name="minewatch-nightly")
def nightly(config: str, run_date: date | None = None, out_dir: str | None = None) -> dict:
    as_of = run_date or date.today()
    plan_year = as_of.year
    s = load_settings(config)
    logger = get_run_logger()
    promises = load_promises(config, plan_year)
    logger.info("%d mining rights, %d plans for %d", len(promises.rights), len(promises.plans), plan_year)
    futures = mine.map(promises.rights, promises=promises, config=config, as_of=as_of, plan_year=plan_year)
    results = [f.result() for f in futures]
    for r in results:
        logger.info("mine %s: %d scenes, %d anomalies%s", r.license_no, len(r.scenes), len(r.anomalies),
                    f", FAILED: {r.error}" if r.error else "")
    return write_outputs(results, out_dir or str(s.output_dir), as_of, plan_year, promises)
