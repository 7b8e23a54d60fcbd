"""Evaluation on labelled scenarios: per-type precision and recall per (mine, unit, type).

`evaluate(root, settings)` reads the scenarios written by `minewatch.synth.scenarios`
(registry, plans, labels, scenes already loaded into the STAC catalogue at
settings.catalog.url), runs every mine through the same `job.run_mine` the nightly flow
uses, and compares the reported flags (confidence >= report_min) with the labels:

- a unit flag is (licence, "section:seq", type); an area flag (UNDECLARED_DISTURBANCE,
  OUT_OF_BOUNDARY_DISTURBANCE) is matched to a planted area of the same scenario whose
  rectangle it intersects ("area:<name>");
- precision = true flags / flags, recall = found labels / labels, per type and overall;
- cloud_only_flags: false flags whose evidence scenes have cloud, shadow or snow (SCL classes
  `imagery.cloud_shadow_classes`, by default 2, 3, 8, 9, 10, 11) over the flagged geometry, read
  straight from the SCL COGs: flags the sky alone could have caused. Held-back
  (low-confidence) flags are counted apart.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict
from datetime import date
from pathlib import Path

import numpy as np
import yaml
from shapely.geometry import box

from minewatch.assess.anomaly import Anomaly
from minewatch.config import Settings
from minewatch.promised import coords

AREA_TYPES = ("UNDECLARED_DISTURBANCE", "OUT_OF_BOUNDARY_DISTURBANCE")


def _area_key(a: Anomaly, areas: dict) -> str:
    best, best_ov = None, 0.0
    for name, b in areas.items():
        ov = a.geometry.intersection(box(*b)).area
        if ov > best_ov:
            best, best_ov = name, ov
    return f"area:{best}" if best else f"area:?{a.key}"


def _cloud_touched(a: Anomaly, catalog_dir: Path, classes: tuple[int, ...]) -> bool:
    """True when any evidence scene has cloud or shadow SCL pixels over the flag's geometry."""
    import rasterio
    from rasterio.features import geometry_mask

    for sid in a.evidence_scenes:
        p = catalog_dir / "items" / f"{sid}.json"
        if not p.is_file():
            continue
        item = json.loads(p.read_text(encoding="utf-8"))
        epsg = int(item["properties"]["proj:code"].split(":")[1])
        g = coords.transform(a.geometry, 4490, epsg).buffer(30)
        with rasterio.open(item["assets"]["scl"]["href"]) as ds:
            scl = ds.read(1)
            m = ~geometry_mask([g], out_shape=scl.shape, transform=ds.transform, all_touched=True)
        if np.isin(scl[m], classes).any():
            return True
    return False


def evaluate(root: Path, s: Settings, names: list[str] | None = None) -> dict:
    """The scenarios' figures (module docstring). The plans go into a ledger of the
    evaluation's own, in a temporary folder, built as the night builds it: the scenarios'
    history never mixes with the operator's ledger."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="minewatch-eval-ledger-") as d:
        url = f"sqlite:///{Path(d).resolve() / 'ledger.sqlite'}"
        try:
            # the scenarios' own acceptance list (synth.scenarios writes one), as a bureau's would be
            accepted = Path(root) / "acceptance.csv"
            ledger = s.ledger.model_copy(update={"url": url, "acceptance": accepted if accepted.is_file() else None})
            return _evaluate(Path(root), s.model_copy(update={"ledger": ledger}), names)
        finally:
            from minewatch import job
            job.forget_ledger(url)       # the folder goes: no engine may keep the file open


def _evaluate(root: Path, s: Settings, names: list[str] | None) -> dict:
    from minewatch import job

    spec = yaml.safe_load((root / "labels.yaml").read_text(encoding="utf-8"))
    plan_year = int(spec["plan_year"])
    s = s.model_copy(update={"registry": root / "registry.csv", "plans": root / "plans"})
    promises = job.load_promises(s, plan_year)
    rights = {r.license_no: r for r in promises.rights}
    want, got, cloud_fp, held, per_scenario = set(), [], 0, [], {}
    for sc in spec["scenarios"]:
        if names and sc["scenario"] not in names:
            continue
        lic = sc["license_no"]
        labels = {(lic, lab["unit"], lab["type"]) for lab in sc["labels"]}
        want |= labels
        res = job.run_mine(rights[lic], promises, s, date.fromisoformat(sc["as_of"]), plan_year)
        if res.error:
            raise RuntimeError(f"scenario {sc['scenario']}: {res.error}")
        flags = []
        for a in res.anomalies:
            key = _area_key(a, sc["areas"]) if a.type in AREA_TYPES else a.key
            t = (lic, key, a.type)
            ok = t in labels
            cloudy = (not ok) and _cloud_touched(a, root / "catalog", s.imagery.cloud_shadow_classes)
            cloud_fp += cloudy
            got.append((t, ok))
            flags.append({"unit": key, "type": a.type, "confidence": a.confidence, "true": ok,
                          "cloud_or_shadow": cloudy, "observed": a.observed, "expected": a.expected})
        held += [{"scenario": sc["scenario"], "unit": a.key, "type": a.type} for a in res.held_back]
        found = {t for t, ok in got if ok and t[0] == lic}
        per_scenario[sc["scenario"]] = {"flags": flags, "missed": sorted(lab[1:] for lab in labels - found),
                                        "unjudged": [asdict(u) for u in res.unjudged]}
    by_type: dict[str, dict] = defaultdict(lambda: {"labels": 0, "flags": 0, "true": 0})
    for t in want:
        by_type[t[2]]["labels"] += 1
    for t, ok in got:
        by_type[t[2]]["flags"] += 1
        by_type[t[2]]["true"] += ok
    for v in by_type.values():
        v["precision"] = round(v["true"] / v["flags"], 4) if v["flags"] else None
        v["recall"] = round(min(v["true"], v["labels"]) / v["labels"], 4) if v["labels"] else None
    n_true = sum(ok for _, ok in got)
    return {
        "scenarios": len(per_scenario), "labels": len(want), "flags": len(got), "true_flags": n_true,
        "precision": round(n_true / len(got), 4) if got else 1.0,
        "recall": round(len({t for t, ok in got if ok}) / len(want), 4) if want else 1.0,
        "cloud_only_flags": cloud_fp, "held_back": held,
        "by_type": dict(sorted(by_type.items())), "per_scenario": per_scenario,
    }


def print_report(r: dict) -> None:
    print(f"{'type':34s} {'labels':>6s} {'flags':>6s} {'true':>5s} {'precision':>9s} {'recall':>7s}")
    for t, v in r["by_type"].items():
        fmt = lambda x: "-" if x is None else f"{x:.3f}"
        print(f"{t:34s} {v['labels']:6d} {v['flags']:6d} {v['true']:5d} "
              f"{fmt(v['precision']):>9s} {fmt(v['recall']):>7s}")
    for name, sc in r["per_scenario"].items():
        bad = [f for f in sc["flags"] if not f["true"]]
        if bad or sc["missed"]:
            print(f"  {name}: false {[(f['unit'], f['type']) for f in bad]} missed {sc['missed']}")
    print(f"overall precision {r['precision']:.3f} recall {r['recall']:.3f}; "
          f"flags caused by clouds/shadows alone: {r['cloud_only_flags']}; held back (low confidence): "
          f"{len(r['held_back'])}")
    summary = {k: r[k] for k in ("scenarios", "labels", "flags", "true_flags", "precision", "recall",
                                 "cloud_only_flags")}
    summary["by_type"] = {t: {"precision": v["precision"], "recall": v["recall"]} for t, v in r["by_type"].items()}
    print(json.dumps(summary, ensure_ascii=False, sort_keys=True))


def prepare(scenario_dir: Path, s: Settings) -> tuple[Path, Settings]:
    """Scenarios written (first use) and loaded into the configured catalogue, started
    locally if it is not up; returns the scenario root and settings pointing at it."""
    from minewatch import localstac
    from minewatch.synth import scenarios

    root = scenarios.write_scenarios(Path(scenario_dir))
    url = s.catalog.url
    if not localstac.is_up(url):
        lc = s.local_catalog
        url = localstac.up(lc.data_dir, pg_port=lc.pg_port, api_port=lc.api_port)
    localstac.load(root / "catalog", s.local_catalog.data_dir, pg_port=s.local_catalog.pg_port)
    return root, s.model_copy(update={"catalog": s.catalog.model_copy(update={"url": url})})
