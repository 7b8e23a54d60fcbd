"""The CLI contract (issue 17), one test per line of it, each running the real `minewatch` command.

Exit codes: 0 done, 3 some mines failed, 2 bad input / catalogue unreachable / disk full or
read-only output folder (one line naming the path or value, nothing started), 1 only for a bug.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from tests.support.cli import run_cli
from tests.support.paths import REPO
from tests.support.stubstac import stub_stac

from minewatch import __version__
from minewatch.cli import main, run_date_of
from minewatch.config import ConfigError, load_settings

REGISTRY = REPO / "sample_scenes" / "registry.csv"
PLANS = REPO / "sample_scenes" / "plans"
# a run that got as far as Prefect says so on stderr; a mistake must stop before that
STARTED = ("Starting temporary server", "Flow run", "Beginning flow run")


def _config(d: Path, **over: str) -> Path:
    keys = {"registry": str(REGISTRY), "plans": str(PLANS), "output_dir": str(d / "out"),
            "url": "http://127.0.0.1:9", **over}
    p = d / "minewatch.yaml"
    p.write_text(f"registry: {keys['registry']}\nplans: {keys['plans']}\noutput_dir: {keys['output_dir']}\n"
                 f"catalog:\n  url: {keys['url']}\n  timeout_s: 3\n  retries: 0\n", encoding="utf-8")
    return p


def _one_line_exit_2(out: subprocess.CompletedProcess, *needles: str) -> str:
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert out.returncode == 2, (out.returncode, out.stderr[-2000:])
    assert len(lines) == 1, out.stderr
    assert "Traceback" not in out.stderr and not any(s in out.stderr for s in STARTED)
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


# ----------------------------------------------------------------- paths and the date, before anything starts

def test_missing_config_one_line_exit_2(tmp_path):
    _one_line_exit_2(run_cli("run", "--config", tmp_path / "nope.yaml"), "config file not found", "nope.yaml")


def test_missing_registry_one_line_exit_2_nothing_started(tmp_path):
    cfg = _config(tmp_path, registry=str(tmp_path / "no-registry.csv"))
    _one_line_exit_2(run_cli("run", "--config", cfg), "registry not found", str(tmp_path / "no-registry.csv"))
    assert not (tmp_path / "out").exists()


def test_missing_plans_one_line_exit_2(tmp_path):
    cfg = _config(tmp_path, plans=str(tmp_path / "no-plans"))
    _one_line_exit_2(run_cli("run", "--config", cfg), "plans not found", str(tmp_path / "no-plans"))


def test_missing_thresholds_file_one_line_exit_2(tmp_path):
    cfg = _config(tmp_path)
    cfg.write_text(cfg.read_text() + "assess:\n  thresholds: gone.yaml\n", encoding="utf-8")
    _one_line_exit_2(run_cli("run", "--config", cfg), "thresholds file not found", str(tmp_path / "gone.yaml"))


def test_missing_acceptance_list_one_line_exit_2(tmp_path):
    cfg = _config(tmp_path)
    cfg.write_text(cfg.read_text() + "ledger:\n  acceptance: 验收清单.xlsx\n", encoding="utf-8")
    _one_line_exit_2(run_cli("run", "--config", cfg), "acceptance list not found", str(tmp_path / "验收清单.xlsx"))
    assert not (tmp_path / "out").exists()


def test_output_folder_without_parent_one_line_exit_2(tmp_path):
    cfg = _config(tmp_path)
    _one_line_exit_2(run_cli("run", "--config", cfg, "--out", tmp_path / "a" / "b" / "out"),
                     "does not exist", str(tmp_path / "a" / "b"))


@pytest.mark.parametrize("bad", ["2026-13-01", "2026-02-30", "tomorrow"])
def test_bad_date_one_line_exit_2(tmp_path, bad):
    _one_line_exit_2(run_cli("run", "--config", _config(tmp_path), "--date", bad), "invalid --date", repr(bad))


def test_unreachable_catalogue_one_line_exit_2(tmp_path):
    _one_line_exit_2(run_cli("run", "--config", _config(tmp_path), "--date", "2026-11-20"),
                     "STAC API unreachable at http://127.0.0.1:9", "minewatch catalog up")


def test_invalid_config_names_the_field(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("registry: r.csv\nplans: p\nimagery:\n  mask_classes: [3, 5, 9]\n")
    with pytest.raises(ConfigError, match=r"imagery\.mask_classes.*class 5"):
        load_settings(p)
    p.write_text("registry: r.csv\nplans: p\nrun:\n  timezone: China/Beijing\n")
    with pytest.raises(ConfigError, match=r"run\.timezone.*China/Beijing"):
        load_settings(p)
    out = run_cli("run", "--config", p)
    assert out.returncode == 2 and "run.timezone" in out.stderr and "Traceback" not in out.stderr


# ----------------------------------------------------------------- the output folder: read-only, disk full

def _mount_tmpfs(where: Path, opts: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)],
                          capture_output=True).returncode == 0


def _umount(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_read_only_output_folder_one_line_exit_2(tmp_path):
    ro = tmp_path / "ro"
    if not _mount_tmpfs(ro, "ro,size=1m"):
        pytest.skip("cannot mount a read-only tmpfs here (needs root)")
    try:
        line = _one_line_exit_2(run_cli("run", "--config", _config(tmp_path), "--out", ro / "out"),
                                "read-only", str(ro))
        assert "output folder" in line
    finally:
        _umount(ro)


def test_full_disk_one_line_exit_2(tmp_path):
    full = tmp_path / "full"
    if not _mount_tmpfs(full, "size=64k"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        fd = os.open(full / "filler", os.O_WRONLY | os.O_CREAT)   # fill it to the last block
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        _one_line_exit_2(run_cli("run", "--config", _config(tmp_path), "--out", full), "disk full", str(full))
    finally:
        _umount(full)


# ----------------------------------------------------------------- a night: exit 0 / 3, --json, -q

def test_run_json_prints_the_summary_on_stdout_and_progress_goes_to_the_log(tmp_path):
    """--json: stdout is the summary and nothing else. Not a terminal: a progress log line every
    run.progress_every_mines mines (here 2, from the environment) and at the last one."""
    with stub_stac("empty") as url:
        out = run_cli("run", "--config", _config(tmp_path, url=url), "--date", "2026-11-20", "--json",
                      env={"MINEWATCH_RUN__PROGRESS_EVERY_MINES": "2", "MINEWATCH_RUN__PROGRESS_EVERY_S": "3600"})
    assert out.returncode == 3, out.stderr[-3000:]      # no scenes anywhere: every mine is NO_SCENES
    summary = json.loads(out.stdout)
    assert summary["run_date"] == "2026-11-20" and summary["mines"] == 3 and summary["mines_failed"] == 3
    assert {f["error"] for f in summary["failures"]} == {"NO_SCENES"}
    written = json.loads((tmp_path / "out" / "2026-11-20" / "run_summary.json").read_text(encoding="utf-8"))
    assert {k: summary[k] for k in written} == written
    lines = [ln for ln in out.stderr.splitlines() if "进度 progress:" in ln]
    assert [ln.split("进度 progress: ")[1].split(" ")[0] for ln in lines] == ["2/3", "3/3"], lines
    assert "3 失败 failed" in lines[-1] and "time left 0:00:00" in lines[-1]


def test_mines_failing_exit_3_and_quiet_is_one_line(tmp_path):
    with stub_stac("fail") as url:
        out = run_cli("-q", "run", "--config", _config(tmp_path, url=url), "--date", "2026-11-20")
    assert out.returncode == 3, out.stderr[-3000:]
    assert out.stdout.strip().count("\n") == 0 and "3 mines, 3 failed" in out.stdout
    # -q: warnings and errors only, each failed mine one line (its traceback is in the run's logs)
    assert " INFO " not in out.stderr and "Traceback" not in out.stderr
    assert sum("failed: CatalogError" in ln for ln in out.stderr.splitlines()) == 3
    summary = json.loads((tmp_path / "out" / "2026-11-20" / "run_summary.json").read_text(encoding="utf-8"))
    assert summary["mines_failed"] == 3 and all("400" in f["error"] for f in summary["failures"])


def test_default_run_date_is_today_in_the_configured_zone():
    now = datetime.now(timezone.utc)
    for tz, hours in (("Asia/Shanghai", 8), ("UTC", 0)):
        got = run_date_of(None, tz)
        assert got in {(now + timedelta(hours=hours)).date(),
                       (datetime.now(timezone.utc) + timedelta(hours=hours)).date()}


# ----------------------------------------------------------------- the command itself

def test_version_and_python_dash_m():
    out = subprocess.run([sys.executable, "-m", "minewatch", "--version"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == f"minewatch {__version__}"


def test_a_bug_is_exit_1_with_its_traceback(tmp_path, monkeypatch):
    """Anything that is not bad input propagates (Python exits 1 with the traceback)."""
    import minewatch.cli as cli

    def boom(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli, "cmd_init", boom)
    with pytest.raises(ZeroDivisionError):
        main(["init", str(tmp_path / "x")])


def test_init_writes_the_starter_files_and_refuses_to_overwrite(tmp_path):
    d = tmp_path / "province"
    out = run_cli("init", d)
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in d.iterdir()) == ["minewatch.yaml", "plans", "regions.yaml", "thresholds.yaml",
                                                    "年度矿区生态修复情况表_模板.xlsx"]
    s = load_settings(d / "minewatch.yaml")
    assert s.assess.thresholds == d / "thresholds.yaml" and s.run.timezone == "Asia/Shanghai"
    assert s.assess.regions == d / "regions.yaml"     # the operator edits the copy the night reads
    assert (d / "regions.yaml").read_bytes() == (REPO / "src/minewatch/data/regions.yaml").read_bytes()
    assert (d / "thresholds.yaml").read_bytes() == (REPO / "src/minewatch/data/thresholds.yaml").read_bytes()
    _one_line_exit_2(run_cli("init", d), "already exists", str(d / "minewatch.yaml"))
    _one_line_exit_2(run_cli("run", "--config", d / "minewatch.yaml"), "registry not found",
                     str(d / "registry.csv"))
