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
    lines = [l for l in out.splitlines() if l.startswith("  ")]
    assert len(lines) == len(faults)
    for f in faults:
        hits = [l for l in lines if f"({f['rule']})" in l and f"第{f['row']}行 {f['field']}=" in l
                and f["file"] in l]
        assert len(hits) == 1, (f, out)
    # grouped by file, one header per file
    assert sum(l.startswith("== ") for l in out.splitlines()) == 3


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


def test_a_registry_without_a_good_row_exits_2_with_its_findings(tmp_path, capsys):
    (tmp_path / "r.csv").write_text("license_no\nX\n", encoding="utf-8")
    assert main(["plan", "check", str(BROKEN), "--registry", str(tmp_path / "r.csv")]) == 2
    err = capsys.readouterr().err
    assert "registry unusable" in err and "r.csv 第1行 holder=\"\": 缺少列 / missing column (REGISTRY_MISSING_COLUMN)" in err


def test_as_a_command(registry):
    out = subprocess.run([sys.executable, "-m", "minewatch.cli", "plan", "check", str(BROKEN / "faults.yaml"),
                          "--registry", registry], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 1
    assert "NOT_A_PLAN_TABLE" in out.stdout and "Traceback" not in out.stdout + out.stderr


BOW_TIE = ("1,4329626.62,39518165.92\n2,4330736.80,39518163.35\n3,4329624.67,39517300.87\n"
           "4,4330734.85,39517298.43\n*,,,,1")


def test_a_gbk_registry_with_a_bad_row_prints_findings_and_checks_against_the_good_rows(tmp_path, capsys):
    import csv
    import io
    rights = [sample.mining_right(m) for m in sample.MINES]
    text = write_registry_csv(rights, tmp_path / "clean.csv").read_text("utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    rows[1]["corner_points"] = BOW_TIE              # row 3 of the spreadsheet: the second mine
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    reg = tmp_path / "registry.csv"
    reg.write_bytes(buf.getvalue().encode("gbk"))   # as Chinese Excel saves "CSV (逗号分隔)"
    plan = write_plan_xlsx(sample.annual_plan(sample.MINES[0]), tmp_path / "p.xlsx")
    rc = main(["plan", "check", str(plan), "--registry", str(reg)])
    out, err = capsys.readouterr()
    assert rc == 1 and err == "" and "Traceback" not in out
    lines = out.splitlines()
    assert lines[0] == f"== {reg}: 1 个错误 errors, 1 个警告 warnings"
    assert lines[1] == ('  警告 registry.csv encoding="GB18030/GBK": 文件编码为GB18030/GBK, 已按此读取(建议另存为UTF-8) '
                        '/ read as gb18030 (REGISTRY_ENCODING)')
    assert lines[2].startswith("  错误 registry.csv 第3行 corner_points=") and "(REGISTRY_BAD_BOUNDARY)" in lines[2]
    assert "自相交" in lines[2]
    # the plan of the first mine is checked against its (good) registry row: no registry errors
    assert lines[3].startswith("== ") and lines[3].endswith(f"({rights[0].license_no} 2026年度, 4 个单元 units)")
    assert "0 个错误 errors" in lines[3]
