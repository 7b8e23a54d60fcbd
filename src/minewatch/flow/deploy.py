"""The nightly flow as a scheduled Prefect deployment, served from this process.

    PREFECT_API_URL=http://prefect:4200/api minewatch serve --config /data/minewatch.yaml
    python -m minewatch.flow.deploy --config configs/sample.yaml --cron "0 2 * * *" --tz Asia/Shanghai

`serve_nightly` registers deployment `minewatch-nightly/nightly` on the server named by
PREFECT_API_URL, with a cron schedule in Asia/Shanghai (02:00 by default) and the config
path as its parameter, then polls the server and runs each flow run (scheduled, or
started from the UI / `prefect deployment run` / `run_deployment`) in a subprocess.
Cron schedules need a real `prefect server start`: without PREFECT_API_URL Prefect
would start a temporary server that dies with this process, so that is refused.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from minewatch.ops import DEFAULT_CRON, DEFAULT_TZ, DEPLOYMENT_NAME

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment
    from prefect.schedules import Schedule

log = logging.getLogger("minewatch")


class ServeError(RuntimeError):
    """Serving cannot start: no server configured, bad schedule, missing config."""


def load_flow(ref: str | None = None) -> Any:
    """The flow to deploy: `minewatch.flow.nightly:nightly` unless `module:attr` says otherwise."""
    ref = ref or "minewatch.flow.nightly:nightly"
    mod, _, attr = ref.partition(":")
    return getattr(importlib.import_module(mod), attr or "nightly")


def nightly_schedule(cron: str = DEFAULT_CRON, tz: str = DEFAULT_TZ) -> Schedule:
    """A Prefect cron schedule in `tz` (validated here, not at 02:00)."""
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.schedules import Cron

    try:
        CronSchedule(cron=cron, timezone=tz)
    except Exception as e:  # pydantic ValidationError: bad cron string or unknown zone
        raise ServeError(f"无效的调度 invalid schedule cron={cron!r} tz={tz!r}: {e}") from e
    return Cron(cron, timezone=tz)


def nightly_deployment(config: str | Path, cron: str = DEFAULT_CRON, tz: str = DEFAULT_TZ, *,
                       name: str = DEPLOYMENT_NAME, flow: Any = None, out_dir: str | Path | None = None,
                       paused: bool = False, tags: list[str] | None = None) -> RunnerDeployment:
    """A RunnerDeployment of the nightly flow: cron in `tz`, parameters {config[, out_dir]}.

    `flow`: a Flow, a "module:attr" reference, or None for `minewatch.flow.nightly:nightly`.

    The config path is made absolute: flow runs start in subprocesses, maybe elsewhere.
    `run_date` is left to the flow, which takes the scheduled night in Asia/Shanghai.
    """
    from prefect.types.entrypoint import EntrypointType

    config = Path(config).resolve()
    if not config.is_file():
        raise ServeError(f"配置文件不存在 config file not found: {config}")
    flow = load_flow(flow) if flow is None or isinstance(flow, str) else flow
    params: dict[str, Any] = {"config": str(config)}
    if out_dir is not None:
        params["out_dir"] = str(Path(out_dir).resolve())
    return flow.to_deployment(
        name=name, schedules=[nightly_schedule(cron, tz)], parameters=params, paused=paused,
        tags=tags or ["minewatch", "nightly"],
        description=f"minewatch nightly check, cron '{cron}' {tz}, config {config}",
        # module path, not file path: works from any cwd and in the installed image
        entrypoint_type=EntrypointType.MODULE_PATH)


def api_url() -> str | None:
    from prefect.settings import PREFECT_API_URL
    return PREFECT_API_URL.value()


def serve_nightly(config: str | Path, cron: str = DEFAULT_CRON, tz: str = DEFAULT_TZ, *,
                  name: str = DEPLOYMENT_NAME, flow: Any = None, out_dir: str | Path | None = None,
                  limit: int = 1) -> None:
    """Register the deployment and serve it until SIGTERM/SIGINT (blocks).

    `limit=1`: one night at a time. Schedules are *not* paused on shutdown, so a
    container restart does not silently stop the nightly runs.
    """
    import os

    from prefect import serve

    # flow runs are subprocesses of this one and inherit this: the library's "minewatch"
    # logger (mine and scene names) then reaches the Prefect UI next to the flow's logs
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "minewatch")
    nightly_schedule(cron, tz)            # a bad cron or zone is reported before anything else
    url = api_url()
    if not url:
        raise ServeError("PREFECT_API_URL 未设置 is not set: cron schedules need a running Prefect server "
                         "(`prefect server start`), e.g. PREFECT_API_URL=http://127.0.0.1:4200/api")
    dep = nightly_deployment(config, cron, tz, name=name, flow=flow, out_dir=out_dir)
    log.info("serving %s/%s on %s, cron '%s' %s", dep.flow_name, name, url, cron, tz)
    serve(dep, limit=limit, pause_on_shutdown=False, print_starting_message=True)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="minewatch serve",
                                description="serve the nightly flow on a cron schedule (needs PREFECT_API_URL)")
    p.add_argument("--config", default="configs/sample.yaml")
    p.add_argument("--cron", default=DEFAULT_CRON, help=f"cron string (default '{DEFAULT_CRON}')")
    p.add_argument("--tz", default=DEFAULT_TZ, help=f"IANA time zone of the cron (default {DEFAULT_TZ})")
    p.add_argument("--name", default=DEPLOYMENT_NAME, help="deployment name")
    p.add_argument("--out", help="output folder (default: output_dir from the config)")
    p.add_argument("--flow", help="module:attr of the flow (default minewatch.flow.nightly:nightly)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        serve_nightly(args.config, args.cron, args.tz, name=args.name, flow=args.flow, out_dir=args.out)
    except ServeError as e:
        print(f"错误 error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
