"""Command line: `minewatch catalog up|load|down`, `minewatch sample`, `minewatch run`, `minewatch serve`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from minewatch.config import ConfigError, PlanSettings, Settings, load_settings

DEFAULT_CONFIG = "configs/sample.yaml"


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
    """A first run without a Prefect server must work offline (DOMAIN.md §5)."""
    import os
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_UI_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "minewatch")


def check_catalog(s: Settings) -> int:
    """0 when the STAC API answers (a 503 or a body that is not JSON is retried like a search's
    calls); else one line with what to do, and 2 (catalogue down)."""
    from minewatch.sky.catalog import CatalogError, open_catalog

    c = s.catalog
    try:
        open_catalog(c.url, c.timeout_s, retries=c.retries, backoff_s=c.backoff_s, max_total_s=c.max_search_s)
    except CatalogError as e:
        print(f"错误 error: 无法连接影像目录 {e}. "
              f"Start the local one with `minewatch catalog up` or fix catalog.url in the config.", file=sys.stderr)
        return 2
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from datetime import date

    s = _settings(args)
    run_date = date.fromisoformat(args.date) if args.date else date.today()
    if check_catalog(s):
        return 2
    prefect_offline_defaults()
    import logging
    logging.getLogger("minewatch").setLevel(logging.INFO)   # per-mine and per-scene lines reach the run log
    from minewatch.flow.nightly import NightFailed, nightly

    try:
        summary = nightly(config=str(Path(args.config).resolve()), run_date=run_date,
                          out_dir=str(Path(args.out).resolve()) if args.out else None)
    except NightFailed as e:             # every mine failed; the outputs are written all the same
        summary = e.summary
    print(f"\n运行完成 run finished: {summary['mines']} 座矿山 mines, {summary['scenes_read']} 景影像 scenes "
          f"(新读取 read {summary.get('steps_read', 0)} 个时相 steps, "
          f"缓存 stored {summary.get('steps_from_store', 0)}), "
          f"{summary['anomalies']} 条异常 anomalies {summary['anomalies_by_type']}")
    for f in summary["failures"]:
        print(f"  失败 FAILED {f['license_no']}: {f['error']}")
    print(f"输出 outputs in {summary['run_dir']}:")
    for name in summary["outputs"]:
        print(f"  {Path(summary['run_dir']) / name}")
    return 3 if summary["failures"] else 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Register the scheduled deployment on PREFECT_API_URL and run its flow runs (blocks)."""
    import os

    from minewatch.flow.deploy import ServeError, serve_nightly

    s = _settings(args)                      # a bad config fails now, not at 02:00
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
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


def cmd_plan(args: argparse.Namespace) -> int:
    """`minewatch plan check FILE... [--registry REG] [--json]`: 1 when any error, else 0."""
    import json

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


# ---------------------------------------------------------------- minewatch ledger (issue 13)

def cmd_ledger(args: argparse.Namespace) -> int:
    """`minewatch ledger ingest [PATH...] [--rebuild]` | `minewatch ledger show LICENCE`."""
    from minewatch.ledger.db import ledger_url, open_engine

    s = _settings(args)
    engine = open_engine(ledger_url(s))
    try:
        if args.ledger_action == "show":
            from minewatch.ledger.timeline import format_timeline, timeline

            print(format_timeline(args.licence, timeline(engine, args.licence)))
            return 0
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


def add_ledger_parser(sub: argparse._SubParsersAction) -> None:
    lg = sub.add_parser("ledger", help="the unit ledger across plan years (全流程跟踪台账)")
    lg_sub = lg.add_subparsers(dest="ledger_action", required=True)
    li = lg_sub.add_parser("ingest", help="read every year's plans into the ledger (oldest first; idempotent)")
    li.add_argument("paths", nargs="*", metavar="PATH", help=".xlsx plans or folders (default: plans from the config)")
    li.add_argument("--rebuild", action="store_true", help="forget every filing first and re-ingest all given")
    li.add_argument("--config", default=DEFAULT_CONFIG)
    ls = lg_sub.add_parser("show", help="print one mining right's unit timeline")
    ls.add_argument("licence", metavar="LICENCE", help="采矿权证证号")
    ls.add_argument("--config", default=DEFAULT_CONFIG)
    lg.set_defaults(func=cmd_ledger)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="minewatch", description="矿区生态修复卫星监管 minewatch")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("catalog", help="local STAC catalogue (pgstac + stac-fastapi on 127.0.0.1)")
    c.add_argument("action", choices=["up", "load", "down"])
    c.add_argument("dir", nargs="?", help="folder with collection.json and item JSON files (load)")
    c.add_argument("--config", default=DEFAULT_CONFIG)
    c.set_defaults(func=cmd_catalog)

    r = sub.add_parser("run", help="run the nightly job once (Prefect flow)")
    r.add_argument("--config", default=DEFAULT_CONFIG)
    r.add_argument("--date", help="run date YYYY-MM-DD (default today); the plan year is its year")
    r.add_argument("--out", help="output folder (default: output_dir from the config)")
    r.set_defaults(func=cmd_run)

    from minewatch.ops import DEFAULT_CRON, DEFAULT_TZ, DEPLOYMENT_NAME

    sv = sub.add_parser("serve", help="serve the nightly flow on a cron schedule (needs PREFECT_API_URL)")
    sv.add_argument("--config", default=DEFAULT_CONFIG)
    sv.add_argument("--cron", default=DEFAULT_CRON, help=f"cron string (default '{DEFAULT_CRON}')")
    sv.add_argument("--tz", default=DEFAULT_TZ, help=f"IANA time zone of the cron (default {DEFAULT_TZ})")
    sv.add_argument("--name", default=DEPLOYMENT_NAME, help="deployment name")
    sv.add_argument("--out", help="output folder (default: output_dir from the config)")
    sv.set_defaults(func=cmd_serve)

    sm = sub.add_parser("sample",
                        help="generate the bundled sample's scenes (first use) and print the catalogue folder")
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
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "action", None) == "load" and not args.dir:
        print("错误 error: catalog load needs a folder", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except ConfigError as e:
        print(f"错误 error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - known failures get one clear line, not a traceback
        from minewatch.localstac import CatalogServerError
        if isinstance(e, CatalogServerError):
            print(f"错误 error: {e}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
