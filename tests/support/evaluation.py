"""The labelled evaluation, written and evaluated once a session (tests/conftest.py
`labelled_evaluation`), and one scenario family's figures taken out of it."""
from __future__ import annotations


def runnable() -> list[str]:
    """Every labelled scenario's name but those whose `needs` module (the multi-year scenarios
    need the history rules) does not exist here."""
    import importlib.util

    from minewatch.synth import scenarios
    return [x.name for x in scenarios.SCENARIOS if x.needs is None or importlib.util.find_spec(x.needs)]


def family_view(result: dict, family: tuple) -> dict:
    """`result` (`minewatch.evaluate.evaluate` over every scenario) cut to `family` (a tuple of
    `synth.scenarios.Scenario`), with the same keys `evaluate` gives for those scenarios alone:
    each scenario is its own licence, judged alone, so a family's figures are its scenarios'
    flags and misses (labels = the labels found + the labels missed)."""
    names = [x.name for x in family]
    per = {n: result["per_scenario"][n] for n in names}
    flags = [f for sc in per.values() for f in sc["flags"]]
    true = sum(bool(f["true"]) for f in flags)
    found = sum(len({(f["unit"], f["type"]) for f in sc["flags"] if f["true"]}) for sc in per.values())
    labels = found + sum(len(sc["missed"]) for sc in per.values())
    return {"scenarios": len(per), "labels": labels, "flags": len(flags), "true_flags": true,
            "precision": round(true / len(flags), 4) if flags else 1.0,
            "recall": round(found / labels, 4) if labels else 1.0,
            "cloud_only_flags": sum(bool(f["cloud_or_shadow"]) for f in flags),
            "held_back": [h for h in result["held_back"] if h["scenario"] in names],
            "per_scenario": per}
