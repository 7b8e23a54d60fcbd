"""stac-validator (PyPI, run as its CLI) against the STAC schemas shipped in tests/data, offline."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO

SCHEMA_DIR = REPO / "tests" / "data" / "stac_schemas"


def stac_validator() -> str | None:
    """The CLI beside the running interpreter (the venv's), else on PATH."""
    here = Path(sys.executable).with_name("stac-validator")
    return str(here) if here.exists() else shutil.which("stac-validator")


def validate_items(paths: list[Path]) -> list[dict]:
    """One stac-validator report per item file (its JSON output); exit code 0 only when all are valid."""
    cli = stac_validator()
    assert cli, "stac-validator (PyPI) is not installed"
    reports = []
    for p in paths:
        # run from SCHEMA_DIR: the config's paths are relative to it
        out = subprocess.run([cli, "validate", "--schema-config", "schema-config.yaml", str(Path(p).resolve())],
                             cwd=SCHEMA_DIR, capture_output=True, text=True, timeout=120, check=False)
        body = out.stdout[out.stdout.index("["):out.stdout.rindex("]") + 1]
        report = json.loads(body)[0]
        report["returncode"] = out.returncode
        reports.append(report)
    return reports


def validate_in_process(paths: list[Path]) -> dict[str, str]:
    """stac-validator's own StacValidate on many items (one CLI start per file is too slow for a
    whole sample; `batch` cannot take a schema config): item file name -> error, for the invalid."""
    import os
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from stac_validator.validate import StacValidate
    config = str(SCHEMA_DIR / "schema-config.yaml")
    bad = {}
    cwd = os.getcwd()
    os.chdir(SCHEMA_DIR)
    try:
        for p in paths:
            v = StacValidate(str(Path(p).resolve()), schema_config=config)
            if not v.run():
                bad[Path(p).name] = v.message[0].get("error_message", "invalid")
    finally:
        os.chdir(cwd)
    return bad
