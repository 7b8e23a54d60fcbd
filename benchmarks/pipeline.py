"""Benchmark: the night's per-mine path, `job.run_mine`, against a plain rasterio + numpy script.

    PYTHONPATH=src:. python benchmarks/pipeline.py            # default: 12 mines x 40 steps, RSS at 10 and 100 mines
    PYTHONPATH=src:. python benchmarks/pipeline.py --quick    # tiny: 2 mines x 10 steps
    PYTHONPATH=src:. python benchmarks/pipeline.py --rss-1000 # also peak RSS at 1,000 mines (slow)

Mines: `synth.scenarios.write_many` (the labelled scenarios repeated over a field of mines,
each with its registry row, plan and scenes), cached under --data-dir, served by a real local
catalogue (`minewatch.localstac` on free loopback ports in a temp dir). Timed, interleaved:

- "job.run_mine (the night's per-mine path)": `job.run_mine` over every mine with a
  `job.ResultCache` in a fresh state folder (first night, T-1 steps loaded);
- "plain rasterio+numpy": per mine, the same scenes (scene-level cloud filter as the search),
  the same 7 bands read with rasterio windowed reads over the same window, the clear mask
  (SCL classes, dilation), NDVI/FVC means per unit and date over clear pixels, and the
  per-pixel same-season NDVI loss test against the baseline season; 1 and 2 threads, the
  best counts. It does less than the night (no STAC search, reference ring, water share,
  composites or rules): it is the bar.

Then, on the last first night's state: one new scene per mine added to the catalogue (the
next night), the same date again and a new run date with no new scene (`no_new_fraction`:
what a real next night with nothing new is). Each later night writes the run folder too
(`job.write_run`: reports and composites linked from the product store when unchanged), timed
apart. `prefect_overhead_s`: `minewatch run` (CLI, Prefect flow) on a registry of zero mines,
its fixed start-up. Peak RSS (VmHWM) of a child process running the night over 10 and 100
mines with --rss-steps steps. Readable figures first, ONE JSON line last.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import rasterio
import shapely
from pyproj import Transformer
from rasterio.features import rasterize
from rasterio.windows import Window
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]
RSS_START = 200          # the RSS worlds' first mine index: apart from the timed world's mines


# ------------------------------------------------------------------------------ the world

def world(data_dir: Path, n_mines: int, steps: int, start: int = 0, workers: int = 2) -> tuple[Path, dict]:
    """`write_many`'s mines, cached per size and per version of the generator's source."""
    import hashlib

    from minewatch.synth import scenarios, scenes
    src = Path(scenarios.__file__).read_bytes() + Path(scenes.__file__).read_bytes()
    root = Path(data_dir) / f"many-{start}-{n_mines}x{steps}-{hashlib.sha256(src).hexdigest()[:10]}"
    return root, scenarios.write_many(root, n_mines, steps, start=start, workers=workers)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclasses.dataclass(frozen=True)
class Catalogue:
    url: str
    data_dir: Path
    pg_port: int

    def add(self, items: list, folder: Path) -> int:
        """Write `items` as a catalogue folder and upsert it into the running catalogue."""
        from minewatch import localstac
        from minewatch.synth import scenes
        scenes.write_collection(folder, items)
        return localstac.load(folder, self.data_dir, pg_port=self.pg_port)


@contextmanager
def catalogue():
    """A local catalogue on free loopback ports in a temp dir (as tests/conftest.py), stopped after."""
    from minewatch import localstac
    data_dir = Path(tempfile.mkdtemp(prefix="minewatch-bench-stac-"))
    data_dir.chmod(0o755)        # postgres runs as `postgres`
    pg = _free_port()
    try:
        yield Catalogue(localstac.up(data_dir, pg_port=pg, api_port=_free_port()), data_dir, pg)
    finally:
        localstac.down(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


def settings_for(root: Path, url: str, out_dir: Path):
    """configs/sample.yaml pointed at the world's registry and plans and at the catalogue."""
    from minewatch.config import load_settings
    s = load_settings(ROOT / "configs" / "sample.yaml")
    return s.model_copy(update={"registry": root / "registry.csv", "plans": root / "plans", "output_dir": out_dir,
                                "catalog": s.catalog.model_copy(update={"url": url}),
                                # the sample's acceptance list is not this world's
                                "ledger": s.ledger.model_copy(update={"acceptance": None})})


# ------------------------------------------------------------------------------ minewatch

def night(promises, s, as_of: date, state: Path, plan_year: int) -> tuple[float, dict]:
    """job.run_mine over every mine, one after the other, as the flow calls it per mine."""
    from minewatch import job
    cache = job.ResultCache(state)
    t = time.perf_counter()
    out = {r.license_no: job.run_mine(r, promises, s, as_of, plan_year, cache=cache) for r in promises.rights}
    wall = time.perf_counter() - t
    failed = {k: r.error for k, r in out.items() if r.error}
    if failed:
        raise RuntimeError(f"mines failed: {failed}")
    return wall, out


def minewatch_means(results: dict) -> dict:
    """(licence, unit, item id) -> (clear px, NDVI mean, FVC mean) from the night's series."""
    out = {}
    for lic, r in results.items():
        df = r.series[r.series.unit != "reference"]
        for u, i, n, nd, fv in zip(df.unit, df.item_id, df.clear_px, df.ndvi_mean, df.fvc_mean):
            out[(lic, str(u), str(i))] = (float(n), float(nd), float(fv))
    return out


# ------------------------------------------------------------------------------ plain

BANDS = ("blue", "green", "red", "nir", "swir16", "swir22", "scl")


@dataclasses.dataclass(frozen=True)
class PlainMine:
    license_no: str
    boundary: object           # shapely, EPSG:4490
    units: dict                # unit key -> shapely, EPSG:4490
    scenes: list               # (id, datetime, DN offset, {band: href}), date order


def plain_inputs(promises, items_by_lic: dict, s, as_of: date, plan_year: int) -> list[PlainMine]:
    """What each mine is judged on, from the world's own items (no catalogue): the scenes up to
    as_of from the baseline year on, under the scene-level cloud-cover limit."""
    first = date(plan_year - s.assess.disturbance.baseline_years, 1, 1)
    out = []
    for r in promises.rights:
        plan = promises.plans.get(r.license_no)
        scenes = []
        for it in items_by_lic[r.license_no]:
            p = it.properties
            if not first <= it.datetime.date() <= as_of or p["eo:cloud_cover"] > s.catalog.max_cloud_cover:
                continue
            base = tuple(int(x) for x in p["s2:processing_baseline"].split("."))
            off = 1000.0 if base >= (4, 0) and not p.get("earthsearch:boa_offset_applied") else 0.0
            scenes.append((it.id, it.datetime, off, {b: it.assets[b].href for b in BANDS}))
        units = {f"{u.section}:{u.seq}": u.geometry for u in (plan.units if plan else ())}
        out.append(PlainMine(r.license_no, r.boundary, units, scenes))
    return out


def _read(ds, minx: float, maxy: float, h: int, w: int, res: float) -> np.ndarray:
    """The (h, w) 10 m window at (minx, maxy) of one band; 20 m bands replicated 2x2 (nearest);
    0 (no data) outside the file."""
    step = round(ds.res[0] / res)
    c, r = (minx - ds.transform.c) / ds.res[0], (ds.transform.f - maxy) / ds.res[0]
    c0, r0 = math.floor(c), math.floor(r)
    c1, r1 = math.ceil(c + w / step), math.ceil(r + h / step)
    out = np.zeros((r1 - r0, c1 - c0), ds.dtypes[0])
    a0, b0, a1, b1 = max(c0, 0), max(r0, 0), min(c1, ds.width), min(r1, ds.height)
    if a1 > a0 and b1 > b0:
        out[b0 - r0:b1 - r0, a0 - c0:a1 - c0] = ds.read(1, window=Window(a0, b0, a1 - a0, b1 - b0))
    if step > 1:
        dx, dy = round((c - c0) * step), round((r - r0) * step)
        out = out.repeat(step, 0).repeat(step, 1)[dy:dy + h, dx:dx + w]
    return out


def plain_mine(m: PlainMine, s, plan_year: int) -> dict:
    """One mine with rasterio and numpy: per-unit means per scene and the loss test's pixels."""
    im, ix, dist = s.imagery, s.indices, s.assess.disturbance
    c = m.boundary.centroid
    epsg = 32600 + int((c.x + 180) // 6) % 60 + 1
    tr = Transformer.from_crs(4490, epsg, always_xy=True)
    utm = {k: shapely.transform(g, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
           for k, g in {"boundary": m.boundary, **m.units}.items()}
    res = im.resolution
    pad = max(s.catalog.buffer_m, s.assess.reference.outer_m if s.assess.reference.enabled else 0.0)
    x0, y0, x1, y1 = utm.pop("boundary").buffer(pad).bounds
    minx, miny, maxx, maxy = (math.floor(x0 / res) * res, math.floor(y0 / res) * res,
                              math.ceil(x1 / res) * res, math.ceil(y1 / res) * res)
    h, w = round((maxy - miny) / res), round((maxx - minx) / res)
    transform = rasterio.Affine(res, 0, minx, 0, -res, maxy)
    masks = {k: rasterize([(g, 1)], out_shape=(h, w), transform=transform, dtype="uint8").astype(bool)
             for k, g in utm.items()}
    bad_class = np.zeros(256, bool)
    bad_class[list(im.mask_classes)] = True
    cross = ndimage.generate_binary_structure(2, 1)
    ndvi_all = np.empty((len(m.scenes), h, w), np.float32)
    clear_all = np.empty((len(m.scenes), h, w), bool)
    means = {}
    with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"):
        for t, (iid, _, off, hrefs) in enumerate(m.scenes):
            dn = {}
            for b in BANDS:
                with rasterio.open(hrefs[b]) as ds:
                    a = _read(ds, minx, maxy, h, w, res).astype(np.float32)
                a[a == 0] = np.nan
                dn[b] = a
            red, nir = ((dn[b] - np.float32(off)) / np.float32(10000.0) for b in ("red", "nir"))
            scl = dn["scl"]
            bad = np.isnan(scl) | bad_class[np.nan_to_num(scl).astype(np.uint8)]
            clear = ~ndimage.binary_dilation(bad, structure=cross, iterations=im.mask_dilation_px)
            ndvi = (nir - red) / (nir + red)
            fvc = np.clip((ndvi - np.float32(ix.ndvi_soil)) / np.float32(ix.ndvi_veg - ix.ndvi_soil), 0, 1)
            ok = clear & ~np.isnan(ndvi)
            for k, mk in masks.items():
                v = ok & mk
                n = int(v.sum())
                means[(m.license_no, k, iid)] = (float(n), float(ndvi[v].sum(dtype=np.float64) / n) if n else math.nan,
                                                 float(fvc[v].sum(dtype=np.float64) / n) if n else math.nan)
            ndvi_all[t], clear_all[t] = ndvi, clear
    # the same season of the baseline year against this one, pixel by pixel
    days = [d.date() for _, d, _, _ in m.scenes]
    a = s.assess
    def season(y):
        lo, hi = (date(y, *map(int, x.split("-"))) for x in (a.season_start, a.season_end))
        return np.array([lo <= d <= hi for d in days], bool)
    cur, base_t = season(plan_year), np.zeros(len(days), bool)
    for k in range(1, dist.baseline_years + 1):
        base_t |= season(plan_year - k)
    confirmed = 0
    if cur.any() and base_t.any():
        seen = np.where(clear_all[base_t], ndvi_all[base_t], np.nan)
        some = np.isfinite(seen).any(0)      # median only there: no All-NaN warning (thread-safe)
        base = np.full((h, w), np.nan, np.float32)
        base[some] = np.nanmedian(seen[:, some], axis=0)
        nd, cl = ndvi_all[cur], clear_all[cur] & np.isfinite(ndvi_all[cur])
        loss = cl & (nd <= dist.bare_ndvi) & ((base[None] - nd) >= dist.ndvi_drop)
        n_loss, n_ok = loss.sum(0), cl.sum(0)
        confirmed = int(((n_loss >= dist.min_clear_obs) & (2 * n_loss >= n_ok) & np.isfinite(base)).sum())
    return {"means": means, "loss_px": confirmed}


def plain_night(mines: list[PlainMine], s, plan_year: int, threads: int) -> tuple[float, dict]:
    t = time.perf_counter()
    with ThreadPoolExecutor(threads) as ex:
        out = list(ex.map(lambda m: plain_mine(m, s, plan_year), mines))
    wall = time.perf_counter() - t
    return wall, {k: v for r in out for k, v in r["means"].items()}


def max_mean_diff(a: dict, b: dict) -> tuple[float, int]:
    """Largest |difference| of the NDVI and FVC means, and over how many rows; ValueError if
    the (licence, unit, scene) rows, the clear-pixel counts or the rows with none disagree."""
    if a.keys() != b.keys():
        raise ValueError(f"rows only on one side: {sorted(a.keys() ^ b.keys())[:5]}")
    worst, rows = 0.0, 0
    for k, (na, *va) in a.items():
        nb, *vb = b[k]
        if na != nb:
            raise ValueError(f"{k}: clear pixels {na} vs {nb}")
        for x, y in zip(va, vb):
            if math.isnan(x) != math.isnan(y):
                raise ValueError(f"{k}: {va} vs {vb}")
            if not math.isnan(x):
                worst = max(worst, abs(x - y))
        rows += 1
    return worst, rows


# ------------------------------------------------------------------------------ memory

def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return math.nan


def subset(root: Path, n: int, dst: Path) -> Path:
    """The world's first n mines as a registry and plans folder of their own."""
    from minewatch.promised.registry import read_registry, write_registry_csv
    rights = read_registry(root / "registry.csv").rights[:n]
    (dst / "plans").mkdir(parents=True, exist_ok=True)
    write_registry_csv(rights, dst / "registry.csv")
    for r in rights:
        for p in (root / "plans").glob(f"{r.license_no}_*.xlsx"):
            (dst / "plans" / p.name).symlink_to(p)
    return dst


def rss_child(root: Path, url: str, plan_year: int, as_of: date) -> dict:
    """In a fresh process: the night over the world at root; its peak RSS."""
    from minewatch import job
    with tempfile.TemporaryDirectory() as tmp:
        s = settings_for(root, url, Path(tmp) / "out")
        rss0 = peak_rss_mb()
        promises = job.load_promises(s, plan_year)
        wall, _ = night(promises, s, as_of, Path(tmp) / "state", plan_year)
    return {"mines": len(promises.rights), "wall_s": round(wall, 2), "rss_after_imports_mb": round(rss0),
            "peak_rss_mb": round(peak_rss_mb())}


def rss_sweep(cat: Catalogue, root: Path, sizes: list[int], tmp: Path) -> dict:
    """Each size's night in a fresh child process (`--rss-child`): its peak is its own."""
    out = {}
    for n in sizes:
        sub = subset(root, n, tmp / f"rss-{n}")
        cmd = [sys.executable, str(Path(__file__).resolve()), "--rss-child", str(sub), "--url", cat.url]
        r = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy(), check=False)
        if r.returncode != 0:
            raise RuntimeError(f"RSS run at {n} mines failed:\n{r.stderr[-3000:]}")
        out[str(n)] = json.loads(r.stdout.strip().splitlines()[-1])
    return out


# ------------------------------------------------------------------------------ the nights

def first_nights(promises, plain_in: list[PlainMine], s, as_of: date, plan_year: int, repeats: int,
                 tmp: Path) -> dict:
    """Plain on 1 and 2 threads and minewatch's first night, interleaved `repeats` times; medians,
    the last state folder and both paths' per-unit means of the last repeat."""
    one = dataclasses.replace(promises, rights=promises.rights[:1])    # warm imports, GDAL, page cache
    night(one, s, as_of, tmp / "warm", plan_year)
    plain_night(plain_in[:1], s, plan_year, 1)
    times: dict[str, list[float]] = {"plain_1": [], "plain_2": [], "first": []}
    load = []
    for r in range(repeats):                  # plain, minewatch, plain, minewatch ...
        load.append(round(os.getloadavg()[0], 1))
        for th in (1, 2):
            w, plain = plain_night(plain_in, s, plan_year, th)
            times[f"plain_{th}"].append(w)
        w, first = night(promises, s, as_of, tmp / f"state{r}", plan_year)
        times["first"].append(w)
    med = {k: float(np.median(v)) for k, v in times.items()}
    return {"med": med, "load": load, "state": tmp / f"state{repeats - 1}", "plain": plain,
            "minewatch": minewatch_means(first)}


def write_outputs(promises, results: dict, as_of: date, plan_year: int, out: Path) -> tuple[float, dict]:
    """job.write_run over the night's results into `out` (its product store in out/state)."""
    from minewatch import job
    t = time.perf_counter()
    summary = job.write_run(list(results.values()), out, as_of, plan_year, promises)
    return time.perf_counter() - t, summary


def later_nights(cat: Catalogue, promises, new_items: list, s, as_of: date, plan_year: int, state: Path,
                 tmp: Path) -> dict:
    """On the first night's state: one new scene per mine (next night), the same date again (no
    new scene) and a new run date with no new scene; each night's run folder written, timed
    apart (the first night's too, so the next ones find its products)."""
    out = tmp / "out-later"
    _, base = night(promises, s, as_of, state, plan_year)      # reused: the first night's results
    day2 = as_of + timedelta(days=1)
    write0, _ = write_outputs(promises, base, as_of, plan_year, out)
    cat.add(new_items, tmp / "cat-new")
    w_next, nxt = night(promises, s, day2, state, plan_year)
    write_next, _ = write_outputs(promises, nxt, day2, plan_year, out)
    w_same, same = night(promises, s, day2, state, plan_year)
    day3 = day2 + timedelta(days=1)
    w_date, dated = night(promises, s, day3, state, plan_year)
    write_date, summary = write_outputs(promises, dated, day3, plan_year, out)
    return {"next_s": w_next, "same_s": w_same, "date_s": w_date, "reused": sum(r.reused for r in same.values()),
            "reused_new_date": sum(r.reused for r in dated.values()),
            "next_steps_read": sum(r.steps_read for r in nxt.values()),
            "write_first_s": write0, "write_next_s": write_next, "write_new_date_s": write_date,
            "products_rendered_new_date": summary["products_rendered"],
            "products_linked_new_date": summary["products_linked"]}


def prefect_overhead(root: Path, url: str, tmp: Path, as_of: date) -> float:
    """Wall seconds of `minewatch run` (a fresh process: imports, Prefect, the flow, the run
    folder) over a registry of zero mines: the fixed cost every night pays apart from its mines."""
    import yaml
    empty = subset(root, 0, tmp / "prefect-0")
    raw = yaml.safe_load((ROOT / "configs" / "sample.yaml").read_text(encoding="utf-8"))
    raw.update(registry=str(empty / "registry.csv"), plans=str(empty / "plans"), output_dir=str(tmp / "prefect-out"))
    raw["catalog"]["url"] = url
    raw["assess"]["thresholds"] = str(ROOT / "configs" / "thresholds.yaml")
    raw["ledger"]["acceptance"] = None
    raw.pop("local_catalog", None)
    cfg = tmp / "prefect-0.yaml"
    cfg.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    t = time.perf_counter()
    cmd = [sys.executable, "-m", "minewatch.cli", "run", "--config", str(cfg), "--date", as_of.isoformat()]
    r = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy(), cwd=ROOT, check=False)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        raise RuntimeError(f"minewatch run on zero mines failed:\n{r.stdout[-2000:]}{r.stderr[-3000:]}")
    return wall


def figures(f: dict, later: dict, rss: dict, ms: int, args, prefect_s: float | None = None) -> dict:
    """The JSON line's `night` object."""
    med = f["med"]
    best = min(("plain_1", "plain_2"), key=med.get)
    diff, rows = max_mean_diff(f["minewatch"], f["plain"])
    if not rows or diff > 1e-4:
        raise AssertionError(f"minewatch and plain per-unit means differ by {diff} over {rows} rows")
    key = min(k for k, v in f["plain"].items() if v[0] > 0)
    first = med["first"]
    return {
        "first_ratio_vs_plain": round(first / med[best], 3),
        "next_night_fraction": round(later["next_s"] / first, 4),
        # a new run date with no new scene: what a real next night with nothing new is
        "no_new_fraction": round(later["date_s"] / first, 4),
        "no_new_same_date_fraction": round(later["same_s"] / first, 4),
        "steps": args.steps, "mines": args.mines, "repeats": args.repeats,
        "prefect_overhead_s": round(prefect_s, 2) if prefect_s is not None else None,
        "peak_rss_mb_by_mines": {n: v["peak_rss_mb"] for n, v in rss.items()}, "rss_steps": args.rss_steps,
        # measured by the other parts of issue 19's benchmark (window sizes, the cluster): null here
        "peak_rss_mb_by_window_px": None, "scaleout_speedup_2_workers": None,
        "rss_runs": rss, "first_night_s": round(first, 2), "next_night_s": round(later["next_s"], 2),
        "no_new_s": round(later["same_s"], 3), "no_new_new_date_s": round(later["date_s"], 2),
        "plain_s": {"1": round(med["plain_1"], 2), "2": round(med["plain_2"], 2)}, "best_plain_threads": int(best[-1]),
        "mine_scenes": ms,
        "mine_scenes_per_s": {"job.run_mine": round(ms / first, 1), "plain": round(ms / med[best], 1)},
        "reused_no_new": later["reused"], "reused_no_new_new_date": later["reused_new_date"],
        "next_night_steps_read": later["next_steps_read"],
        "write_run_s": {"first": round(later["write_first_s"], 2), "next": round(later["write_next_s"], 2),
                        "no_new_new_date": round(later["write_new_date_s"], 2)},
        "products_new_date": {"rendered": later["products_rendered_new_date"],
                              "linked": later["products_linked_new_date"]},
        "max_abs_mean_diff": diff, "rows_compared": rows,
        "check": {"license_no": key[0], "unit": key[1], "item_id": key[2], "minewatch": f["minewatch"][key],
                  "plain": f["plain"][key]},
    }


def print_figures(n: dict) -> None:
    p, first, T = n["plain_s"], n["first_night_s"], n["steps"]
    print(f"\n  code path                                      wall s  mine-scenes/s   (median of {n['repeats']})")
    for th in ("1", "2"):
        print(f"  plain rasterio+numpy, {th} thread(s)            {p[th]:8.2f} {n['mine_scenes'] / p[th]:12.1f}")
    print(f"  job.run_mine (the night's per-mine path)     {first:8.2f} {n['mine_scenes'] / first:12.1f}"
          f"   first night, empty state")
    print(f"  first night / best plain ({n['best_plain_threads']} thread(s)): {n['first_ratio_vs_plain']:.2f}")
    print(f"  job.run_mine, next night, 1 new scene of {T}: {n['next_night_s']:7.2f} s = "
          f"{n['next_night_fraction']:.1%} of the first night")
    print(f"  job.run_mine, no new scene, same date:      {n['no_new_s']:7.2f} s = "
          f"{n['no_new_same_date_fraction']:.1%} ({n['reused_no_new']} of {n['mines']} results reused)")
    print(f"  job.run_mine, no new scene, new run date:   {n['no_new_new_date_s']:7.2f} s = "
          f"{n['no_new_fraction']:.1%} ({n['reused_no_new_new_date']} of {n['mines']} results reused)")
    w, pr = n["write_run_s"], n["products_new_date"]
    print(f"  job.write_run (run folder), first / next / new date with nothing new: {w['first']:.2f} / "
          f"{w['next']:.2f} / {w['no_new_new_date']:.2f} s ({pr['rendered']} products rendered, "
          f"{pr['linked']} linked on the new date)")
    if n["prefect_overhead_s"] is not None:
        print(f"  minewatch run (Prefect) on zero mines: {n['prefect_overhead_s']:.2f} s (fixed start-up, apart)")
    print(f"  per-unit NDVI/FVC means, minewatch vs plain: max |difference| {n['max_abs_mean_diff']:.2e} over "
          f"{n['rows_compared']} rows; clear-pixel counts equal")
    for k, v in n["rss_runs"].items():
        print(f"  peak RSS, night over {k:>4} mines x {n['rss_steps']} steps (child process): {v['peak_rss_mb']} MB "
              f"(after imports {v['rss_after_imports_mb']} MB; {v['wall_s']} s)")


# ------------------------------------------------------------------------------ main

def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description="job.run_mine against plain rasterio + numpy (module docstring)")
    ap.add_argument("--mines", type=int, default=12)
    ap.add_argument("--steps", type=int, default=40, help="time steps T per mine (the first night sees T-1)")
    ap.add_argument("--repeats", type=int, default=2, help="interleaved first nights and plain runs; medians")
    ap.add_argument("--rss-mines", default="10,100", help="mine counts of the RSS runs, comma-separated")
    ap.add_argument("--rss-steps", type=int, default=4)
    ap.add_argument("--rss-1000", action="store_true", help="also the RSS run at 1,000 mines (slow to generate)")
    ap.add_argument("--quick", action="store_true", help="tiny run: 2 mines x 10 steps, 1 repeat, RSS at 2 and 3 mines")
    ap.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "minewatch-bench")
    ap.add_argument("--workers", type=int, default=2, help="processes generating the scenes")
    ap.add_argument("--rss-child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    from minewatch import job
    from minewatch.synth import scenarios
    plan_year, as_of = scenarios.PY, date(scenarios.PY, 11, 20)
    if args.rss_child:
        print(json.dumps(rss_child(args.rss_child, args.url, plan_year, as_of)))
        return {}
    if args.quick:
        args.mines, args.steps, args.repeats, args.rss_mines, args.rss_steps = 2, 10, 1, "2,3", 3
    if args.mines > RSS_START:
        raise SystemExit(f"--mines must be at most {RSS_START} (the RSS worlds start there)")
    sizes = [int(x) for x in args.rss_mines.split(",") if x.strip()] + ([1000] if args.rss_1000 else [])

    t_all = time.perf_counter()
    root, items = world(args.data_dir, args.mines, args.steps, workers=args.workers)
    rss_root, rss_items = world(args.data_dir, max(sizes), args.rss_steps, start=RSS_START, workers=args.workers)
    gen_s = time.perf_counter() - t_all
    print(f"minewatch benchmark: {args.mines} mines x {args.steps} steps (first night {args.steps - 1}), scenes of "
          f"{2 * scenarios.HALF_M // 10} px square, one per mine and date; world {root} (ready in {gen_s:.0f}s, "
          f"not timed)\n  {os.cpu_count()} CPUs, load avg {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    with catalogue() as cat, tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cat.add([it for v in items.values() for it in v[:-1]], tmp / "cat-first")
        cat.add([it for v in rss_items.values() for it in v], tmp / "cat-rss")
        s = settings_for(root, cat.url, tmp / "out")
        promises = job.load_promises(s, plan_year)
        plain_in = plain_inputs(promises, {k: v[:-1] for k, v in items.items()}, s, as_of, plan_year)
        f = first_nights(promises, plain_in, s, as_of, plan_year, args.repeats, tmp)
        later = later_nights(cat, promises, [v[-1] for v in items.values()], s, as_of, plan_year, f["state"], tmp)
        rss = rss_sweep(cat, rss_root, sizes, tmp)
        prefect_s = prefect_overhead(root, cat.url, tmp, as_of)
    n = figures(f, later, rss, sum(len(m.scenes) for m in plain_in), args, prefect_s)
    print_figures(n)
    res = {"night": n, "load_avg": f["load"], "cpus": os.cpu_count(), "generated_s": round(gen_s, 1),
           "wall_s": round(time.perf_counter() - t_all, 1)}
    print(json.dumps(res))
    return res


if __name__ == "__main__":
    main()
