"""Shared fixtures. `stac_catalog` runs the real local catalogue (postgres + pgstac + stac-fastapi)."""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from minewatch.sky import stacserver


@dataclass(frozen=True)
class LocalCatalog:
    url: str
    data_dir: Path
    pg_port: int
    api_port: int

    def load(self, items_dir: Path) -> int:
        return stacserver.load(items_dir, self.data_dir, pg_port=self.pg_port)


@pytest.fixture(scope="session")
def stac_catalog():
    # Test ports differ from the defaults (54329/8082) so a user's own catalogue keeps running.
    pg_port = int(os.environ.get("MINEWATCH_TEST_PG_PORT", "54339"))
    api_port = int(os.environ.get("MINEWATCH_TEST_API_PORT", "8092"))
    # Under /tmp, not pytest's tmp_path: that is 0700 root-only, and postgres runs as `postgres`.
    data_dir = Path(tempfile.mkdtemp(prefix="minewatch-stac-"))
    data_dir.chmod(0o755)
    try:
        url = stacserver.up(data_dir, pg_port=pg_port, api_port=api_port)
        yield LocalCatalog(url, data_dir, pg_port, api_port)
    finally:
        stacserver.down(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def sample_loaded(stac_catalog):
    """The bundled sample's scenes (generated on first use) loaded into the test catalogue."""
    from minewatch.synth import sample

    catalog_dir = sample.ensure_sample(Path(__file__).resolve().parents[1] / "sample_scenes")
    stac_catalog.load(catalog_dir)
    return stac_catalog
