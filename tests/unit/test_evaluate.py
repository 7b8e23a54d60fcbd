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


def test_precision_and_recall_per_region(capsys):
    want = {("N1", "planned:1", "RESTORATION_SHORTFALL"), ("N1", "area:cut", "UNDECLARED_DISTURBANCE"),
            ("S1", "planned:2", "RESTORATION_SHORTFALL")}
    got = [(("N1", "planned:1", "RESTORATION_SHORTFALL"), True),
           (("N1", "area:cut", "UNDECLARED_DISTURBANCE"), True),
           (("S1", "planned:1", "RESTORATION_SHORTFALL"), False),      # a false flag in the south
           (("W1", "planned:1", "AT_RISK"), False)]                    # a county in no region
    r = evaluate.by_region(want, got, {"N1": "northeast", "S1": "southeast"})
    assert list(r) == ["default", "northeast", "southeast"]
    assert (r["northeast"]["precision"], r["northeast"]["recall"], r["northeast"]["labels"]) == (1.0, 1.0, 2)
    assert (r["southeast"]["precision"], r["southeast"]["recall"]) == (0.0, 0.0)
    assert r["southeast"]["by_type"]["RESTORATION_SHORTFALL"] == {"labels": 1, "flags": 1, "true": 0,
                                                                  "precision": 0.0, "recall": 0.0}
    assert (r["default"]["precision"], r["default"]["recall"], r["default"]["flags"]) == (0.0, None, 1)
    overall = evaluate.figures(want, got)
    assert (overall["precision"], overall["recall"]) == (0.5, round(2 / 3, 4))
    evaluate.print_regions(r)
    out = capsys.readouterr().out
    assert "东北山丘平原区" in out and "东南沿海山地丘陵区" in out
    assert any(ln.split()[:3] == ["northeast", "东北山丘平原区", "(all)"] and ln.split()[-2:] == ["1.000", "1.000"]
               for ln in out.splitlines())
