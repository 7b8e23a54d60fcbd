"""Command line: `minewatch init|catalog|sample|run|serve|plan|eval|ledger` (docs/operations.md).

Exit codes of `run` (and of every command's bad input): 0 done, 3 some mines failed (listed),
2 bad input (a path, the date, the config), catalogue unreachable, disk full or read-only
output folder: one line naming the path or value, nothing started; 1 only for a bug
(a traceback). `plan check` is a linter: 1 when a plan has errors.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from minewatch import __version__, ops
from minewatch.config import ConfigError, PlanSettings, Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

DEFAULT_CONFIG = "configs/sample.yaml"
EXIT_OK, EXIT_BUG, EXIT_BAD_INPUT, EXIT_SOME_FAILED = 0, 1, 2, 3
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
log = logging.getLogger("minewatch")


class BadInput(Exception):
    """A mistake of the operator's or the machine's: one line, exit 2, nothing started."""


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def cmd_catalog(args: argparse.Namespace) -> int:
    from minewatch import localstac

    s = _settings(args)
    lc = s.local_catalog
    if args.action == "up":
        url = localstac.up(lc.data_dir, pg_port=lc.pg_port, api_port=lc.api_port)
        print(url)
    elif args.action == "load":
        n = localstac.load(Path(args.dir), lc.data_dir, pg_port=lc.pg_port)
        print(f"loaded {n} items from {args.dir}")
    elif args.action == "down":
        localstac.down(lc.data_dir)
        print("catalogue stopped")
    return 0


def prefect_offline_defaults() -> None:
    """A first run without a Prefect server must work offline (docs/domain.md §5)."""
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_UI_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "minewatch")


def check_catalog(s: Settings) -> None:
    """Fail fast, with what to do, when the STAC API cannot be reached: a 503 or a body that is
    not JSON is retried like a search's calls (`sky.catalog.open_catalog`), then one line, exit 2."""
    from minewatch.sky.catalog import CatalogError, open_catalog

    c = s.catalog
    try:
        open_catalog(c.url, c.timeout_s, retries=c.retries, backoff_s=c.backoff_s, max_total_s=c.max_search_s)
    except CatalogError as e:
        raise BadInput(f"无法连接影像目录 {' '.join(str(e).split())[:300]}. Start the local one with "
                       f"`minewatch catalog up` or fix catalog.url in the config.") from e


def run_date_of(text: str | None, tz: str) -> date:
    """`--date` as a date, or today in `tz` (run.timezone) when not given."""
    from minewatch.ops import local_run_date

    if not text:
        return local_run_date(tz, datetime.now(timezone.utc))
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"无效的运行日期 invalid --date {text!r}: expected an existing day as YYYY-MM-DD") from None


def writable_folder(folder: Path, zh: str, what: str) -> None:
    """`folder` exists as a folder, or its parent does (it is made there); a probe file can be written."""
    probe_dir = folder if folder.exists() else folder.parent
    if not probe_dir.exists():
        raise BadInput(f"{zh}的上级目录不存在 parent of the {what} does not exist: {probe_dir}")
    if not probe_dir.is_dir():
        raise BadInput(f"{zh}不是目录 {what} is not a folder: {probe_dir}")
    try:
        with tempfile.NamedTemporaryFile(dir=probe_dir, prefix=".minewatch-probe-") as fh:
            fh.write(b"minewatch")
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as e:
        raise BadInput(ops.disk_fault(e, probe_dir) or f"{zh}无法写入 cannot write to {probe_dir}: "
                       f"{e.strerror or e}") from e


def preflight(args: argparse.Namespace) -> tuple[Settings, date, Path]:
    """Every path and the date checked before anything starts (one line each, exit 2)."""
    if not Path(args.config).is_file():
        raise BadInput(f"配置文件不存在 config file not found: {args.config}")
    s = _settings(args)
    run_date = run_date_of(args.date, s.run.timezone)
    if not s.registry.is_file():
        raise BadInput(f"采矿权登记库不存在 registry not found: {s.registry} (registry in {args.config})")
    if not s.plans.exists():
        raise BadInput(f"年度计划目录不存在 plans not found: {s.plans} (plans in {args.config})")
    if not s.assess.thresholds.is_file():
        raise BadInput(f"阈值表不存在 thresholds file not found: {s.assess.thresholds} (assess.thresholds)")
    if s.ledger.acceptance is not None and not s.ledger.acceptance.exists():
        raise BadInput(f"验收清单不存在 acceptance list not found: {s.ledger.acceptance} (ledger.acceptance)")
    out = Path(args.out).resolve() if args.out else s.output_dir
    writable_folder(out, "输出目录", "output folder")
    return s, run_date, out


def one_line_console_errors() -> None:
    """In the terminal an error is its message line; the traceback stays in the run's Prefect logs.

    Prefect prints a failed flow's traceback, and minewatch each failed mine's, on the console:
    for a province that is a screen per mine. `--log-level DEBUG` keeps them.
    """
    from prefect.logging.handlers import PrefectConsoleHandler

    inner = PrefectConsoleHandler.format
    if getattr(inner, "one_line", False):
        return

    def format(self: logging.Handler, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        try:
            return inner(self, record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved

    format.one_line = True  # type: ignore[attr-defined]
    PrefectConsoleHandler.format = format  # type: ignore[method-assign]


def log_level(args: argparse.Namespace, default: str = "INFO") -> str:
    if getattr(args, "quiet", False):
        return "WARNING"
    return getattr(args, "log_level", None) or default


def print_summary(summary: dict, quiet: bool) -> None:
    if quiet:
        print(f"运行完成 run finished: {summary['mines']} mines, {summary['mines_failed']} failed, "
              f"{summary['anomalies']} anomalies; {summary['run_dir']}")
        return
    print(f"\n运行完成 run finished: {summary['mines']} 座矿山 mines, {summary['scenes_read']} 景影像 scenes "
          f"(新读取 read {summary.get('steps_read', 0)} 个时相 steps, "
          f"缓存 stored {summary.get('steps_from_store', 0)}), "
          f"{summary['anomalies']} 条异常 anomalies {summary['anomalies_by_type']}")
    for f in summary["failures"]:
        print(f"  失败 FAILED {f['license_no']}: {f['error']}")
    print(f"输出 outputs in {summary['run_dir']}:")
    for name in summary["outputs"]:
        print(f"  {Path(summary['run_dir']) / name}")


def cmd_run(args: argparse.Namespace) -> int:
    s, run_date, out = preflight(args)
    check_catalog(s)
    level = log_level(args, s.run.log_level)
    prefect_offline_defaults()
    prefect_level = "WARNING" if level in ("WARNING", "ERROR") else level
    if args.quiet or args.log_level:          # asked for on the command line: it wins
        os.environ["PREFECT_LOGGING_LEVEL"] = prefect_level
    else:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", prefect_level)
    log.setLevel(level)                 # per-mine and per-scene lines reach the run log
    from minewatch.flow.nightly import NightFailed, nightly

    if level != "DEBUG":
        one_line_console_errors()
    try:
        summary = nightly(config=str(Path(args.config).resolve()), run_date=run_date, out_dir=str(out))
    except NightFailed as e:             # every mine failed; the outputs are written all the same
        summary = e.summary
    except Exception as e:              # a disk that fills or turns read-only during the night
        line = ops.disk_fault(e, out)   # (Python's errno or GDAL's words): one line, exit 2
        if line is None:
            raise
        raise BadInput(line) from e
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=1, sort_keys=True))
    else:
        print_summary(summary, bool(args.quiet))
    return EXIT_SOME_FAILED if summary["failures"] else EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    """Register the scheduled deployment on PREFECT_API_URL and run its flow runs (blocks)."""
    from minewatch.flow.deploy import ServeError, serve_nightly

    if not Path(args.config).is_file():
        raise BadInput(f"配置文件不存在 config file not found: {args.config}")
    s = _settings(args)                      # a bad config fails now, not at 02:00
    if args.out:
        writable_folder(Path(args.out).resolve(), "输出目录", "output folder")
    # flow runs are subprocesses of this one: minewatch's loggers reach Prefect there too
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", log_level(args, s.run.log_level))
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "minewatch")
    print(f"serving minewatch-nightly: cron '{args.cron}' {args.tz}, config {Path(args.config).resolve()}, "
          f"dask {s.dask.scheduler_address or 'local threads'}")
    try:
        serve_nightly(str(Path(args.config).resolve()), args.cron, args.tz, name=args.name,
                      out_dir=str(Path(args.out).resolve()) if args.out else None)
    except ServeError as e:
        print(f"错误 error: {e}", file=sys.stderr)
        return 2
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from minewatch.synth import sample

    root = Path(args.dir)
    if args.promises:
        sample.write_promises(root)
        print(f"registry, plans and truths written to {root}")
    cat = sample.ensure_sample(root)
    print(cat)
    return 0


STARTER = {   # packaged file -> name in the operator's folder
    "minewatch.yaml": "minewatch.yaml",
    "thresholds.yaml": "thresholds.yaml",
    "regions.yaml": "regions.yaml",
    "plan_template.xlsx": "年度矿区生态修复情况表_模板.xlsx",
}


def cmd_init(args: argparse.Namespace) -> int:
    """`minewatch init DIR`: a starter config, the thresholds and regions tables and the blank plan template."""
    from importlib import resources

    root = Path(args.dir)
    if root.exists() and not root.is_dir():
        raise BadInput(f"不是目录 not a folder: {root}")
    writable_folder(root.resolve(), "目标目录", "target folder")
    clash = [root / name for name in STARTER.values() if (root / name).exists()]
    if clash and not args.force:
        raise BadInput(f"文件已存在 already exists (use --force to overwrite): {clash[0]}")
    from minewatch.plumbing.atomic import atomic_path

    data = resources.files("minewatch").joinpath("data")
    (root / "plans").mkdir(parents=True, exist_ok=True)
    for packaged, name in STARTER.items():
        with atomic_path(root / name) as tmp:
            tmp.write_bytes(data.joinpath(packaged).read_bytes())
        print(root / name)
    print(f"已创建 created {root}: edit minewatch.yaml (registry, catalog.url), put the registry at "
          f"{root / 'registry.csv'} and the plans in {root / 'plans'}, then "
          f"`minewatch plan check {root / 'plans'} --registry {root / 'registry.csv'}` and "
          f"`minewatch run --config {root / 'minewatch.yaml'}`")
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    """`minewatch plan check FILE... [--registry REG] [--json]`: 1 when any error, else 0."""
    from minewatch.promised.findings import ERROR, format_finding
    from minewatch.promised.planreader import PlanReadResult
    from minewatch.promised.registry import read_registry
    from minewatch.promised.validate import check_files

    rights = None
    registry: list[PlanReadResult] = []     # its bad rows, listed like a file's findings
    if args.registry:
        try:
            reg = read_registry(args.registry)
        except OSError as e:
            print(f"错误 error: 采矿权登记库无法读取 / registry unreadable: {e}", file=sys.stderr)
            return 2
        if not reg.rights and any(f.severity == ERROR for f in reg.findings):
            print(f"错误 error: 采矿权登记库无法使用 / registry unusable (no good row): {args.registry}",
                  file=sys.stderr)
            for f in reg.findings:
                print("  " + format_finding(f), file=sys.stderr)
            return 2
        rights = {r.license_no: r for r in reg.rights}
        if reg.findings:
            registry = [PlanReadResult(None, reg.findings, str(args.registry))]
    results = registry + check_files(args.files, rights, area_tolerance=args.area_tolerance)
    findings = [f for r in results for f in r.findings]
    if args.json:
        from dataclasses import asdict
        print(json.dumps([asdict(f) for f in findings], ensure_ascii=False, indent=1))
    else:
        for r in results:
            n_err = sum(f.severity == ERROR for f in r.findings)
            head = f"== {r.file}: {n_err} 个错误 errors, {len(r.findings) - n_err} 个警告 warnings"
            if r.plan is not None:
                head += f" ({r.plan.license_no} {r.plan.plan_year}年度, {len(r.plan.units)} 个单元 units)"
            print(head)
            for f in r.findings:
                print("  " + format_finding(f))
        n_err = sum(f.severity == ERROR for f in findings)
        print(f"共 {len(results)} 个文件 files, {n_err} 个错误 errors, {len(findings) - n_err} 个警告 warnings"
              + ("" if rights is not None else "; 未给出 --registry, 未核对登记库 registry rules skipped"))
    return 1 if any(f.severity == ERROR for f in findings) else 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Labelled scenarios (generated if missing) through the STAC catalogue and the pipeline."""
    from minewatch import evaluate

    root, s = evaluate.prepare(Path(args.scenarios), _settings(args))
    evaluate.print_report(evaluate.evaluate(root, s, args.only.split(",") if args.only else None))
    return 0


def _logging_options(p: argparse.ArgumentParser, top: bool) -> None:
    # accepted before and after the command; the subcommand's copy only counts when given
    dflt = {} if top else {"default": argparse.SUPPRESS}
    p.add_argument("--log-level", type=str.upper, choices=LEVELS, help="minewatch's log level (default: "
                   "run.log_level in the config, INFO)", **({"default": None} if top else dflt))
    p.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only, one summary line",
                   **({"default": False} if top else dflt))
# ---------------------------------------------------------------- minewatch ledger (issue 13)

def cmd_ledger(args: argparse.Namespace) -> int:
    """`minewatch ledger ingest [PATH...] [--rebuild]` | `minewatch ledger show LICENCE [--date D]` |
    `minewatch ledger accept FILE...`."""
    from minewatch.ledger.db import ledger_url, open_engine

    s = _settings(args)
    engine = open_engine(ledger_url(s))
    try:
        if args.ledger_action == "show":
            return _ledger_show(engine, args.licence, run_date_of(args.date, s.run.timezone), s)
        if args.ledger_action == "accept":
            return _ledger_accept(engine, args.files, s)
        from minewatch.ledger.ingest import ingest_paths
        from minewatch.promised.findings import ERROR, format_finding

        rep = ingest_paths(engine, args.paths or [s.plans], iou_min=s.ledger.iou_min,
                           related_min=s.ledger.related_min, area_tolerance=s.plan.area_tolerance,
                           rebuild=args.rebuild)
        for line in rep.added:
            print(f"入账 ingested {line}")
        for f in rep.findings:
            print("  " + format_finding(f))
        print(f"共入账 {len(rep.added)} 份计划 plans ingested, {len(rep.skipped)} 份已在台账 already in the ledger, "
              f"{len(rep.findings)} 条提示 findings")
        return 1 if any(f.severity == ERROR for f in rep.findings) else 0
    finally:
        engine.dispose()


def _ledger_show(engine: Engine, licence: str, today: date, s: Settings) -> int:
    """`minewatch ledger show LICENCE`: the plan rows unit by unit, then each unit's state,
    acceptance records and seasons (against its target class's FVC minimum), then the
    mining right's acceptance applications overdue on ``today``."""
    from minewatch.assess.thresholds import load_thresholds
    from minewatch.ledger.events import format_events, unit_events, unit_states
    from minewatch.ledger.overdue import format_overdue, overdue_applications
    from minewatch.ledger.timeline import format_timeline, timeline
    from minewatch.outputs.unit_history import fvc_minimums

    print(format_timeline(licence, timeline(engine, licence)))
    events = unit_events(engine, [licence])
    if events:
        county = {}      # the registry's county picks the region's threshold rows, as the night does
        if s.registry.is_file():
            from minewatch.promised.registry import read_registry

            county = {r.license_no: r.county_code for r in read_registry(s.registry).rights}
        limits = fvc_minimums(events, load_thresholds(s.assess.thresholds, s.assess.regions), county)
        print(format_events(events, unit_states(events, today, s.ledger.management_years), limits))
    late = [o for o in overdue_applications(engine, today, working_days=s.ledger.acceptance_working_days,
                                            holidays=s.ledger.holidays) if o.license_no == licence]
    print(format_overdue(late, today, s.ledger.acceptance_working_days))
    return EXIT_OK


def _ledger_accept(engine: Engine, files: list[str], s: Settings) -> int:
    """`minewatch ledger accept FILE...`: each list imported, its findings one line each (like
    `plan check`), then the plans' acceptance claims no 合格 record covers; 1 on any error."""
    from minewatch.ledger.acceptance import claims_without_record, import_acceptance
    from minewatch.promised.findings import ERROR, format_finding

    missing = [f for f in files if not Path(f).is_file()]
    if missing:
        raise BadInput(f"验收清单不存在 acceptance list not found: {missing[0]}")
    findings = []
    for f in files:
        rep = import_acceptance(engine, f, iou_min=s.ledger.iou_min)
        n_err = sum(x.severity == ERROR for x in rep.findings)
        print(f"== {Path(f).name}: {len(rep.records)} 条验收记录 records, {n_err} 个错误 errors, "
              f"{len(rep.findings) - n_err} 个警告 warnings")
        for x in rep.findings:
            print("  " + format_finding(x))
        findings += rep.findings
    claims = claims_without_record(engine)
    print(f"== 计划申报已验收但无合格记录 plan claims without a record: {len(claims)}")
    for x in claims:
        print("  " + format_finding(x))
    findings += claims
    n_err = sum(x.severity == ERROR for x in findings)
    print(f"共 {len(files)} 个文件 files, {n_err} 个错误 errors, {len(findings) - n_err} 个警告 warnings")
    return 1 if n_err else 0


def add_ledger_parser(sub: argparse._SubParsersAction) -> None:
    lg = sub.add_parser("ledger", help="the unit ledger across plan years (全流程跟踪台账)")
    lg_sub = lg.add_subparsers(dest="ledger_action", required=True)
    li = lg_sub.add_parser("ingest", help="read every year's plans into the ledger (oldest first; idempotent)")
    li.add_argument("paths", nargs="*", metavar="PATH", help=".xlsx plans or folders (default: plans from the config)")
    li.add_argument("--rebuild", action="store_true", help="forget every filing first and re-ingest all given")
    li.add_argument("--config", default=DEFAULT_CONFIG)
    ls = lg_sub.add_parser("show", help="print one mining right's unit timeline")
    ls.add_argument("licence", metavar="LICENCE", help="采矿权证证号")
    ls.add_argument("--date", help="the day overdue acceptance is judged at, YYYY-MM-DD (default: today in "
                                   "run.timezone)")
    ls.add_argument("--config", default=DEFAULT_CONFIG)
    la = lg_sub.add_parser("accept", help="import the county bureau's acceptance (验收) lists, .csv or .xlsx")
    la.add_argument("files", nargs="+", metavar="FILE")
    la.add_argument("--config", default=DEFAULT_CONFIG)
    lg.set_defaults(func=cmd_ledger)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="minewatch", description="矿区生态修复卫星监管 minewatch")
    p.add_argument("--version", action="version", version=f"minewatch {__version__}")
    _logging_options(p, top=True)
    sub = p.add_subparsers(dest="command", required=True)

    it = sub.add_parser("init", help="write a starter config, thresholds table and blank plan template into DIR")
    it.add_argument("dir", metavar="DIR")
    it.add_argument("--force", action="store_true", help="overwrite the starter files if present")
    it.set_defaults(func=cmd_init)

    c = sub.add_parser("catalog", help="local STAC catalogue (pgstac + stac-fastapi on 127.0.0.1)")
    c.add_argument("action", choices=["up", "load", "down"])
    c.add_argument("dir", nargs="?", help="folder with collection.json and item JSON files (load)")
    c.add_argument("--config", default=DEFAULT_CONFIG)
    c.set_defaults(func=cmd_catalog)

    r = sub.add_parser("run", help="run the nightly job once (Prefect flow)")
    r.add_argument("--config", default=DEFAULT_CONFIG)
    r.add_argument("--date", help="run date YYYY-MM-DD (default: today in run.timezone, Asia/Shanghai); "
                                  "the plan year is its year")
    r.add_argument("--out", help="output folder (default: output_dir from the config)")
    r.add_argument("--json", action="store_true", help="print the run summary as JSON on stdout")
    r.set_defaults(func=cmd_run)

    from minewatch.ops import DEFAULT_CRON, DEFAULT_TZ, DEPLOYMENT_NAME

    sv = sub.add_parser("serve", help="serve the nightly flow on a cron schedule (needs PREFECT_API_URL)")
    sv.add_argument("--config", default=DEFAULT_CONFIG)
    sv.add_argument("--cron", default=DEFAULT_CRON, help=f"cron string (default '{DEFAULT_CRON}')")
    sv.add_argument("--tz", default=DEFAULT_TZ, help=f"IANA time zone of the cron (default {DEFAULT_TZ})")
    sv.add_argument("--name", default=DEPLOYMENT_NAME, help="deployment name")
    sv.add_argument("--out", help="output folder (default: output_dir from the config)")
    sv.set_defaults(func=cmd_serve)

    sm = sub.add_parser("sample", help="generate the bundled sample's scenes (first use) and print the "
                                       "catalogue folder")
    sm.add_argument("--dir", default="sample_scenes")
    sm.add_argument("--promises", action="store_true", help="also rewrite registry, plans and truths")
    sm.set_defaults(func=cmd_sample)

    pl = sub.add_parser("plan", help="annual restoration plans (年度矿区生态修复计划)")
    pl_sub = pl.add_subparsers(dest="plan_action", required=True)
    pc = pl_sub.add_parser("check", help="check plan .xlsx files; exit 1 when any has errors")
    pc.add_argument("files", nargs="+", metavar="FILE", help=".xlsx plan files or folders of them")
    pc.add_argument("--registry", help="mining-right registry (.csv/.geojson/.gpkg) for the registry rules")
    pc.add_argument("--json", action="store_true", help="print the findings as a JSON list")
    tol = PlanSettings().area_tolerance      # one default: the settings model's
    pc.add_argument("--area-tolerance", type=float, default=tol,
                    help=f"relative tolerance of declared vs computed area (default {tol}; plan.area_tolerance)")
    pc.set_defaults(func=cmd_plan)

    ev = sub.add_parser("eval", help="precision/recall on labelled synthetic scenarios (generated if missing)")
    ev.add_argument("--scenarios", required=True, help="scenario folder (written on first use)")
    ev.add_argument("--config", default=DEFAULT_CONFIG)
    ev.add_argument("--only", help="comma-separated scenario names")
    ev.set_defaults(func=cmd_eval)

    add_ledger_parser(sub)
    for action in sub.choices.values():
        _logging_options(action, top=False)
    return p


def _known_error(e: BaseException) -> str | None:
    """The one line for a failure that is bad input, not a bug; None for a bug."""
    from minewatch.assess.thresholds import ThresholdError
    from minewatch.localstac import CatalogServerError

    if isinstance(e, (BadInput, ConfigError, CatalogServerError, ThresholdError)):
        return str(e)
    return ops.disk_fault(e)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = log_level(args)
    if args.command not in ("run", "serve"):      # Prefect configures logging for those
        logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    if getattr(args, "action", None) == "load" and not args.dir:
        print("错误 error: catalog load needs a folder", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return args.func(args)
    except Exception as e:  # noqa: BLE001 - known failures get one clear line, not a traceback
        line = _known_error(e)
        if line is None:
            raise                               # a bug: the traceback, exit 1
        print(f"错误 error: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
