"""job on bad input: bad registry rows become findings in the run summary, CSV cells never start a formula."""
from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

from minewatch import job
from minewatch.config import load_settings
from minewatch.synth import sample

ROOT = Path(__file__).resolve().parents[2]


def test_bad_registry_rows_are_findings_in_the_run_summary_and_every_other_right_runs(tmp_path):
    sample.write_promises(tmp_path)
    reg = tmp_path / "registry.csv"
    rows = list(csv.DictReader(io.StringIO(reg.read_text("utf-8"), newline="")))
    rows[1]["valid_to"] = "2031年1月1日"                 # spreadsheet row 3: unparsable date
    rows.append(dict(rows[0]))                          # row 5: the first licence again
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    reg.write_bytes(buf.getvalue().encode("utf-16"))   # Excel's "Unicode text" export
    s = load_settings(ROOT / "configs" / "sample.yaml").model_copy(
        update={"registry": reg, "plans": tmp_path / "plans"})
    p = job.load_promises(s, 2026)
    assert [r.license_no for r in p.rights] == [sample.MINES[0].license_no, sample.MINES[2].license_no]
    bad = [(f.row, f.field, f.value, f.rule) for f in p.findings if f.file == "registry.csv"]
    assert bad == [(None, "encoding", "UTF-16", "REGISTRY_ENCODING"),
                   (3, "valid_to", "2031年1月1日", "REGISTRY_BAD_DATE"),
                   (5, "license_no", sample.MINES[0].license_no, "REGISTRY_DUPLICATE_LICENCE")]
    summary = job.write_run([], tmp_path / "out", date(2026, 11, 20), 2026, p)
    written = json.loads((Path(summary["run_dir"]) / "run_summary.json").read_text("utf-8"))
    assert [(f["file"], f["row"], f["field"], f["value"], f["rule"], f["severity"])
            for f in written["registry_findings"]] == \
        [("registry.csv", None, "encoding", "UTF-16", "REGISTRY_ENCODING", "warning"),
         ("registry.csv", 3, "valid_to", "2031年1月1日", "REGISTRY_BAD_DATE", "error"),
         ("registry.csv", 5, "license_no", sample.MINES[0].license_no, "REGISTRY_DUPLICATE_LICENCE", "error")]


def test_a_clean_registry_adds_no_key_to_the_summary(tmp_path):
    sample.write_promises(tmp_path)
    s = load_settings(ROOT / "configs" / "sample.yaml").model_copy(
        update={"registry": tmp_path / "registry.csv", "plans": tmp_path / "plans"})
    p = job.load_promises(s, 2026)
    assert len(p.rights) == 3
    summary = job.write_run([], tmp_path / "out", date(2026, 11, 20), 2026, p)
    assert "registry_findings" not in json.loads((Path(summary["run_dir"]) / "run_summary.json").read_text("utf-8"))


def test_run_folder_csvs_never_start_a_cell_with_a_formula(tmp_path):
    import pandas as pd

    from minewatch.assess.rules import Unjudged
    from minewatch.pipeline import MineResult
    lic = "=HYPERLINK(\"http://evil.example\",\"x\")"
    r = MineResult(lic, "@SUM(1)")
    r.unjudged = [Unjudged(lic, "planned:1", "TOO_FEW_CLEAR", "-无晴空影像", 0)]
    r.series = pd.DataFrame({"unit": ["planned:1"], "fvc_mean": [-0.25]})
    summary = job.write_run([r], tmp_path / "out", date(2026, 11, 20), 2026)
    run_dir = Path(summary["run_dir"])
    with open(run_dir / "unjudged.csv", encoding="utf-8", newline="") as fh:
        assert list(csv.reader(fh))[1] == ["'" + lic, "planned:1", "TOO_FEW_CLEAR", "'-无晴空影像", "0"]
    with open(run_dir / "unit_series.csv", encoding="utf-8", newline="") as fh:
        assert list(csv.reader(fh)) == [["unit", "fvc_mean", "license_no"], ["planned:1", "-0.2500", "'" + lic]]
