"""The nightly deployment against a real `prefect server start` (issue 7).

One server per module (own PREFECT_HOME in tmp, loopback, free port, no UI/analytics);
`python -m minewatch.flow.deploy` (what `minewatch serve` calls) serves the flow in a subprocess.
Checked: the deployment exists with the cron in Asia/Shanghai and the config parameter,
the server's scheduler puts the next run at 02:00 Shanghai = 18:00 UTC, a triggered run
reaches COMPLETED, writes its summary and the Markdown artifact, and stopping the
server process leaves the schedule active (pause_on_shutdown=False).

Two flows are served:
- a stand-in with the nightly flow's signature (always runs): it exercises the
  deployment/serve/schedule/artifact mechanics without the pipeline;
- the real `minewatch.flow.nightly:nightly` on an empty registry: SKIPPED while the registry /
  plan readers (`minewatch.promised.registry`, `.plans`, `.coords`) and
  `minewatch.sky.catalog` are not in this branch (they are written in other worktrees).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from tests.support.paths import REPO

from minewatch import ops

ROOT = REPO
SERVER_START_TIMEOUT = 90
RUN_TIMEOUT = 75
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen, grace: float = 15) -> None:
    """SIGTERM the process group we started, then SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    except ProcessLookupError:
        pass


def _tail(path: Path, n: int = 4000) -> str:
    return path.read_text(errors="replace")[-n:] if path.exists() else "(no log)"


def _clean_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_UI_ENABLED="false", PREFECT_LOGGING_LEVEL="INFO")
    return env


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("prefect_home")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = _clean_env(home)
    env["PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS"] = "2"   # scheduled runs appear fast
    log = home / "server.log"
    t0 = time.monotonic()
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                                 "--port", str(port)], env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"prefect server exited ({proc.returncode}):\n{_tail(log)}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() - t0 > SERVER_START_TIMEOUT:
                pytest.fail(f"prefect server not healthy after {SERVER_START_TIMEOUT}s:\n{_tail(log)}")
            time.sleep(0.5)
        startup = time.monotonic() - t0
        print(f"\nprefect server healthy after {startup:.1f}s on {url}")
        yield {"url": url, "home": home, "startup_s": startup}
    finally:
        _stop(proc)
        assert proc.poll() is not None, "prefect server still running"


def _client(url: str):
    from prefect import get_client
    return get_client(sync_client=True)


def _settings(url: str, home: Path):
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings
    return temporary_settings(updates={PREFECT_API_URL: url, PREFECT_HOME: str(home)})


def _write_config(d: Path, registry_header: str | None = None) -> Path:
    (d / "plans").mkdir(parents=True, exist_ok=True)
    if registry_header is not None:
        (d / "registry.csv").write_text(registry_header, encoding="utf-8")
    cfg = d / "minewatch.yaml"
    cfg.write_text("registry: registry.csv\nplans: plans\noutput_dir: out\n"
                   "catalog: {url: 'http://127.0.0.1:9'}\n"
                   f"assess: {{thresholds: '{ROOT / 'configs' / 'thresholds.yaml'}'}}\n", encoding="utf-8")
    return cfg


STANDIN = '''
"""Stand-in with the nightly flow's signature and name; zero mines, no pipeline."""
import json
import logging
from datetime import date
from pathlib import Path

from prefect import flow, get_run_logger

from minewatch import ops
from minewatch.config import load_settings


@flow(name="minewatch-nightly")
def nightly(config: str, run_date: date | None = None, out_dir: str | None = None) -> dict:
    s = load_settings(config)
    ops.ensure_prefect_logging(s.run.log_level)     # as the real flow does first
    art = ops.start_progress_artifact(1)
    logging.getLogger("minewatch").info("mine %s: %d scenes, %d anomalies", "M-TEST", 0, 0)
    ops.update_progress_artifact(art, 100.0, "进度 progress: 1/1")
    as_of = run_date or ops.local_run_date()
    run_dir = Path(out_dir or s.output_dir) / as_of.isoformat()
    run_dir.mkdir(parents=True, exist_ok=True)
    summary = {"run_date": as_of.isoformat(), "plan_year": as_of.year, "mines": 0, "mines_failed": 0,
               "scenes_read": 0, "anomalies": 0, "anomalies_by_type": {}, "failures": [],
               "outputs": ["run_summary.json"]}
    (run_dir / "run_summary.json").write_text(json.dumps(summary))
    summary["run_dir"] = str(run_dir)
    get_run_logger().info("stand-in nightly for %s done", as_of)
    logging.getLogger("minewatch").warning("mine %s (%s) failed: %s", "M-TEST", "测试矿", "stand-in")
    ops.publish_run_artifact(summary)
    return summary
'''


def _serve_and_check(server: dict, tmp: Path, cfg: Path, flow_ref: str | None, pythonpath: list[str],
                     deployment: str):
    """Serve, check deployment + schedule, trigger one run, wait for COMPLETED; tear down."""
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterKey,
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.deployments import run_deployment

    url, home = server["url"], server["home"]
    out = tmp / "out"
    env = _clean_env(home)
    env.update(PREFECT_API_URL=url, PREFECT_RUNNER_POLL_FREQUENCY="1",
               PYTHONPATH=os.pathsep.join(pythonpath + [str(ROOT / "src"), str(ROOT)]))
    cmd = [sys.executable, "-m", "minewatch.flow.deploy", "--config", str(cfg), "--out", str(out), "--name", deployment]
    if flow_ref:
        cmd += ["--flow", flow_ref]
    log = tmp / "serve.log"
    t0 = time.monotonic()
    with open(log, "wb") as fh:
        serve = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    name = f"{ops.FLOW_NAME}/{deployment}"   # one name per test: the server is shared
    try:
        with _settings(url, home), _client(url) as client:
            dep = None
            while dep is None:
                if serve.poll() is not None:
                    pytest.fail(f"serve exited ({serve.returncode}):\n{_tail(log)}")
                try:
                    dep = client.read_deployment_by_name(name)
                except Exception:  # noqa: BLE001 - not registered yet
                    if time.monotonic() - t0 > 60:
                        pytest.fail(f"deployment {name} not registered in 60s:\n{_tail(log)}")
                    time.sleep(0.5)
            print(f"deployment registered {time.monotonic() - t0:.1f}s after serve start")

            # the deployment: cron, time zone, parameters
            assert len(dep.schedules) == 1
            sch = dep.schedules[0]
            assert sch.active
            assert sch.schedule.cron == ops.DEFAULT_CRON
            assert sch.schedule.timezone == "Asia/Shanghai"
            assert dep.parameters == {"config": str(cfg.resolve()), "out_dir": str(out.resolve())}
            assert dep.entrypoint.endswith(".nightly")

            # the server's scheduler honours the zone: next runs at 02:00 Shanghai = 18:00 UTC
            runs = []
            while not runs:
                runs = client.read_flow_runs(
                    deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[dep.id])),
                    flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
                        type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))), limit=5)
                if not runs:
                    assert time.monotonic() - t0 < 90, "server scheduler created no scheduled runs"
                    time.sleep(1)
            for r in runs:
                local = r.expected_start_time.astimezone(ZoneInfo("Asia/Shanghai"))
                utc = r.expected_start_time.astimezone(timezone.utc)
                assert (local.hour, local.minute) == (2, 0), local
                assert (utc.hour, utc.minute) == (18, 0), utc
                assert r.expected_start_time > datetime.now(timezone.utc)

            # a run started by hand is picked up by the serving process and completes
            t1 = time.monotonic()
            fr = run_deployment(name, timeout=RUN_TIMEOUT, poll_interval=1, as_subflow=False)
            took = time.monotonic() - t1
            assert fr.state is not None and fr.state.is_completed(), (
                f"run ended {fr.state and fr.state.type} after {took:.0f}s:\n{_tail(log)}")
            print(f"triggered run COMPLETED in {took:.1f}s")

            night = ops.local_run_date(when=fr.expected_start_time)
            summary = json.loads((out / night.isoformat() / "run_summary.json").read_text())
            assert summary["mines"] == 0 and summary["failures"] == []

            arts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(
                any_=[ops.ARTIFACT_KEY])), flow_run_filter=FlowRunFilter(id={"any_": [fr.id]}))
            assert len(arts) == 1 and arts[0].type == "markdown", (
                "no run artifact: the flow must call ops.publish_run_artifact")
            assert "夜间运行 nightly run" in arts[0].data and night.isoformat() in arts[0].data

            if flow_ref:   # library logs ("minewatch" logger) reach the server with the flow's
                from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
                msgs: list[str] = []
                for _ in range(20):
                    msgs = [lg.message for lg in client.read_logs(
                        log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[fr.id])))]
                    if any("M-TEST (测试矿) failed" in m for m in msgs):
                        break
                    time.sleep(0.5)
                assert any("M-TEST (测试矿) failed" in m for m in msgs), msgs
                # INFO lines too: under serve an unset "minewatch" logger fell to the root's WARNING
                assert any("mine M-TEST: 0 scenes, 0 anomalies" in m for m in msgs), msgs
                prog = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(
                    any_=[ops.PROGRESS_KEY])), flow_run_filter=FlowRunFilter(id={"any_": [fr.id]}))
                assert len(prog) == 1 and prog[0].type == "progress" and float(prog[0].data) == 100.0, prog

        # stopping the served process must not pause the nightly schedule
        _stop(serve)
        with _settings(url, home), _client(url) as client:
            assert client.read_deployment_by_name(name).schedules[0].active
    finally:
        _stop(serve)
        assert serve.poll() is not None


def test_serve_standin_schedule_and_run(prefect_server, tmp_path):
    (tmp_path / "standin_nightly.py").write_text(textwrap.dedent(STANDIN), encoding="utf-8")
    cfg = _write_config(tmp_path, registry_header="")
    _serve_and_check(prefect_server, tmp_path, cfg, "standin_nightly:nightly", [str(tmp_path)], "nightly-standin")


def _real_nightly_missing() -> str | None:
    try:
        import minewatch.flow.nightly  # noqa: F401
        from minewatch.promised.registry import write_registry_csv  # noqa: F401
    except ImportError as e:
        return f"real nightly flow not importable in this branch yet ({e})"
    return None


@pytest.mark.skipif(_real_nightly_missing() is not None,
                    reason=str(_real_nightly_missing()) + "; needs minewatch.promised.registry/plans/coords "
                           "and minewatch.sky.catalog from the other worktrees")
def test_serve_real_nightly_empty_registry(prefect_server, tmp_path):
    """The real flow, zero mines: header-only registry written by the reader module itself."""
    from minewatch.promised.registry import write_registry_csv

    cfg = _write_config(tmp_path)
    write_registry_csv([], tmp_path / "registry.csv")
    _serve_and_check(prefect_server, tmp_path, cfg, None, [], ops.DEPLOYMENT_NAME)


def test_serve_refuses_without_server(tmp_path):
    """No PREFECT_API_URL: refuse (a temporary server would never fire the cron)."""
    (tmp_path / "standin_nightly.py").write_text(textwrap.dedent(STANDIN), encoding="utf-8")
    cfg = _write_config(tmp_path, registry_header="")
    env = _clean_env(tmp_path / "home")
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT / "src"), str(ROOT)])
    p = subprocess.run([sys.executable, "-m", "minewatch.flow.deploy", "--config", str(cfg), "--flow",
                        "standin_nightly:nightly"], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 2, p.stderr
    assert "PREFECT_API_URL" in p.stderr


def test_schedule_validation():
    from minewatch.flow.deploy import ServeError, nightly_schedule

    s = nightly_schedule("30 1 * * *", "Asia/Shanghai")
    assert s.cron == "30 1 * * *" and s.timezone == "Asia/Shanghai"
    with pytest.raises(ServeError, match="invalid schedule"):
        nightly_schedule("0 2 * * *", "China/Beijing")
    with pytest.raises(ServeError, match="invalid schedule"):
        nightly_schedule("0 25 * * *")


def test_local_run_date_is_the_shanghai_night():
    # 02:00 Shanghai on 20 Nov is 18:00 UTC on 19 Nov: the night is the 20th
    assert ops.local_run_date(when=datetime(2026, 11, 19, 18, 0, tzinfo=timezone.utc)).isoformat() == "2026-11-20"
    assert ops.local_run_date(when=datetime(2026, 11, 19, 15, 59, tzinfo=timezone.utc)).isoformat() == "2026-11-19"
    assert ops.local_run_date(when=datetime(2026, 11, 19, 18, 0)).isoformat() == "2026-11-20"  # naive = UTC
    assert ops.local_run_date("UTC", datetime(2026, 11, 19, 18, 0, tzinfo=timezone.utc)).isoformat() == "2026-11-19"
