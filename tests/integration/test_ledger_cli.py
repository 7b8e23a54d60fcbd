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
