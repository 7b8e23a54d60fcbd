"""`minewatch ledger ingest` and `minewatch ledger show` as an operator runs them."""
from __future__ import annotations

from tests.support.cli import run_cli
from tests.support.ledger_plans import LICENCE, write_plans


def test_ingest_twice_then_show(tmp_path):
    write_plans(tmp_path / "plans")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("registry: registry.csv\nplans: plans\noutput_dir: out\n", encoding="utf-8")
    first = run_cli("ledger", "ingest", "--config", cfg, timeout=120)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("入账 ingested") == 3 and first.stdout.count("(LEDGER_UNIT_SPLIT)") == 2
    assert (tmp_path / "out" / "state" / "ledger.sqlite").is_file()
    again = run_cli("ledger", "ingest", "--config", cfg, timeout=120)
    assert again.returncode == 0
    assert "共入账 0 份计划 plans ingested, 3 份已在台账 already in the ledger" in again.stdout
    shown = run_cli("ledger", "show", LICENCE, "--config", cfg, timeout=120)
    assert shown.returncode == 0
    assert shown.stdout.splitlines()[0] == f"采矿权 {LICENCE}: 9 个单元 units, 14 条计划记录 plan rows"
    assert f"单元 unit {LICENCE}-U0009" in shown.stdout


def test_ledger_url_from_the_environment(tmp_path):
    write_plans(tmp_path / "plans")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("registry: registry.csv\nplans: plans\noutput_dir: out\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'elsewhere.sqlite'}"
    p = run_cli("ledger", "ingest", "--config", cfg, env={"MINEWATCH_LEDGER__URL": url}, timeout=120)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "elsewhere.sqlite").is_file() and not (tmp_path / "out" / "state").exists()


def test_accept_then_show_acceptance_seasons_and_overdue(tmp_path):
    from tests.support.acceptance_lists import ROWS, write_acceptance_csv

    write_plans(tmp_path / "plans")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("registry: registry.csv\nplans: plans\noutput_dir: out\n"
                   "ledger:\n  holidays: [2026-04-06, 2026-05-01, 2026-05-04, 2026-05-05]\n", encoding="utf-8")
    assert run_cli("ledger", "ingest", "--config", cfg, timeout=120).returncode == 0
    bad = [LICENCE, f"{LICENCE}-U0999", "", "2026-01-05", "2025-12-01", "合格", "", ""]
    lst = write_acceptance_csv(tmp_path / "验收清单.csv", [*ROWS, bad])
    p = run_cli("ledger", "accept", lst, "--config", cfg, timeout=120)
    assert p.returncode == 1, p.stderr                     # row 5 has errors: a linter's exit code
    lines = p.stdout.splitlines()
    assert lines[0] == "== 验收清单.csv: 4 条验收记录 records, 3 个错误 errors, 0 个警告 warnings"
    assert [ln.split("(")[-1] for ln in lines[1:4]] == [
        "ACCEPTANCE_DATE_ORDER)", "ACCEPTANCE_NO_CERTIFICATE)", "ACCEPTANCE_UNKNOWN_UNIT)"]
    assert all(" 第5行 " in ln for ln in lines[1:4])
    # 2025 reports U0001 (R) accepted, and no record covers it
    assert lines[4] == "== 计划申报已验收但无合格记录 plan claims without a record: 1"
    assert "(ACCEPTANCE_CLAIM_WITHOUT_RECORD)" in lines[5] and f"{LICENCE}-U0001" in lines[5]
    missing = run_cli("ledger", "accept", tmp_path / "nope.csv", "--config", cfg, timeout=120)
    assert missing.returncode == 2 and "nope.csv" in missing.stderr
    shown = run_cli("ledger", "show", LICENCE, "--date", "2026-06-01", "--config", cfg, timeout=120)
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert f"单元 unit {LICENCE}-U0003  状态 管护期内 (in_management)" in out
    assert "验收 acceptance  申请 2026-03-02  验收 2026-05-20  结果 合格  确认书 验收(2026)第7号" in out
    assert "逾期未验收的申请 overdue acceptance applications (60个工作日 working days, 截至 as of 2026-06-01" in out
    late = [ln for ln in out.splitlines() if "应于 due" in ln]
    assert len(late) == 1 and f"{LICENCE}-U0006" in late[0] and "应于 due 2026-05-29  已过 61 个工作日" in late[0]
