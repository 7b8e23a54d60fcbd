"""Shared fixtures. `stac_catalog` runs the real local catalogue (postgres + pgstac + stac-fastapi)."""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from minewatch import localstac
from tests.support.evaluation import runnable
from tests.support.paths import REPO

# CI runs the property tests on hypothesis' fixed examples: a landing never depends on luck
# (locally they stay random, to keep finding new cases)
# flows run in the tests start Prefect's ephemeral server; on a loaded 2-core machine it needs
# longer than Prefect's default to come up (the CLI sets the same for operators)
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


@dataclass(frozen=True)
class LocalCatalog:
    url: str
    data_dir: Path
    pg_port: int
    api_port: int

    def load(self, items_dir: Path) -> int:
        return localstac.load(items_dir, self.data_dir, pg_port=self.pg_port)


@pytest.fixture(scope="session")
def anomaly_validator():
    """Plain python-jsonschema on schemas/anomaly.schema.json (the anomaly GeoJSON): the schema
    has no float multipleOf, so no validator needs patching."""
    import json

    from jsonschema import Draft202012Validator

    path = REPO / "schemas" / "anomaly.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def stac_catalog():
    # Free ports unless given, so a user's own catalogue and parallel test runs keep running.
    pg_port = int(os.environ.get("MINEWATCH_TEST_PG_PORT") or _free_port())
    api_port = int(os.environ.get("MINEWATCH_TEST_API_PORT") or _free_port())
    # Under /tmp, not pytest's tmp_path: that is 0700 root-only, and postgres runs as `postgres`.
    data_dir = Path(tempfile.mkdtemp(prefix="minewatch-stac-"))
    data_dir.chmod(0o755)
    try:
        url = localstac.up(data_dir, pg_port=pg_port, api_port=api_port)
        yield LocalCatalog(url, data_dir, pg_port, api_port)
    finally:
        localstac.down(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def sample_loaded(stac_catalog):
    """The bundled sample's scenes (generated on first use) loaded into the test catalogue."""
    from minewatch.synth import sample

    catalog_dir = sample.ensure_sample(REPO / "sample_scenes")
    stac_catalog.load(catalog_dir)
    return stac_catalog


@pytest.fixture(scope="session")
def sample_config(sample_loaded, tmp_path_factory):
    """configs/sample.yaml pointed at the test catalogue and a temporary output folder."""
    import yaml

    root = REPO
    raw = yaml.safe_load((root / "configs" / "sample.yaml").read_text(encoding="utf-8"))
    raw.update(registry=str(root / "sample_scenes" / "registry.csv"), plans=str(root / "sample_scenes" / "plans"),
               output_dir=str(tmp_path_factory.mktemp("out")))
    raw.setdefault("ledger", {})["acceptance"] = str(root / "sample_scenes" / "acceptance.csv")
    raw["catalog"]["url"] = sample_loaded.url
    raw["assess"]["thresholds"] = str(root / "configs" / "thresholds.yaml")
    raw.pop("local_catalog", None)
    p = tmp_path_factory.mktemp("cfg") / "config.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return p




# Every Python warning an error in the shared night (test_clean_log reads its log), but for one:
# affine's deprecation of `*`, raised inside rasterio and stackstac (third-party code minewatch
# cannot change; pyproject's filterwarnings lists the same)
WARNINGS_AS_ERRORS = "error,ignore:Use `@` matmul:PendingDeprecationWarning"
SAMPLE_NIGHT_DATE = "2026-11-20"


@dataclass(frozen=True)
class SampleNight:
    out: Path            # the --out folder: run folders, `latest`, state/
    date: str
    stdout: str
    stderr: str          # the night's log, as `2> night.log` keeps it

    @property
    def run_dir(self) -> Path:
        return self.out / self.date

    def copy_to(self, dst: Path) -> Path:
        """The whole --out folder copied (links kept as links) for a test that runs further
        nights on it: the shared folder itself is never written again."""
        shutil.copytree(self.out, dst, symlinks=True, dirs_exist_ok=True)
        return dst


@pytest.fixture(scope="session")
def sample_night(sample_config, tmp_path_factory) -> SampleNight:
    """One fresh sample night through `minewatch run` (the CLI and Prefect, as an operator starts
    it), with every Python warning an error: the night several test modules read instead of each
    running its own (read only; `copy_to` for a test that writes)."""
    from tests.support.cli import run_cli

    out = tmp_path_factory.mktemp("sample_night")
    r = run_cli("run", "--config", sample_config, "--date", SAMPLE_NIGHT_DATE, "--out", out,
                env={"PYTHONWARNINGS": WARNINGS_AS_ERRORS})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return SampleNight(out, SAMPLE_NIGHT_DATE, r.stdout, r.stderr)


@pytest.fixture(scope="session")
def labelled_scenarios(stac_catalog, tmp_path_factory):
    """Every labelled scenario (synth.scenarios.SCENARIOS) written, loaded into the test catalogue,
    with the sample's settings pointed at it."""
    from minewatch.config import load_settings
    from minewatch.synth import scenarios

    root = scenarios.write_scenarios(tmp_path_factory.mktemp("scenarios"))
    stac_catalog.load(root / "catalog")
    s = load_settings(REPO / "configs" / "sample.yaml")
    s = s.model_copy(update={"catalog": s.catalog.model_copy(update={"url": stac_catalog.url})})
    return root, s


@pytest.fixture(scope="session")
def labelled_evaluation(labelled_scenarios):
    """`minewatch.evaluate.evaluate` over every runnable scenario, once a session: the overall bar
    (test_evaluate) and each family's own figures (tests/support/evaluation.family_view) read it."""
    from minewatch.evaluate import evaluate
    root, s = labelled_scenarios
    return evaluate(root, s, runnable())
