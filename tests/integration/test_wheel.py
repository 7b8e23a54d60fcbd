"""The built wheel runs a night with nothing from the source tree (issue 17).

The wheel is built from a copy of pyproject.toml, README.md and src/ (so the build leaves
nothing in the worktree) and installed with `--no-deps` into a fresh venv made by the base
interpreter, outside the source tree. The dependencies come from the project's venv through
a `.pth` line: a directory named in a .pth file joins sys.path but its own .pth files are not
run, so the project venv's editable-install hook (which points at a source tree) stays
inert, and the only `minewatch` to import is the installed wheel's (asserted). Then, from a
temporary folder with PYTHONPATH unset: `minewatch init`, `plan check` and a one-mine night
against the local catalogue, whose anomalies validate against the packaged schema.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from tests.support.paths import REPO

from minewatch.promised.registry import write_registry_csv
from minewatch.synth import sample

pytestmark = pytest.mark.slow
RUN_DATE = "2026-11-20"


def _run(cmd: list[str], cwd: Path, env: dict, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src-copy"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    dist = tmp / "dist"
    b = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", dist, src], tmp,
             dict(os.environ))
    assert b.returncode == 0, b.stdout[-2000:] + b.stderr[-2000:]
    (wheel,) = dist.glob("minewatch-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"minewatch", wheel.name.split("-py3")[0] + ".dist-info"}
    for data in ("thresholds.yaml", "landclasses.csv", "anomaly.schema.json", "plan_template.xlsx",
                 "minewatch.yaml"):
        assert f"minewatch/data/{data}" in names

    venv = tmp / "venv"
    base = Path(sys.base_prefix) / "bin" / "python3"
    v = _run([base, "-m", "venv", venv], tmp, dict(os.environ))
    assert v.returncode == 0, v.stderr
    site = Path(_run([venv / "bin/python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     tmp, {}).stdout.strip())
    (site / "project-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    i = _run([venv / "bin/python", "-m", "pip", "install", "--no-deps", "--no-index", wheel], tmp, dict(os.environ))
    assert i.returncode == 0, i.stdout[-2000:] + i.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("MINEWATCH_")}
    env.update(PATH=f"{venv / 'bin'}:{env.get('PATH', '')}", PREFECT_HOME=str(tmp / "prefect"))
    work = tmp / "work"
    work.mkdir()
    return venv, env, work


def test_the_installed_package_is_the_wheel_not_the_source(installed):
    venv, env, work = installed
    out = _run([venv / "bin/python", "-c", "import minewatch, minewatch.flow.nightly; print(minewatch.__file__)"],
               work, env)
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).is_relative_to(venv) and not Path(out.stdout.strip()).is_relative_to(REPO)
    assert _run([venv / "bin/python", "-c", "import flows"], work, env).returncode != 0   # no top-level `flows`
    v = _run([venv / "bin/minewatch", "--version"], work, env)
    assert v.returncode == 0 and v.stdout.startswith("minewatch ")
    assert _run([venv / "bin/python", "-m", "minewatch", "--version"], work, env).stdout == v.stdout


def test_init_plan_check_and_a_night_from_the_wheel(installed, sample_loaded, anomaly_validator):
    venv, env, work = installed
    mw = venv / "bin/minewatch"
    d = work / "province"
    out = _run([mw, "init", d], work, env)
    assert out.returncode == 0, out.stderr
    mine = sample.MINES[0]                      # one mine: the night stays short
    write_registry_csv([sample.mining_right(mine)], d / "registry.csv")
    for plan in sorted((REPO / "sample_scenes" / "plans").glob(f"{mine.license_no}_*.xlsx")):   # 2025 and 2026
        shutil.copy2(plan, d / "plans")

    check = _run([mw, "plan", "check", d / "plans", "--registry", d / "registry.csv"], work, env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "0 个错误 errors" in check.stdout

    # the catalogue from the environment: MINEWATCH_<SECTION>__<KEY> over the file
    night = _run([mw, "run", "--config", d / "minewatch.yaml", "--date", RUN_DATE, "--json"], work,
                 dict(env, MINEWATCH_CATALOG__URL=sample_loaded.url))
    assert night.returncode == 0, night.stderr[-4000:]
    summary = json.loads(night.stdout)
    assert summary["mines"] == 1 and summary["failures"] == [] and summary["scenes_read"] > 0
    run_dir = d / "out" / RUN_DATE
    assert Path(summary["run_dir"]) == run_dir
    fc = json.loads((run_dir / "anomalies.geojson").read_text(encoding="utf-8"))
    want = [t for t in sample.TRUTHS if t["license_no"] == mine.license_no]
    assert sorted(f["properties"]["type"] for f in fc["features"]) == sorted(t["type"] for t in want)
    # the packaged schema is the repository's, and the night's file satisfies it
    schema = _run([venv / "bin/python", "-c", "from importlib.resources import files; "
                   "print(files('minewatch').joinpath('data', 'anomaly.schema.json').read_text('utf-8'))"],
                  work, env).stdout
    assert json.loads(schema) == anomaly_validator.schema
    anomaly_validator.validate(fc)
