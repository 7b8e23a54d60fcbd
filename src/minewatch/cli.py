"""Command line: `minewatch catalog up|load|down`, `minewatch sample`, `minewatch run`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from minewatch.config import ConfigError, Settings, load_settings

DEFAULT_CONFIG = "configs/sample.yaml"


def _settings(args) -> Settings:
    return load_settings(args.config)


def cmd_catalog(args) -> int:
    from minewatch.sky import stacserver

    s = _settings(args)
    lc = s.local_catalog
    if args.action == "up":
        url = stacserver.up(lc.data_dir, pg_port=lc.pg_port, api_port=lc.api_port)
        print(url)
    elif args.action == "load":
        n = stacserver.load(Path(args.dir), lc.data_dir, pg_port=lc.pg_port)
        print(f"loaded {n} items from {args.dir}")
    elif args.action == "down":
        stacserver.down(lc.data_dir)
        print("catalogue stopped")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="minewatch", description="矿区生态修复卫星监管 minewatch")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("catalog", help="local STAC catalogue (pgstac + stac-fastapi on 127.0.0.1)")
    c.add_argument("action", choices=["up", "load", "down"])
    c.add_argument("dir", nargs="?", help="folder with collection.json and item JSON files (load)")
    c.add_argument("--config", default=DEFAULT_CONFIG)
    c.set_defaults(func=cmd_catalog)
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


if __name__ == "__main__":
    sys.exit(main())
