"""Run folders: ``OUT/YYYY-MM-DD/`` per nightly run, ``OUT/latest`` pointing at the newest.

- A run folder counts as complete once it holds ``run_summary.json`` (``job.write_run``
  writes it last), so a run that died half way is never taken as the previous run.
- ``latest`` is a relative symlink replaced in one rename; ``LATEST`` (a text file with the
  folder name) is written too, atomically, for readers on file systems or platforms
  without symlinks (SMB shares, Windows). Where the symlink cannot be made, only
  ``LATEST`` is updated.
"""
from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

from minewatch.plumbing.atomic import write_text

_RUN_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}$")
COMPLETE_MARKER = "run_summary.json"


def run_dir(out: str | Path, run_date: date) -> Path:
    """The folder for one run (created if missing)."""
    d = Path(out) / run_date.isoformat()
    d.mkdir(parents=True, exist_ok=True)
    return d


def update_latest(out: str | Path, run_dir: str | Path) -> Path:
    """Point OUT/latest (symlink) and OUT/LATEST (text) at `run_dir`; returns what was updated last."""
    out = Path(out)
    run_dir = Path(run_dir)
    if run_dir.resolve().parent != out.resolve():
        raise ValueError(f"{run_dir} is not a run folder directly under {out}")
    name = run_dir.name
    marker = write_text(out / "LATEST", name + "\n")
    link = out / "latest"
    if link.exists() and not link.is_symlink():
        raise FileExistsError(f"{link} exists and is not a symlink; not replacing it")
    tmp = out / f".latest.{os.getpid()}.tmp"
    try:
        tmp.unlink(missing_ok=True)
        os.symlink(name, tmp, target_is_directory=True)
        os.replace(tmp, link)
    except (OSError, NotImplementedError):
        tmp.unlink(missing_ok=True)
        return marker
    return link


def _runs(out: Path) -> list[Path]:
    if not out.is_dir():
        return []
    return sorted(p for p in out.iterdir()
                  if p.is_dir() and not p.is_symlink() and _RUN_NAME.match(p.name)
                  and (p / COMPLETE_MARKER).is_file())


def previous_run(out: str | Path, run_date: date) -> Path | None:
    """The newest complete run folder strictly before `run_date`, or None."""
    today = run_date.isoformat()
    before = [p for p in _runs(Path(out)) if p.name < today]
    return before[-1] if before else None


def latest_run(out: str | Path) -> Path | None:
    """What `latest` points at (symlink first, then LATEST), or None."""
    out = Path(out)
    link = out / "latest"
    if link.is_symlink() and link.resolve().is_dir():
        return out / os.readlink(link)
    marker = out / "LATEST"
    if marker.is_file():
        d = out / marker.read_text(encoding="utf-8").strip()
        return d if d.is_dir() else None
    return None
