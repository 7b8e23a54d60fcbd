"""The nightly job's library side: gather promises, run each mine, write the run folder.

Kept free of Prefect so it can be called and tested directly; `flows/nightly.py` wraps
these in tasks.
"""
from __future__ import annotations

import json
import logging
import traceback
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from minewatch.assess.thresholds import ThresholdTable, load_thresholds
from minewatch.config import Settings
from minewatch.outputs.atomic import write_text
from minewatch.outputs.geojson import write_anomalies
from minewatch.pipeline import MineResult, process_mine
from minewatch.promised.models import AnnualPlan, MiningRight

log = logging.getLogger("minewatch")


@dataclass
class Promises:
    rights: list[MiningRight]
    plans: dict[str, AnnualPlan]          # license_no -> plan for the plan year
    findings: list = field(default_factory=list)   # plan-reading findings (all files)
    thresholds: ThresholdTable | None = None


def load_promises(s: Settings, plan_year: int) -> Promises:
    from minewatch.promised.plans import read_plans
    from minewatch.promised.registry import read_registry

    rights = read_registry(s.registry)
    plans: dict[str, AnnualPlan] = {}
    findings = []
    for r in read_plans(s.plans):
        findings += r.findings
        if r.plan is not None and r.plan.plan_year == plan_year:
            plans[r.plan.license_no] = r.plan
    return Promises(rights, plans, findings, load_thresholds(s.assess.thresholds))


def run_mine(right: MiningRight, p: Promises, s: Settings, as_of: date, plan_year: int) -> MineResult:
    """One mine, never raising: a failure is recorded so the other mines go on."""
    try:
        return process_mine(right, p.plans.get(right.license_no), p.thresholds, s, as_of, plan_year)
    except Exception as e:  # noqa: BLE001 - isolation is the point
        log.error("mine %s failed: %s", right.license_no, e)
        r = MineResult(right.license_no, right.mine_name)
        r.error = f"{type(e).__name__}: {e}"
        r.traceback = traceback.format_exc()
        return r


def write_run(results: list[MineResult], out_dir: Path, run_date: date, plan_year: int) -> dict:
    """anomalies.geojson, unit_series.csv, unjudged.csv and run_summary.json, atomically."""
    run_dir = Path(out_dir) / run_date.isoformat()
    run_dir.mkdir(parents=True, exist_ok=True)
    results = sorted(results, key=lambda r: r.license_no)
    anomalies = [a for r in results for a in r.anomalies]
    write_anomalies(run_dir / "anomalies.geojson", anomalies)

    import pandas as pd
    frames = [r.series.assign(license_no=r.license_no) for r in results if r.series is not None]
    if frames:
        df = pd.concat(frames, ignore_index=True)
        write_text(run_dir / "unit_series.csv", df.to_csv(index=False, float_format="%.4f"))
    unj = pd.DataFrame([asdict(u) for r in results for u in r.unjudged],
                       columns=["license_no", "unit", "reason", "reason_zh", "n_clear"])
    write_text(run_dir / "unjudged.csv", unj.to_csv(index=False))

    by_type: dict[str, int] = {}
    for a in anomalies:
        by_type[a.type] = by_type.get(a.type, 0) + 1
    summary = {
        "run_date": run_date.isoformat(), "plan_year": plan_year,
        "mines": len(results), "mines_failed": sum(1 for r in results if r.error),
        "scenes_read": sum(len(r.scenes) for r in results),
        "anomalies": len(anomalies), "anomalies_by_type": dict(sorted(by_type.items())),
        "failures": [{"license_no": r.license_no, "error": r.error} for r in results if r.error],
        "outputs": sorted(p.name for p in run_dir.iterdir() if not p.name.startswith(".")) + ["run_summary.json"],
    }
    summary["outputs"] = sorted(set(summary["outputs"]))
    write_text(run_dir / "run_summary.json", json.dumps(summary, ensure_ascii=False, indent=1) + "\n")
    summary["run_dir"] = str(run_dir)
    return summary
