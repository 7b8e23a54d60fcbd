"""The bundled sample's planted truths (sample_scenes/truths.yaml) that the rules on this tree can find."""
from __future__ import annotations

import importlib.util
from collections import Counter
from typing import Any

import yaml

from tests.support.paths import REPO

TRUTHS = REPO / "sample_scenes" / "truths.yaml"


def expected(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows (truths or twins) whose "needs" module, if any, exists: the cross-year truths
    need the history rules (minewatch.assess.history)."""
    return [t for t in rows if not t.get("needs") or importlib.util.find_spec(t["needs"]) is not None]


def sample_truths() -> dict[str, Any]:
    return yaml.safe_load(TRUTHS.read_text(encoding="utf-8"))


def expected_by_type() -> dict[str, int]:
    """Type -> how many of the sample's planted anomalies the night must report."""
    return dict(sorted(Counter(t["type"] for t in expected(sample_truths()["anomalies"])).items()))
