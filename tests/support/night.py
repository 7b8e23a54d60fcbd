"""A night's promises from a copy of the bundled sample, for tests that damage its files."""
from __future__ import annotations

import shutil
from pathlib import Path

from minewatch.config import Settings, load_settings
from tests.support.paths import REPO

SAMPLE = REPO / "sample_scenes"


def sample_copy(tmp: Path) -> Settings:
    """Settings of the sample (registry + plans copied under `tmp`, outputs in tmp/out)."""
    shutil.copy(SAMPLE / "registry.csv", tmp / "registry.csv")
    shutil.copytree(SAMPLE / "plans", tmp / "plans")
    s = load_settings(REPO / "configs" / "sample.yaml")
    return s.model_copy(update={"registry": tmp / "registry.csv", "plans": tmp / "plans", "output_dir": tmp / "out"})
