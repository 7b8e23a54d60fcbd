"""Labelled scenarios written, loaded into the test catalogue and evaluated with the sample's
settings pointed at it: what every scenario-family evaluation test starts from."""
from __future__ import annotations

from pathlib import Path

from minewatch.config import load_settings
from minewatch.synth import scenarios
from tests.support.paths import REPO


def evaluate_family(stac_catalog, folder: Path, family: tuple) -> dict:
    """`minewatch.evaluate.evaluate` over `family` (a tuple of `synth.scenarios.Scenario`)."""
    from minewatch.evaluate import evaluate
    root = scenarios.write_scenarios(folder, family)
    stac_catalog.load(root / "catalog")
    s = load_settings(REPO / "configs" / "sample.yaml")
    s = s.model_copy(update={"catalog": s.catalog.model_copy(update={"url": stac_catalog.url})})
    return evaluate(root, s, [x.name for x in family])
