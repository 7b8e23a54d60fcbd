"""Bad input gets a clear error: missing or invalid config, unreachable catalogue."""
import subprocess
import sys

import pytest
from tests.support.paths import REPO

from minewatch.cli import main
from minewatch.config import ConfigError, load_settings

ROOT = REPO


def test_missing_config_is_a_clear_error(capsys, tmp_path):
    assert main(["run", "--config", str(tmp_path / "nope.yaml")]) == 2
    err = capsys.readouterr().err
    assert "config file not found" in err and "nope.yaml" in err


def test_invalid_config_names_the_field(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("registry: r.csv\nplans: p\nimagery:\n  mask_classes: [3, 5, 9]\n")
    with pytest.raises(ConfigError, match=r"imagery\.mask_classes.*class 5"):
        load_settings(p)
    p.write_text("registry: r.csv\nplans: p\ncatalog:\n  max_cloud_cover: 140\n")
    with pytest.raises(ConfigError, match=r"catalog\.max_cloud_cover"):
        load_settings(p)
    p.write_text("plans: p\n")
    with pytest.raises(ConfigError, match="registry"):
        load_settings(p)


def test_paths_resolve_against_the_config_folder():
    s = load_settings(ROOT / "configs" / "sample.yaml")
    assert s.registry == ROOT / "sample_scenes" / "registry.csv"
    assert s.assess.thresholds == ROOT / "configs" / "thresholds.yaml"


def test_unreachable_catalogue_fails_fast_with_what_to_do(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(f"registry: {ROOT}/sample_scenes/registry.csv\nplans: {ROOT}/sample_scenes/plans\n"
                 "catalog:\n  url: http://127.0.0.1:9\n  timeout_s: 3\n")
    out = subprocess.run([sys.executable, "-m", "minewatch.cli", "run", "--config", str(p)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "STAC API unreachable at http://127.0.0.1:9" in out.stderr and "minewatch catalog up" in out.stderr
    assert "Traceback" not in out.stderr
