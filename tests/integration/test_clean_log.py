"""A clean sample night's log holds no Python warning (issue 17).

`minewatch run` as an operator runs it, with every Python warning turned into an error
(PYTHONWARNINGS, the session's shared night: tests/conftest.py `sample_night`): a warning
raised in a mine fails that mine (exit 3), one raised elsewhere fails the night. Its stderr is
the night's log (`2> night.log`: `run` writes no log file of its own; under `serve` the same
lines go to Prefect), and it is checked line by line as well.
"""
from __future__ import annotations

import json

import pytest
from tests.support.truths import expected_by_type

pytestmark = pytest.mark.slow          # one sample night (shared)


def test_a_clean_sample_night_logs_no_warning(sample_night, tmp_path):
    log = tmp_path / "night.log"
    log.write_text(sample_night.stderr, encoding="utf-8")
    lines = log.read_text(encoding="utf-8").splitlines()
    assert any("进度 progress: 3/3" in ln for ln in lines)          # the log is the whole night's
    assert not [ln for ln in lines if "Warning" in ln or "WARNING" in ln or "Traceback" in ln], lines
    # `--out` carries the night's state, the unit ledger among it, not only its run folders
    out = sample_night.out
    assert (out / "state" / "ledger.sqlite").is_file()
    summary = json.loads((sample_night.run_dir / "run_summary.json").read_text(encoding="utf-8"))
    # the night did its work: the sample's planted findings (the cross-year ones where the history
    # rules exist), all mines judged
    by_type = expected_by_type()
    assert (summary["mines"], summary["mines_failed"], summary["scenes_read"], summary["anomalies"]) == \
        (3, 0, 241, sum(by_type.values()))
    assert summary["anomalies_by_type"] == by_type
