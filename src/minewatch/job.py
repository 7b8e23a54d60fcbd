"""The nightly job's library side: gather promises, run each mine, write the run folder.

Kept free of Prefect so it can be called and tested directly; `minewatch.flow.nightly` wraps
these in tasks.
"""
from __future__ import annotations

import hashlib
import json
import logging
import pickle
import shutil
import threading
import traceback
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import fsspec

from minewatch import __version__, ops
from minewatch.assess.anomaly import with_unique_keys
from minewatch.assess.history import LEDGER_RULES, ledger_findings
from minewatch.assess.planchecks import plan_anomalies, unreadable_files
from minewatch.assess.rules import unit_key
from minewatch.assess.rundate import run_date_part
from minewatch.assess.season import Season
from minewatch.assess.thresholds import ThresholdTable, load_thresholds
from minewatch.config import OnemapSettings, ReportSettings, Settings
from minewatch.ledger.acceptance import RULE_PREFIX as ACCEPTANCE_PREFIX
from minewatch.ledger.history import MineHistory, mine_histories, record_seasons
from minewatch.outputs import runfolder
from minewatch.outputs.acceptance_overdue import write_acceptance_overdue
from minewatch.outputs.composites import MEDIAN, NDVI_MAX, write_composites
from minewatch.outputs.counties import CountyOutlines, county_outlines
from minewatch.outputs.disclosure import personal_values, public_profile, public_spot_check
from minewatch.outputs.fieldexport import write_field_exports
from minewatch.outputs.geojson import feature_collection
from minewatch.outputs.lifecycle import apply_lifecycle
from minewatch.outputs.onemap import night_unit_status
from minewatch.outputs.onemap_formats import write_package
from minewatch.outputs.onemap_meta import PackageInfo
from minewatch.outputs.overview import MineImage, RenderedImage, write_overview
from minewatch.outputs.products import COMPOSITE_CODE, REPORT_CODE, ProductStore, digest
from minewatch.outputs.report import MineReportData, ReportUnit, render_report
from minewatch.outputs.spotcheck import spot_check_list, write_spot_check
from minewatch.outputs.unit_history import (
    LedgerView,
    ledger_unit_fields,
    outstanding_hm2,
    overdue_counts,
    read_ledger,
    unit_history_frame,
    with_unit_ids,
)
from minewatch.pipeline import Composite, MineProducts, MineResult, process_mine, scenes_for
from minewatch.plumbing.atomic import atomic_path, put_bytes, write_text
from minewatch.plumbing.cells import spreadsheet_safe_frame
from minewatch.promised.findings import Finding
from minewatch.promised.models import AnnualPlan, MiningRight
from minewatch.promised.planreader import PlanReadResult
from minewatch.sky.pixels import PixelStore

if TYPE_CHECKING:
    import pystac
    from sqlalchemy import Engine

log = logging.getLogger("minewatch")


@dataclass
class Promises:
    rights: list[MiningRight]
    plans: dict[str, AnnualPlan]          # license_no -> plan for the plan year
    findings: list = field(default_factory=list)   # registry and plan-reading findings (all files)
    thresholds: ThresholdTable = field(default_factory=lambda: ThresholdTable(()))   # none: all NO_THRESHOLD
    plan_results: list = field(default_factory=list)   # PlanReadResult per file, for PLAN_* anomalies
    settings: Settings | None = None      # the night's settings, for what the outputs show (season, PDF)
    histories: dict[str, MineHistory] = field(default_factory=dict)   # licence -> the ledger's snapshot
    ledger_url: str | None = None         # where the night's season observations go (None: nowhere)


def load_promises(s: Settings, plan_year: int) -> Promises:
    """Registry, every plan file validated against it (receipts from plans/receipts.csv), thresholds."""
    from minewatch.promised.filings import is_superseded, mark_superseded
    from minewatch.promised.planreader import read_plans
    from minewatch.promised.registry import read_registry
    from minewatch.promised.validate import apply_receipts, read_receipts, validate_plan

    registry = read_registry(s.registry)        # bad rows are findings; every good right runs
    rights = registry.rights
    by_lic = {r.license_no: r for r in rights}
    receipts, receipt_findings = read_receipts(s.plans)
    findings = registry.findings + receipt_findings
    results = mark_superseded(apply_receipts(read_plans(s.plans, area_tolerance=s.plan.area_tolerance), receipts))
    plans: dict[str, AnnualPlan] = {}
    for r in results:
        r.findings = validate_plan(r, by_lic, area_tolerance=s.plan.area_tolerance)
        if r.plan is not None and r.plan.plan_year == plan_year and not is_superseded(r):
            plans[r.plan.license_no] = r.plan
    url, histories, accepted = load_ledger(s, [r for r in results if not is_superseded(r)])
    for r in results:
        findings += r.findings
    findings += accepted
    return Promises(rights, plans, findings, load_thresholds(s.assess.thresholds, s.assess.regions),
                    plan_results=results, settings=s, histories=histories, ledger_url=url)


def load_ledger(s: Settings, results: list[PlanReadResult]) -> tuple[str, dict[str, MineHistory], list[Finding]]:
    """Every year's plans into the night's ledger (idempotent; a changed filing rebuilds the
    plan part), then the acceptance lists of ``ledger.acceptance`` (their findings returned),
    then its snapshot per mine, so tonight's rules see both. The ledger's plan findings
    (LEDGER_RESTORED_NOT_PLANNED, LEDGER_UNIT_CHANGED) are added to the findings of the file
    they are about."""
    from minewatch.ledger.db import ledger_url
    from minewatch.ledger.ingest import sync_results

    url = ledger_url(s)
    engine = ledger_engine(url)
    rep = sync_results(engine, results, iou_min=s.ledger.iou_min, related_min=s.ledger.related_min)
    for f in rep.findings:
        log.warning("ledger: %s %s", f.rule, f.message_zh)
    accepted = import_acceptance_lists(engine, s)
    histories = mine_histories(engine)
    by_file = {Path(r.file).name: r for r in results}
    for h in histories.values():      # the ledger's plan findings join their file's findings
        for f in ledger_findings(h, area_tolerance=s.plan.area_tolerance):
            if f.file in by_file:
                by_file[f.file].findings = [*by_file[f.file].findings, f]
    return url, histories, accepted


_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def forget_ledger(url: str) -> None:
    """Close the engine `ledger_engine` keeps for ``url`` (a temporary ledger about to be removed)."""
    with _ENGINES_LOCK:
        e = _ENGINES.pop(url, None)
    if e is not None:
        e.dispose()


def ledger_engine(url: str) -> Engine:
    """One migrated engine per ledger URL and process (the night opens it once, each mine writes)."""
    from sqlalchemy.engine import make_url

    from minewatch.ledger.db import open_engine
    u = make_url(url)
    with _ENGINES_LOCK:       # the flow's mine tasks are threads
        gone = u.get_backend_name() == "sqlite" and bool(u.database) and not Path(str(u.database)).exists()
        if url not in _ENGINES or gone:       # a removed ledger file is made (and migrated) anew
            if url in _ENGINES:
                _ENGINES.pop(url).dispose()
            _ENGINES[url] = open_engine(url)
        return _ENGINES[url]


def record_mine_seasons(p: Promises, res: MineResult) -> None:
    """A judged mine's season measures into the ledger (upsert: a rerun never duplicates);
    a failed mine writes nothing."""
    if res.error or not p.ledger_url or not res.seasons:
        return
    from sqlalchemy.exc import SQLAlchemyError
    try:
        record_seasons(ledger_engine(p.ledger_url), res.seasons)
    except SQLAlchemyError as e:     # the mine's findings stand; its seasons are written by a later night
        log.error("mine %s: season observations not written to the ledger: %s", res.license_no, e)


def failed_mine(right: MiningRight, e: BaseException) -> MineResult:
    """The record of a mine that failed: error text, traceback, no findings."""
    log.error("mine %s (%s) failed: %s", right.license_no, right.mine_name, ops.failure_text(e), exc_info=e)
    r = MineResult(right.license_no, right.mine_name)
    r.error = ops.failure_text(e)
    r.traceback = "".join(traceback.format_exception(e))
    return r


# settings a mine's judgement never reads: where outputs go, how the night is scheduled, retried
# and logged, whom it tells, how the one-map package is written, how a local catalogue starts.
# An operator changing them (two mines in flight instead of one, a new webhook) reuses every result.
NOT_JUDGED_BY = frozenset({"output_dir", "base_dir", "run", "notify", "onemap", "local_catalog"})


def result_key(right: MiningRight, plan: AnnualPlan | None, p: Promises, s: Settings, as_of: date,
               items: list[pystac.Item], plan_year: int | None = None) -> str:
    """What a mine's result depends on: the right, its plan version, the plan year, the settings
    and thresholds, the scenes (id and last update), its ledger history (a new filing or
    acceptance record judges the mine again) and what the rules read from the run date
    (`assess.rundate.run_date_part`), not the date itself: a new night with no new scene and
    no other change reuses the result, a date that changes a judgement does not."""
    year = plan_year if plan_year is not None else (plan.plan_year if plan else as_of.year)
    scenes = sorted((it.id, str(it.properties.get("updated", "")), str(it.datetime)) for it in items)
    settings = s.model_dump_json(exclude=set(NOT_JUDGED_BY))
    thresholds = [r.model_dump_json() for r in p.thresholds.rows]   # pydantic pickles carry sets: unordered
    region = p.thresholds.region_of(right.county_code)       # a remapped county or a new season judges again
    thresholds += [region, str(p.thresholds.regions.season_of(region))]
    h = p.histories.get(right.license_no)
    history = h.cache_part(year) if h is not None else None
    when = run_date_part(right, plan, p.thresholds, s, as_of, year, h)
    blob = pickle.dumps((right, plan, year, thresholds, settings, when, scenes, history, __version__))
    return hashlib.sha256(blob).hexdigest()


class ResultCache:
    """Per-mine results of earlier runs under OUT/state/ (or `run.state_url`): a killed run
    resumes without redoing finished mines, and a rerun with no new scenes reads instead of
    computing. Each mine's window goes, step by step, to the pixel store (`<root>/pixels`),
    so a later night reads from the catalogue only the scenes that are new. `root`: a
    folder or any fsspec URL (`storage_options`: that filesystem's)."""

    def __init__(self, root: str | Path, storage_options: dict | None = None) -> None:
        self.root = str(root).rstrip("/")
        self.pixels = PixelStore(f"{self.root}/pixels", storage_options=storage_options)
        self._fs, self._fsroot = fsspec.core.url_to_fs(self.root, **(storage_options or {}))

    def _path(self, license_no: str) -> str:
        return f"{self._fsroot}/mines/{license_no}.pkl"

    def get(self, license_no: str, key: str) -> MineResult | None:
        try:
            stored_key, res = pickle.loads(self._fs.cat_file(self._path(license_no)))
        except FileNotFoundError:
            return None
        except Exception:  # noqa: BLE001 - a damaged cache entry is recomputed, never fatal
            return None
        return res if stored_key == key else None

    def put(self, license_no: str, key: str, res: MineResult) -> None:
        if res.error:
            return
        put_bytes(self._fs, self._path(license_no), pickle.dumps((key, res)))


def state_root(s: Settings, out_dir: str | Path) -> str:
    """Where the night's per-mine state lives: `run.state_url`, else OUT/state."""
    return s.run.state_url or str(Path(out_dir) / "state")


def run_mine(right: MiningRight, p: Promises, s: Settings, as_of: date, plan_year: int,
             *, reraise_transient: bool = False, cache: ResultCache | None = None) -> MineResult:
    """One mine; a permanent failure is recorded so the other mines go on.

    With `reraise_transient` (the Prefect task) a transient error (network, 429/5xx)
    propagates so the task's retries try the mine again; after the last retry the flow
    records it with `failed_mine`.
    """
    try:
        plan = p.plans.get(right.license_no)
        items = scenes_for(right, s, as_of, plan_year)
        key = result_key(right, plan, p, s, as_of, items, plan_year)
        cached = cache.get(right.license_no, key) if cache else None
        if cached is not None:
            log.info("mine %s: %d scenes, nothing new since the last run: result reused",
                     right.license_no, len(items))
            cached.reused = True
            record_mine_seasons(p, cached)
            return cached
        others = [o.boundary for o in p.rights if o.license_no != right.license_no]
        res = process_mine(right, plan, p.thresholds, s, as_of, plan_year, others=others, items=items,
                           pixels=cache.pixels if cache else None, history=p.histories.get(right.license_no))
        if cache:
            cache.put(right.license_no, key, res)
        record_mine_seasons(p, res)
        return res
    except Exception as e:  # noqa: BLE001 - isolation is the point
        if ops.disk_fault(e) is not None:
            raise                       # the disk is full for every mine and the outputs: the night stops
        if reraise_transient and ops.is_transient(e):
            log.warning("mine %s (%s): transient failure, will retry: %s", right.license_no,
                        right.mine_name, ops.failure_text(e))
            raise
        return failed_mine(right, e)


def run_mine_on_worker(right: MiningRight, p: Promises, s: Settings, as_of: date, plan_year: int,
                       state_dir: str) -> ops.Logged:
    """The flow's per-mine task on a cluster worker (`ops.run_on_cluster`): `run_mine` with the
    result cache and pixel store in `state_dir` (shared storage: the same path on every worker),
    then the mine's heavy products written there (`write_mine_products`); back to the flow go
    the slim result and this mine's log records. A transient error is raised for the flow's
    retries, judged here on the exception as raised (`ops.TRANSIENT_ATTR`: a cause that does not
    pickle would not reach the flow)."""
    ops.local_graphs_on_worker()
    with ops.captured_log(s.run.log_level) as records:
        try:
            res = run_mine(right, p, s, as_of, plan_year, reraise_transient=True,
                           cache=ResultCache(state_dir, s.run.state_storage_options))
            try:
                res = write_mine_products(res, state_dir, s)
            except Exception as e:  # noqa: BLE001 - this mine's outputs only, as its judgement
                if ops.disk_fault(e, state_dir) is not None or ops.is_transient(e):
                    raise
                res = failed_mine(right, e)
        except Exception as e:
            setattr(e, ops.TRANSIENT_ATTR, ops.is_transient(e))
            setattr(e, ops.LOG_ATTR, list(records))
            raise
    return ops.Logged(res, list(records))


PRODUCTS = "worker"           # OUT/state/worker/<licence>/<digest>/: what a mine's worker wrote
_PRODUCTS_RECORD = "products.json"
_COMPOSITE_PICKLE = "composite.pkl"
_OVERVIEW_PNG = "overview.png"


def write_mine_products(res: MineResult, state_dir: str | Path, s: Settings) -> MineResult:
    """The mine's heavy products into ``state_dir``/worker, run after its judgement where it
    ran: the composites' COGs, the overview page's image and the composite for its report; the
    result returned without the arrays (`MineResult.products` names the files; write_run copies
    them). Kept per content digest: a mine whose composites did not change keeps its folder
    and nothing is written again; other folders of the mine are removed. A mine without a
    composite (failed, no scenes) is returned as it is."""
    import os
    import socket

    from minewatch.outputs.overview import imagery_png

    c = res.composite
    if c is None or "://" in str(state_dir):    # object storage (run.state_url): the arrays travel back
        return res
    max_px = s.report.overview_image_max_px
    h = hashlib.sha256(pickle.dumps((c.period, tuple(c.transform), c.epsg, c.bands, max_px, __version__)))
    for a in (c.ndvi_max, c.median, c.fvc, c.baseline_rgb):
        h.update(b"-" if a is None else a.tobytes())
    mine_dir = Path(state_dir) / PRODUCTS / res.license_no
    folder = mine_dir / h.hexdigest()[:24]
    record = folder / _PRODUCTS_RECORD
    if not record.is_file():
        tmp = mine_dir / f".{folder.name}.{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        paths = write_composites(tmp, res.license_no, c.period, c.transform, c.epsg, c.ndvi_max, c.median,
                                 list(c.bands))
        png, bounds = imagery_png(MineImage(c.rgb, c.transform, c.epsg), max_px)
        (tmp / _OVERVIEW_PNG).write_bytes(png)
        (tmp / _COMPOSITE_PICKLE).write_bytes(pickle.dumps(c, protocol=pickle.HIGHEST_PROTOCOL))
        (tmp / _PRODUCTS_RECORD).write_text(json.dumps(
            {"composites": [p.name for p in paths], "overview_bounds": list(bounds),
             "written_by": f"{socket.gethostname()}:{os.getpid()}"}) + "\n", encoding="utf-8")
        try:
            tmp.rename(folder)           # the folder appears whole or not at all
        except OSError:                  # another try of this mine got there first: the same bytes
            shutil.rmtree(tmp, ignore_errors=True)
    for old in mine_dir.iterdir():
        if old != folder and not old.name.startswith("."):
            shutil.rmtree(old, ignore_errors=True)
    meta = json.loads(record.read_text(encoding="utf-8"))
    products = MineProducts(folder=str(folder), composites=tuple(meta["composites"]), composite=_COMPOSITE_PICKLE,
                            overview_png=_OVERVIEW_PNG, overview_bounds=tuple(meta["overview_bounds"]),
                            written_by=meta["written_by"])
    return replace(res, composite=None, products=products)


def product_composite(r: MineResult) -> Composite | None:
    """The mine's composite: held in the result, or read from the products its worker wrote."""
    if r.composite is not None or r.products is None:
        return r.composite
    return pickle.loads((Path(r.products.folder) / r.products.composite).read_bytes())


def _overview_image(r: MineResult) -> MineImage | RenderedImage | None:
    if r.products is not None:
        pr = r.products
        return RenderedImage((Path(pr.folder) / pr.overview_png).read_bytes(), pr.overview_bounds)
    c = r.composite
    return MineImage(c.rgb, c.transform, c.epsg) if c is not None else None


def _copy_composites(pr: MineProducts, out_dir: Path) -> None:
    for name in pr.composites:
        with atomic_path(out_dir / name) as tmp:
            shutil.copyfile(Path(pr.folder) / name, tmp)


def write_run(results: list[MineResult], out_dir: str | Path, run_date: date, plan_year: int,
              promises: Promises | None = None, products: ProductStore | None = None) -> dict:
    """The run folder OUT/<date>/, published as one unit; `latest` points at it when complete.

    Every file is written into a fresh staging folder beside it, which then replaces the
    dated folder in one step (`runfolder.publish`), so a run killed half way leaves the
    previous folder whole and a rerun never mixes its files with an earlier run's. What
    killed runs left under OUT is removed first.

    anomalies.geojson (with new/ongoing/resolved against the previous run), onemap.gpkg
    (CGCS2000; onemap.gdb and shapefile/ too when `onemap.formats` asks), spot_check.csv/.xlsx,
    reports/<licence>.html, composites/<licence>_{ndvi_max,median}.tif
    (season composites, COG), unit_series.csv,
    unjudged.csv, acceptance_overdue.csv (with the ledger: applications past the working-day
    limit), and run_summary.json written last. With the night's settings the ledger is read
    (``ledger.acceptance`` was imported by load_promises): unit ids on the anomalies, the units' lifecycle and
    history in onemap.gpkg, outstanding and overdue counts in the spot check, timelines in reports.
    A mine's report and composites are rendered only when what they show changed; else they
    are linked from `products` (default OUT/state/products: `outputs.products`).
    """
    out_dir = Path(out_dir)
    runfolder.remove_leftovers(out_dir)
    run_dir = runfolder.staging_dir(out_dir, run_date)
    store = products if products is not None else ProductStore(out_dir / "state" / "products")
    try:
        summary = _write_files(results, out_dir, run_dir, run_date, plan_year, promises, store)
        final = runfolder.publish(out_dir, run_dir, run_date)
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    runfolder.update_latest(out_dir, final)
    # the work this run did depends on the state it found, not on the inputs: reported
    # (CLI, run artifact, log) but kept out of run_summary.json so a rerun writes the same bytes
    summary["run_dir"] = str(final)
    summary["steps_read"] = sum(r.steps_read for r in results if not r.reused)
    summary["steps_from_store"] = sum(r.steps_stored for r in results if not r.reused)
    summary["mines_reused"] = sum(1 for r in results if r.reused)
    summary["products_rendered"], summary["products_linked"] = store.rendered, store.linked
    return summary


def import_acceptance_lists(engine: Engine, s: Settings) -> list[Finding]:
    """The lists under ``ledger.acceptance`` into the ledger (each file replaces its rows), so
    tonight's rules and outputs see them; their row findings and the plans' acceptance claims
    no 合格 record covers. Nothing configured: nothing imported, no findings."""
    from minewatch.ledger.acceptance import acceptance_files, claims_without_record, import_acceptance

    if s.ledger.acceptance is None:
        return []
    findings = [f for path in acceptance_files(s.ledger.acceptance)
                for f in import_acceptance(engine, path, iou_min=s.ledger.iou_min).findings]
    return findings + claims_without_record(engine)


def night_ledger(p: Promises, run_date: date) -> LedgerView:
    """The ledger as the night's outputs show it on the run date."""
    s = p.settings
    assert s is not None
    assert p.ledger_url is not None
    return read_ledger(ledger_engine(p.ledger_url), run_date,
                       management_years=s.ledger.management_years, working_days=s.ledger.acceptance_working_days,
                       holidays=s.ledger.holidays, thresholds=p.thresholds,
                       county={r.license_no: r.county_code for r in p.rights})


def not_judged(results: list[MineResult]) -> dict[tuple[str, str | None], str]:
    """What tonight could not look at, for the lifecycle: failed mines, unjudged units."""
    out: dict[tuple[str, str | None], str] = {(u.license_no, u.unit): u.reason_zh
                                              for r in results for u in r.unjudged}
    out.update({(r.license_no, None): r.error for r in results if r.error})
    return out


def night_scenes(results: list[MineResult]) -> list[str]:
    """Every scene id some mine was judged with tonight, once, sorted."""
    return sorted({sc for r in results for sc in r.scenes})


def _write_files(results: list[MineResult], out_dir: Path, run_dir: Path, run_date: date, plan_year: int,
                 promises: Promises | None, store: ProductStore | None = None) -> dict:
    """Every file of the night into `run_dir` (the staging folder), run_summary.json last."""
    results = sorted(results, key=lambda r: r.license_no)
    anomalies = [a for r in results for a in r.anomalies]
    if promises is not None:
        anomalies += plan_anomalies(promises.rights, promises.plan_results, plan_year=plan_year, as_of=run_date)
    # the ledger load_promises synced (Promises built by hand have none: no ledger is made for them)
    ledger = night_ledger(promises, run_date) if promises is not None and promises.ledger_url else None
    unit_ids = ledger.unit_ids if ledger is not None else {}
    anomalies = with_unique_keys(with_unit_ids(anomalies, unit_ids))   # ids are merge keys: never two alike
    prev = runfolder.previous_run(out_dir, run_date)
    prev_fc = (json.loads((prev / "anomalies.geojson").read_text(encoding="utf-8"))
               if prev and (prev / "anomalies.geojson").is_file() else None)
    fc = apply_lifecycle(feature_collection(anomalies), prev_fc, run_date,
                         previous_run_date=date.fromisoformat(prev.name) if prev else None,
                         not_judged=not_judged(results))
    write_text(run_dir / "anomalies.geojson", json.dumps(fc, ensure_ascii=False, indent=1) + "\n")
    # low-confidence flags are not sent to inspectors by default, but nothing is silently dropped
    held = feature_collection(with_unique_keys(with_unit_ids([a for r in results for a in r.held_back], unit_ids)))
    write_text(run_dir / "anomalies_low_confidence.geojson", json.dumps(held, ensure_ascii=False, indent=1) + "\n")
    for r in results:      # the season's composites, COGs for reports and GIS
        if r.products is not None:      # written by the worker the mine ran on
            _copy_composites(r.products, run_dir / "composites")
        elif r.composite is not None:
            write_mine_composites(r, run_dir / "composites", store)
    if promises is not None:
        status = night_unit_status(fc, {r.license_no: r.series for r in results if r.series is not None},
                                   [asdict(u) for r in results for u in r.unjudged], run_date, unit_ids)
        onemap = promises.settings.onemap if promises.settings is not None else OnemapSettings()
        lics = sorted({x.license_no for x in promises.rights})
        county = {x.license_no: x.county_code for x in promises.rights}
        write_package(run_dir, fc, promises.rights, promises.plans, status, onemap, run_date=run_date,
                      info=PackageInfo(run_id=run_date.isoformat(), scenes=tuple(night_scenes(results)),
                                       software=f"minewatch {__version__}",
                                       responsible_party=onemap.responsible_party),
                      previous=prev / "onemap.gpkg" if prev else None,
                      previous_run_date=date.fromisoformat(prev.name) if prev else None,
                      unit_ledger=ledger_unit_fields(ledger) if ledger is not None else None,
                      tables={"unit_history": unit_history_frame(ledger, lics, county)} if ledger is not None else None)
        spot = spot_check_list(fc, promises.rights, outstanding=outstanding_hm2(ledger) if ledger else None,
                               overdue=overdue_counts(ledger) if ledger else None)
        write_spot_check(spot, run_dir / "spot_check.csv", run_dir / "spot_check.xlsx")
        # public-disclosure profile: no contact data by key or by value, no field marked confidential
        personal = personal_values(promises.rights, [r.plan for r in promises.plan_results if r.plan is not None])
        write_text(run_dir / "public" / "anomalies.geojson",
                   json.dumps(public_profile(fc, personal=personal), ensure_ascii=False, indent=1) + "\n")
        write_spot_check(public_spot_check(spot, personal), run_dir / "public" / "spot_check.csv", None)
        rights = {x.license_no: x for x in promises.rights}      # looked up once per mine below
        # the county layer is read once a night; its problems are logged once, never fail a report
        counties = county_outlines(promises.settings.report if promises.settings is not None else ReportSettings(),
                                   promises.rights)
        for w in counties.warnings:
            log.warning("report: %s", w)
        write_field_exports(fc, run_dir / "field", run_date.isoformat(),
                            {lic: x.boundary for lic, x in rights.items()})
        for r in results:
            plan = promises.plans.get(r.license_no)
            if plan is not None and (r.composite is not None or r.products is not None):
                write_report(r, plan, fc, run_dir / "reports" / f"{r.license_no}.html", run_date,
                             right=rights.get(r.license_no),
                             s=promises.settings, ledger=ledger, counties=counties, store=store)
        write_overview(fc, promises.rights, run_dir, run_date.isoformat(),
                       {r.license_no: img for r in results if (img := _overview_image(r)) is not None},
                       promises.settings.report.overview_image_max_px if promises.settings is not None else 1024)
        if ledger is not None:      # for the bureau: applications past the working-day limit
            write_acceptance_overdue(ledger.overdue, {x.license_no: x.mine_name for x in promises.rights},
                                     run_dir / "acceptance_overdue.csv")

    import pandas as pd
    frames = [r.series.assign(license_no=r.license_no) for r in results if r.series is not None]
    if frames:
        df = pd.concat(frames, ignore_index=True)
        write_text(run_dir / "unit_series.csv", spreadsheet_safe_frame(df).to_csv(index=False, float_format="%.4f"))
    unj = pd.DataFrame([asdict(u) for r in results for u in r.unjudged],
                       columns=["license_no", "unit", "reason", "reason_zh", "n_clear"])
    write_text(run_dir / "unjudged.csv", spreadsheet_safe_frame(unj).to_csv(index=False))

    from minewatch.promised.registry import RULE_PREFIX
    registry_findings = [asdict(f) for f in (promises.findings if promises else [])
                         if f.rule.startswith(RULE_PREFIX)]
    ledger_found = [asdict(f) for r in (promises.plan_results if promises else []) for f in r.findings
                    if f.rule in LEDGER_RULES]
    by_type: dict[str, int] = {}
    for a in anomalies:
        by_type[a.type] = by_type.get(a.type, 0) + 1
    summary = {
        "run_date": run_date.isoformat(), "plan_year": plan_year,
        "mines": len(results), "mines_failed": sum(1 for r in results if r.error),
        "scenes_read": sum(len(r.scenes) for r in results),
        "scenes": night_scenes(results),     # the ids the one-map's metadata lists as its lineage
        "anomalies": len(anomalies), "anomalies_by_type": dict(sorted(by_type.items())),
        "failures": [{"license_no": r.license_no, "mine_name": r.mine_name, "error": r.error}
                     for r in results if r.error],
        # the registry rows left out tonight; the key only when there are any, so a clean
        # registry's summary keeps its bytes
        **({"registry_findings": registry_findings} if registry_findings else {}),
        **({"ledger_findings": ledger_found} if ledger_found else {}),
        # what some mines were judged without (keys present only when something was: benign nights keep their bytes)
        **({"scenes_skipped": [{"license_no": r.license_no, "scene": sk.id, "reason": sk.reason}
                               for r in results for sk in r.scenes_skipped]}
           if any(r.scenes_skipped for r in results) else {}),
        # each judged mine's region, season window and threshold rows (TD/T 1036 regions, issue 14)
        **({"regions": {r.license_no: r.regional for r in results if r.regional}}
           if any(r.regional for r in results) else {}),
        **({"evidence_incomplete": [{"license_no": r.license_no, "reason": r.evidence_incomplete}
                                    for r in results if r.evidence_incomplete]}
           if any(r.evidence_incomplete for r in results) else {}),
        "outputs": sorted({str(p.relative_to(run_dir)) for p in run_dir.rglob("*")
                           if p.is_file() and not p.name.startswith(".")} | {"run_summary.json"}),
    }
    if promises is not None and promises.settings is not None:
        summary["mask_rules"] = mask_rules(promises.settings)
    if ledger is not None:
        summary["acceptance_overdue"] = len(ledger.overdue)
    acceptance_findings = [asdict(f) for f in (promises.findings if promises else [])
                           if f.rule.startswith(ACCEPTANCE_PREFIX)]
    if acceptance_findings:     # the acceptance lists' row findings and claims without a record
        summary["acceptance_findings"] = acceptance_findings
    unreadable = unreadable_files(promises.plan_results) if promises is not None else []
    if unreadable:        # plan files that gave no plan, and why (PLAN_UNREADABLE / plan check)
        summary["plan_files_unreadable"] = unreadable
    write_text(run_dir / "run_summary.json", json.dumps(summary, ensure_ascii=False, indent=1) + "\n")
    return summary


# what the lifecycle stamps on a finding each night and a report does not show
NIGHTLY_FIELDS = ("first_seen", "last_seen", "resolved_on", "unconfirmed_on", "unconfirmed_zh")


def write_mine_composites(r: MineResult, folder: Path, store: ProductStore | None = None) -> list[Path]:
    """The mine's season composites (COGs) into `folder`: rendered, or linked from `store`
    when an earlier night rendered the same arrays."""
    c = r.composite
    assert c is not None   # write_run writes only mines with a composite
    files = {f"{p}.tif": folder / f"{r.license_no}_{p}.tif" for p in (NDVI_MAX, MEDIAN)}

    def render() -> None:
        write_composites(folder, r.license_no, c.period, c.transform, c.epsg, c.ndvi_max, c.median, list(c.bands))
    if store is None:
        render()
    else:
        key = digest((r.license_no, c.period, tuple(c.transform), c.epsg, tuple(c.bands), c.ndvi_max, c.median),
                     COMPOSITE_CODE)
        store.place(r.license_no, "composites", key, files, render)
    return list(files.values())


def evidence_date(r: MineResult, run_date: date) -> date:
    """The date a mine's findings stand on: its latest scene's (the run date without a series)."""
    if r.series is None or r.series.empty:
        return run_date
    import pandas as pd
    return pd.Timestamp(r.series["datetime"].max()).date()


def mask_rules(s: Settings) -> dict:
    """The night's rules for what a pixel's date is not judged on (cloud, cloud shadow, snow and ice,
    terrain shadow) and how a cloudy season is widened: one entry of run_summary.json, so every
    flag's evidence can be read against the masks it was judged with (docs/assessment.md §4a)."""
    im, a = s.imagery, s.assess
    return {"scl_masked": list(im.mask_classes), "dilation_px": im.mask_dilation_px,
            "cloud_prob_max": im.cloud_prob_max,
            "snow": {"scl": list(im.snow_classes), "ndsi_min": im.ndsi_min, "nir_min": im.snow_nir_min,
                     "green_min": im.snow_green_min, "ice_green_min": im.ice_green_min},
            "terrain_shadow": {"scl": list(im.terrain_shadow_classes), "nir_max": im.dark_nir_max,
                               "visible_max": im.dark_visible_max, "ndwi_max": im.dark_ndwi_max},
            "season_widening": {"days": a.widen_days, "steps": a.widen_steps,
                                "min_clear_obs": a.min_clear_obs}}


def _report_timeline(ledger: LedgerView, license_no: str) -> dict:
    """The mine's part of the ledger, as MineReportData's timeline fields."""
    events = [e for e in ledger.events if e.license_no == license_no]
    uids = {e.unit_id for e in events}
    return {"timeline": events, "unit_states": {u: s for u, s in ledger.states.items() if u in uids},
            "timeline_fvc_min": {u: v for u, v in ledger.fvc_min.items() if u in uids}}


def write_report(r: MineResult, plan: AnnualPlan, fc: dict, path: Path, run_date: date,
                 right: MiningRight | None = None, s: Settings | None = None,
                 ledger: LedgerView | None = None, counties: CountyOutlines | None = None,
                 store: ProductStore | None = None) -> Path:
    """The inspector's per-mine report (and its PDF when `s.report.pdf`) from what the pipeline
    kept for it: the season window and clear-date rule from the night's settings, the
    licence boundary for the zone and corners, the ring's series from the unit series.

    Its header's date is the mine's latest scene date (`evidence_date`), not the night's, so a
    mine whose findings, their status and its ledger timeline did not change is not rendered
    again: with `store` the files an earlier night rendered from the same data are linked."""
    utm = r.units_utm or {}
    units = [ReportUnit(key=unit_key(u), section=u.section, seq=u.seq, geometry=utm[unit_key(u)],
                        land_class=u.land_class) for u in plan.units if unit_key(u) in utm]
    c = product_composite(r)
    assert c is not None   # write_run reports only mines with a composite
    notes = [f"季节合成影像 (COG, {c.period}): ../composites/{r.license_no}_ndvi_max.tif 生长季最大NDVI; "
             f"../composites/{r.license_no}_median.tif 生长季反射率中值 ({', '.join(c.bands)})"]
    a = s.assess if s is not None else None
    # the mine's window (its region's, or its own), as the rules used it
    window = (r.regional or {}).get("season")
    season = Season(*(date.fromisoformat(x) for x in window.split("/"))) if window else \
        Season.of(plan.plan_year, a.season_start, a.season_end) if a is not None else None
    mine = [{**f, "properties": {k: v for k, v in f["properties"].items() if k not in NIGHTLY_FIELDS}}
            for f in fc["features"] if f["properties"]["license_no"] == r.license_no]
    data = MineReportData.from_plan(
        plan, right, rgb=c.rgb, fvc=c.fvc, transform=c.transform, epsg=c.epsg, units=units,
        anomalies=mine, series=r.series, thresholds=r.thresholds,
        unjudged=[asdict(u) for u in r.unjudged], image_date=c.period, run_date=evidence_date(r, run_date),
        notes=notes, boundary=right.boundary if right is not None else None,
        season=(season.start, season.end) if season is not None else None,
        min_clear_fraction=a.min_clear_fraction if a is not None else 0.0,
        county_code=right.county_code if right is not None else "",
        before_rgb=c.baseline_rgb, after_rgb=c.rgb_reflectance, before_period=c.baseline_period,
        **(_report_timeline(ledger, r.license_no) if ledger is not None else {}))
    outline = counties.for_mine(right) if counties is not None and right is not None else None
    if outline is not None:        # the county's polygon and its name in the layer
        data.county_outline, data.county_name = outline.geometry, outline.name
    if s is not None:
        data.county_name = s.report.county_names.get(data.county_code, data.county_name)
        data.locator_frame_m, data.pair_margin_m = s.report.locator_frame_m, s.report.pair_margin_m
    pdf = bool(s is not None and s.report.pdf)
    timeout = s.report.pdf_timeout_s if s is not None else 120

    def render() -> Path:
        return render_report(data, path, pdf=pdf, pdf_timeout=timeout)
    if store is None:
        return render()
    files = {"report.html": path, **({"report.pdf": path.with_suffix(".pdf")} if pdf else {})}
    key = digest((data, pdf), REPORT_CODE)
    store.place(r.license_no, "report", key, files, render)
    return path
