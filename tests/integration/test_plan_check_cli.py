"""`minewatch plan check FILE... [--registry REG] [--json]`."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from tests.support.paths import REPO

from minewatch.cli import main
from minewatch.promised.planwriter import write_plan_xlsx
from minewatch.promised.registry import write_registry_csv
from minewatch.synth import sample

ROOT = REPO
BROKEN = ROOT / "sample_scenes" / "plans_broken"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    d = tmp_path_factory.mktemp("reg")
    return str(write_registry_csv([sample.mining_right(m) for m in sample.MINES], d / "registry.csv"))


def test_broken_plans_list_each_planted_fault_once_with_its_row(registry, capsys):
    rc = main(["plan", "check", *map(str, sorted(BROKEN.glob("*.xlsx"))), "--registry", registry])
    out = capsys.readouterr().out
    assert rc == 1
    faults = yaml.safe_load((BROKEN / "faults.yaml").read_text(encoding="utf-8"))["faults"]
    lines = [ln for ln in out.splitlines() if ln.startswith("  ")]
    assert len(lines) == len(faults)
    for f in faults:
        hits = [ln for ln in lines if f"({f['rule']})" in ln and f"第{f['row']}行 {f['field']}=" in ln
                and f["file"] in ln]
        assert len(hits) == 1, (f, out)
    # grouped by file, one header per file
    assert sum(ln.startswith("== ") for ln in out.splitlines()) == 3


def test_json_is_a_list_of_findings(registry, capsys):
    rc = main(["plan", "check", str(BROKEN), "--registry", registry, "--json"])
    data = json.loads(capsys.readouterr().out)
    assert rc == 1 and len(data) == 12
    assert set(data[0]) == {"file", "sheet", "row", "field", "value", "rule", "severity", "message_zh"}


def test_clean_and_warning_only_files_exit_0(tmp_path, registry, capsys):
    plan = sample.annual_plan(sample.MINES[0])
    p = write_plan_xlsx(plan, tmp_path / "p.xlsx")
    assert main(["plan", "check", str(p), "--registry", registry]) == 0
    (tmp_path / "receipts.csv").write_text(f"license_no,plan_year,received\n{plan.license_no},2026,2026-04-09\n",
                                           encoding="utf-8")
    assert main(["plan", "check", str(p), "--registry", registry]) == 0       # late: a warning
    out = capsys.readouterr().out
    assert "PLAN_RECEIVED_LATE" in out and "警告" in out
    assert main(["plan", "check", str(p)]) == 0
    assert "registry rules skipped" in capsys.readouterr().out


def test_not_a_table_gets_a_clear_message(tmp_path, capsys):
    (tmp_path / "notes.xlsx").write_text("hello", encoding="utf-8")
    from openpyxl import Workbook
    wb = Workbook()
    wb.active["A1"] = "工资表"
    wb.save(tmp_path / "other.xlsx")
    rc = main(["plan", "check", str(tmp_path / "notes.xlsx"), str(tmp_path / "other.xlsx"),
               str(tmp_path / "missing.xlsx")])
    out = capsys.readouterr().out
    assert rc == 1
    assert "不是有效的xlsx文件" in out and "不是年度矿区生态修复情况表" in out and "文件不存在" in out
    assert "Traceback" not in out


def test_bad_registry_exits_2(tmp_path, capsys):
    (tmp_path / "r.csv").write_text("license_no\nX\n", encoding="utf-8")
    assert main(["plan", "check", str(BROKEN), "--registry", str(tmp_path / "r.csv")]) == 2
    assert "registry" in capsys.readouterr().err


def test_as_a_command(registry):
    out = subprocess.run([sys.executable, "-m", "minewatch.cli", "plan", "check", str(BROKEN / "faults.yaml"),
                          "--registry", registry], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 1
    assert "NOT_A_PLAN_TABLE" in out.stdout and "Traceback" not in out.stdout + out.stderr
