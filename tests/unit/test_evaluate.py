"""evaluate: the scenarios' plans go into a ledger of the evaluation's own, never the operator's."""
from pathlib import Path

from sqlalchemy.engine import make_url

from minewatch import evaluate, job
from minewatch.config import Settings


def test_the_evaluation_has_a_ledger_of_its_own(tmp_path, monkeypatch):
    (tmp_path / "labels.yaml").write_text("plan_year: 2026\nscenarios: []\n", encoding="utf-8")
    (tmp_path / "plans").mkdir()
    (tmp_path / "registry.csv").write_text(
        "采矿权证证号,采矿权人名称,矿山名称,有效期起,有效期止,行政区划代码,矿区范围\n", encoding="utf-8")
    seen = []
    real = job.load_promises

    def spy(s: Settings, plan_year: int) -> job.Promises:
        p = real(s, plan_year)
        seen.append((s.ledger.url, p.ledger_url, Path(str(make_url(p.ledger_url).database))))
        return p

    monkeypatch.setattr(job, "load_promises", spy)
    s = Settings(registry=tmp_path / "r.csv", plans=tmp_path / "p", output_dir=tmp_path / "out")
    r = evaluate.evaluate(tmp_path, s)
    assert r["scenarios"] == 0
    [(url, used, db)] = seen
    assert url == used and "minewatch-eval-ledger-" in url
    assert not db.exists() and not db.parent.exists()           # gone with the evaluation
    assert not (tmp_path / "out" / "state").exists()             # nor the operator's state folder
