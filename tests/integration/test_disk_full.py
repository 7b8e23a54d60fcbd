"""A disk that fills up during a night (issue 18, item 11): one line, exit 2, nothing partial.

The output folder is a tmpfs the test mounts (root only; skipped, saying so, where mount is
not permitted). A first night fills it with its run folder and pixel store; a filler file then
leaves only so much room that the next night starts (its preflight probe passes) and fails in
the middle: once with room for the mines' results but not for the outputs, once without room
for a mine's result (Python's ENOSPC). Each time the previous
night's dated folder and `latest` stay byte for byte as they were, and once the room is back
the next night succeeds and leaves no staging folder or temp file behind.
"""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path

import pytest
from tests.support.cli import run_cli

pytestmark = pytest.mark.slow          # three to four sample nights
FIRST, NEXT, THIRD = "2026-11-20", "2026-11-21", "2026-11-22"
ONE_MINE_AT_A_TIME = {"MINEWATCH_RUN__MAX_CONCURRENT_MINES": "1"}   # room needed is one mine's


def _mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True).returncode == 0


def _leave_free(disk: Path, filler: Path, free_bytes: int) -> None:
    """Grow `filler` so that `free_bytes` (rounded to pages) stay free on `disk`."""
    st = os.statvfs(disk)
    have = st.f_bavail * st.f_frsize
    size = filler.stat().st_size if filler.exists() else 0
    with filler.open("ab") as fh:
        os.posix_fallocate(fh.fileno(), 0, size + have - free_bytes)


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _leftovers(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*")
                  if p.name.startswith((".staging-", ".replaced-")) or p.name.endswith(".tmp"))


def _disk_full_exit_2(r: subprocess.CompletedProcess, disk: Path) -> str:
    """Exit 2, no traceback, and one error line naming the disk (after it only Prefect's
    temporary server says it stops)."""
    assert r.returncode == 2, (r.returncode, r.stderr[-3000:])
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("错误 error:")]
    assert len(errors) == 1, r.stderr[-3000:]
    assert "磁盘已满 disk full" in errors[0] and str(disk) in errors[0], errors[0]
    return errors[0]


def test_disk_filling_up_during_a_night(sample_config, tmp_path):
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "256m"):
        pytest.skip("cannot mount a tmpfs here (mount needs root): a disk filling mid-night is not tested")
    try:
        out, filler = disk / "out", disk / "filler"
        first = run_cli("run", "--config", sample_config, "--date", FIRST, "--out", out, env=ONE_MINE_AT_A_TIME)
        assert first.returncode == 0, first.stderr[-3000:]
        before = _tree(out / FIRST)
        assert os.readlink(out / "latest") == FIRST and "composites/C1302832020051210000002_median.tif" in before

        # room for the mines (each rewrites its result, the largest of which sets the room needed) and
        # 1.5 MB more, not for the outputs (the composites alone are ~2 MB a mine)
        biggest = max(p.stat().st_size for p in (out / "state" / "mines").glob("*.pkl"))
        _leave_free(disk, filler, biggest + (1536 << 10))
        r = run_cli("run", "--config", sample_config, "--date", NEXT, "--out", out, env=ONE_MINE_AT_A_TIME)
        line = _disk_full_exit_2(r, disk)
        # which write meets the full disk first depends on the sizes of tonight's files (GDAL's
        # own TIFF errors are mapped by the same rule: tests/unit/test_ops.py)
        print("first full-disk error:", line, r.stderr[-2000:])
        assert _tree(out / FIRST) == before and os.readlink(out / "latest") == FIRST
        assert not (out / NEXT).exists()

        # no room for a mine's result (a new date: the mines are judged again): Python's ENOSPC
        # in the middle of the mines stops the night too, before any mine is counted as failed
        _leave_free(disk, filler, 256 << 10)
        r = run_cli("run", "--config", sample_config, "--date", THIRD, "--out", out, env=ONE_MINE_AT_A_TIME)
        line = _disk_full_exit_2(r, disk)
        assert not re.search(r"mine \S+ \(.*\) failed:", r.stderr), r.stderr[-3000:]
        assert _tree(out / FIRST) == before and os.readlink(out / "latest") == FIRST
        assert not (out / NEXT).exists() and not (out / THIRD).exists()

        filler.unlink()                 # the operator makes room: the next night runs and cleans up
        again = run_cli("run", "--config", sample_config, "--date", NEXT, "--out", out)
        assert again.returncode == 0, again.stderr[-3000:]
        assert os.readlink(out / "latest") == NEXT and (out / NEXT / "run_summary.json").is_file()
        assert _tree(out / FIRST) == before
        assert _leftovers(out) == []
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
