"""lifecycle: a night that could not judge a mine never rewrites its history (job.write_run,
two nights, the second with the mine failing against a catalogue that is not there)."""
import json
import socket
from datetime import date

from shapely.geometry import box
from tests.support.night import sample_copy

from minewatch import job
from minewatch.assess.anomaly import Anomaly
from minewatch.outputs.spotcheck import read_spot_check_csv
from minewatch.pipeline import MineResult

NIGHT1, NIGHT2, NIGHT3 = date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _finding(right, key="loss@1,2"):
    return Anomaly("UNDECLARED_DISTURBANCE", "high", right.license_no, right.mine_name, 2026,
                   box(*right.boundary.centroid.buffer(0.001).bounds), 1.5, "2026-07-01/2026-09-15",
                   {"ndvi_current": 0.1}, {"rule": "no loss"}, ("S2A_X",), key=key)


def _read(run, name="anomalies.geojson"):
    return {f["id"]: f["properties"] for f in json.loads((run / name).read_text(encoding="utf-8"))["features"]}


def test_a_failed_mine_keeps_its_open_findings_and_score(tmp_path, anomaly_validator):
    s = sample_copy(tmp_path)
    p = job.load_promises(s, 2026)
    right = p.rights[0]
    ok = MineResult(right.license_no, right.mine_name, anomalies=[_finding(right)], scenes=["S2A_X"])
    job.write_run([ok], s.output_dir, NIGHT1, 2026, p)
    first = _read(s.output_dir / NIGHT1.isoformat())
    spot1 = read_spot_check_csv(s.output_dir / NIGHT1.isoformat() / "spot_check.csv")

    # night 2: the catalogue is not there; the mine fails for real
    down = s.model_copy(update={"catalog": s.catalog.model_copy(update={"url": f"http://127.0.0.1:{_closed_port()}"})})
    failed = job.run_mine(right, p, down, NIGHT2, 2026)
    assert failed.error and failed.anomalies == []
    job.write_run([failed], s.output_dir, NIGHT2, 2026, p)
    run2 = s.output_dir / NIGHT2.isoformat()
    second = _read(run2)
    (fid,) = [k for k, v in first.items() if v["type"] == "UNDECLARED_DISTURBANCE"]
    kept = second[fid]
    assert kept["status"] == "ongoing" and kept["first_seen"] == kept["last_seen"] == NIGHT1.isoformat()
    assert kept["unconfirmed_on"] == NIGHT2.isoformat() and "未能核实" in kept["unconfirmed_zh"]
    assert "resolved_on" not in kept
    assert not list(anomaly_validator.iter_errors(json.loads((run2 / "anomalies.geojson").read_text("utf-8"))))
    spot2 = read_spot_check_csv(run2 / "spot_check.csv")
    row = lambda df: df.set_index("license_no").loc[right.license_no]          # noqa: E731
    assert row(spot2)["risk_score"] == row(spot1)["risk_score"] > 1.0
    assert row(spot2)["n_anomalies"] == row(spot1)["n_anomalies"]

    # night 3: judged again and still there: ongoing, first seen on night 1, nothing unconfirmed
    job.write_run([ok], s.output_dir, NIGHT3, 2026, p)
    third = _read(s.output_dir / NIGHT3.isoformat())[fid]
    assert (third["status"], third["first_seen"], third["last_seen"]) == ("ongoing", NIGHT1.isoformat(),
                                                                          NIGHT3.isoformat())
    assert "unconfirmed_on" not in third


def test_a_judged_mine_that_no_longer_shows_a_finding_resolves_it(tmp_path):
    s = sample_copy(tmp_path)
    p = job.load_promises(s, 2026)
    right = p.rights[0]
    job.write_run([MineResult(right.license_no, right.mine_name, anomalies=[_finding(right)])],
                  s.output_dir, NIGHT1, 2026, p)
    job.write_run([MineResult(right.license_no, right.mine_name)], s.output_dir, NIGHT2, 2026, p)
    (gone,) = [v for v in _read(s.output_dir / NIGHT2.isoformat()).values() if v["type"] == "UNDECLARED_DISTURBANCE"]
    assert (gone["status"], gone["resolved_on"]) == ("resolved", NIGHT2.isoformat())
    assert "unconfirmed_on" not in gone
