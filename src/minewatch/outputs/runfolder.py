"""Run folders: ``OUT/YYYY-MM-DD/`` per nightly run, ``OUT/latest`` pointing at the newest.

- A run folder counts as complete once it holds ``run_summary.json`` (``job.write_run``
  writes it last), so a run that died half way is never taken as the previous run.
- ``latest`` is a relative symlink replaced in one rename; ``LATEST`` (a text file with the
  folder name) is written too, atomically, for readers on file systems or platforms
  without symlinks (SMB shares, Windows). Where the symlink cannot be made, only
  ``LATEST`` is updated.
- A night is published as one unit: :func:`staging_dir` gives a fresh hidden folder beside
  the dated one (``OUT/.staging-<date>.pid<pid>.<random>``), the run writes every file
  there, and :func:`publish` swaps it with the dated folder in one ``renameat2``
  (``RENAME_EXCHANGE``; a plain rename when there is no dated folder yet), then removes
  what it replaced. A run killed at any point leaves the old dated folder whole (or, on
  kernels without the exchange, at ``.replaced-...`` for :func:`remove_leftovers` to put
  back), and never a folder mixing two runs: files of a failed mine from an earlier run
  are simply not in the new folder.
- :func:`remove_leftovers` removes what killed runs left under OUT: staging folders and
  temp files (``.….pid<pid>.….tmp``: the pixel store, composites, GeoPackages) whose
  process is gone. Temp files of a live run (two runs at once) are left alone.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import re
import shutil
import tempfile
from datetime import date
from pathlib import Path

from minewatch.plumbing.atomic import write_text

__all__ = ["COMPLETE_MARKER", "run_dir", "staging_dir", "publish", "remove_leftovers", "update_latest",
           "previous_run", "latest_run"]

_RUN_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}$")
COMPLETE_MARKER = "run_summary.json"
_STAGING, _REPLACED = ".staging-", ".replaced-"
_PID = re.compile(r"\.pid(\d+)\.")        # the writer's pid in every temp name minewatch makes
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def run_dir(out: str | Path, run_date: date) -> Path:
    """The folder for one run (created if missing)."""
    d = Path(out) / run_date.isoformat()
    d.mkdir(parents=True, exist_ok=True)
    return d


def staging_dir(out: str | Path, run_date: date) -> Path:
    """A fresh, empty folder beside OUT/<date>/ for this run to write into."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{_STAGING}{run_date.isoformat()}.pid{os.getpid()}.", dir=out))


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False     # ENOSYS / EINVAL / EOPNOTSUPP: the kernel or file system cannot exchange
    raise OSError(err, os.strerror(err), str(b))


def publish(out: str | Path, staging: str | Path, run_date: date) -> Path:
    """Make `staging` the dated run folder OUT/<date>/ in one step; the folder it replaces
    is removed afterwards. Returns the dated folder."""
    out, staging = Path(out), Path(staging)
    final = out / run_date.isoformat()
    if not final.exists():
        os.rename(staging, final)
        return final
    if _exchange(staging, final):
        shutil.rmtree(staging, ignore_errors=True)     # now the old run's files
        return final
    # no exchange: two renames; a kill between them leaves the old folder at .replaced-…
    aside = out / f"{_REPLACED}{run_date.isoformat()}.pid{os.getpid()}.{staging.name.rsplit('.', 1)[-1]}"
    os.rename(final, aside)
    os.rename(staging, final)
    shutil.rmtree(aside, ignore_errors=True)
    return final


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _dead_writer(name: str) -> bool:
    m = _PID.search(name)
    return bool(m) and not _alive(int(m.group(1)))


def remove_leftovers(out: str | Path) -> list[Path]:
    """Remove what killed runs left under `out` (their process is gone): staging folders,
    temp files; put back a dated folder a kill left aside. Returns what was removed."""
    out = Path(out)
    removed: list[Path] = []
    if not out.is_dir():
        return removed
    for p in sorted(out.iterdir()):
        if not p.is_dir() or p.is_symlink() or not _dead_writer(p.name):
            continue
        if p.name.startswith(_REPLACED):
            final = out / p.name[len(_REPLACED):].split(".", 1)[0]
            if not final.exists():          # killed between the two renames: the old run comes back
                os.rename(p, final)
                continue
        if p.name.startswith((_STAGING, _REPLACED)):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    for root, dirs, files in os.walk(out):
        dirs[:] = [d for d in dirs if not d.startswith((_STAGING, _REPLACED))]
        for f in files:
            if f.startswith(".") and (f.endswith(".tmp") or ".tmp." in f) and _dead_writer(f):
                (Path(root) / f).unlink(missing_ok=True)
                removed.append(Path(root) / f)
    return removed


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
    tmp = out / f".latest.pid{os.getpid()}.tmp"
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
