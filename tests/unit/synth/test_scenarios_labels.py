"""The evaluation scenarios: labelled, deterministic, and what they say they are."""
import json
from datetime import date

import rasterio
import yaml

from minewatch.promised.planreader import read_plans
from minewatch.promised.registry import read_registry
from minewatch.synth import scenarios as sc

# the anomaly types of issue 13's history rules (contract13), labelled before they exist here
HISTORY_TYPES = {"PLAN_NOT_EXECUTED", "RESTORED_LAND_REDISTURBED", "RESTORATION_OVERDUE_AT_EXPIRY"}


def test_every_scenario_has_labels_with_known_types_and_units():
    from minewatch.labels import TYPES_ZH
    names = [s.name for s in sc.SCENARIOS]
    assert len(names) == len(set(names))
    for s in sc.SCENARIOS:
        keys = ({f"{u.section}:{u.seq}" for u in s.units} | {f"area:{p.name}" for p in s.patches}
                | {f"{u.section}:{u.seq}@{sc.LY}" for u in s.earlier} | {sc.OVERDUE})
        for unit, t in s.labels:
            assert (t in TYPES_ZH or t in HISTORY_TYPES) and unit in keys, (s.name, unit, t)
            assert s.needs or t not in HISTORY_TYPES, (s.name, t)


def test_climate_models_drought_and_late_spring():
    drought = next(s for s in sc.SCENARIOS if s.name == "drought")
    late = next(s for s in sc.SCENARIOS if s.name == "late_greenup")
    assert sc.climate(drought, date(2026, 8, 1)) == 0.55 * sc.climate(drought, date(2025, 8, 1))
    assert sc.climate(late, date(2026, 6, 1)) < sc.climate(late, date(2025, 6, 1))


def test_written_scenario_reads_back(tmp_path):
    pit = [s for s in sc.SCENARIOS if s.name in ("pit_lake", "baseline_mix")]
    root = sc.write_scenarios(tmp_path, pit)
    labels = yaml.safe_load((root / "labels.yaml").read_text(encoding="utf-8"))
    assert [x["scenario"] for x in labels["scenarios"]] == ["pit_lake", "baseline_mix"]
    rights = read_registry(root / "registry.csv").rights
    plans = [r.plan for r in read_plans(root / "plans")]
    assert len(rights) == 2 and all(p is not None and p.plan_year == 2026 for p in plans)
    items = sorted((root / "catalog" / "items").glob("*.json"))
    assert len(items) == 2 * len(sc.scene_dates())
    baselines = {json.loads(p.read_text())["properties"]["s2:processing_baseline"] for p in items
                 if "_8_L2A" in p.name}
    assert baselines == {"03.01", "05.10"}
    # the filled pit lake is water (SCL 6) in a clear plan-year scene
    i = [s.name for s in sc.SCENARIOS].index("pit_lake")
    clear = next(p for p in items if f"_{i}_L2A" in p.name and "2026" in p.name
                 and json.loads(p.read_text())["properties"]["eo:cloud_cover"] == 0)
    item = json.loads(clear.read_text())
    with rasterio.open(item["assets"]["scl"]["href"]) as ds:
        scl = ds.read(1)
    fr = sc.Frame.of(i)
    r, c = fr.slices((-300, -200, -100, 0))
    assert (scl[r.start // 2:r.stop // 2, c.start // 2:c.stop // 2] == 6).mean() > 0.9
    # a second call does not rewrite anything
    mtime = (root / "catalog" / ".complete").stat().st_mtime
    sc.write_scenarios(tmp_path, pit)
    assert (root / "catalog" / ".complete").stat().st_mtime == mtime
