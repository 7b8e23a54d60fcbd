"""Peak memory of one mine's judgement against its window size (issue 19 item 3).

    PYTHONPATH=src:. nice -n 10 python benchmarks/memory.py                  # 256, 1024 and 2048 px x 120 steps
    PYTHONPATH=src:. python benchmarks/memory.py --sizes 256 --steps 20      # quick

Per window size, one generated mine (the project's scene writer, `synth.scenes.write_scene`:
natural vegetation with phenology, clouds on some dates, a bare patch this season inside the
boundary and off the plan, a declared damage unit and a planned unit) of N x N px with
`--steps` dates over two seasons (`synth.scenarios.many_dates`), cached under `--data-dir`
(/tmp/minewatch-bench). Then, each in a fresh child process:

- **ingest**: `pipeline.load_pixels` fills a pixel store from the COGs (the first night's
  reads; its peak is the store's, `imagery.chunk_time` steps in flight);
- **judge**: `pipeline.process_mine` (the night's code: pixel store, evidence, rules,
  composites) on the filled store, the mine's peak RSS (VmHWM) the figure.

The last line of stdout is one JSON object with `peak_rss_mb_by_window_px` {"256", "1024",
"2048"} (judge) and `ingest_peak_rss_mb_by_window_px`, the chunk side `imagery.chunk_px`,
the flags found and the wall times.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PLAN_YEAR = 2026
AS_OF = date(2026, 11, 20)
RING_M = 600                 # grid_around's buffer: max(catalog.buffer_m, reference.outer_m)


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return math.nan


def _frame(n_px: int) -> tuple[int, float, float]:
    from minewatch.synth.scenarios import Frame
    fr = Frame.at(108.3, 36.0)
    return fr.epsg, fr.cx, fr.cy


def mine(n_px: int) -> tuple:
    """(right, plan): a square boundary whose window (boundary + RING_M) is n_px x n_px, a damage
    unit and a planned unit in it."""
    from shapely.geometry import box

    from minewatch.promised import coords
    from minewatch.promised.models import DAMAGE, PLANNED, AnnualPlan, MiningRight
    from minewatch.synth.sample import filed_unit
    epsg, cx, cy = _frame(n_px)
    hb = n_px * 5 - RING_M - 5         # 5 m inside: the window rounds out to exactly n_px

    def geo(r: tuple[float, float, float, float]):
        return coords.transform(box(cx + r[0] * hb, cy + r[1] * hb, cx + r[2] * hb, cy + r[3] * hb), epsg, 4490)

    right = MiningRight(license_no=f"C15062220260299{n_px:05d}", holder="内存基准矿业有限公司",
                        mine_name=f"内存基准{n_px}", valid_from=date(2021, 1, 1), valid_to=date(2031, 1, 1),
                        county_code="150622", boundary=geo((-1, -1, 1, 1)), mineral="煤", mining_method="露天开采")
    units = (filed_unit(DAMAGE, 1, geo((-0.6, 0.2, -0.2, 0.6)), damage_degree="重度", problem_type="挖损"),
             filed_unit(PLANNED, 1, geo((0.2, 0.2, 0.6, 0.6)), land_class="0305", measures="覆土、撒播草籽"))
    plan = AnnualPlan(plan_year=PLAN_YEAR, license_no=right.license_no, holder=right.holder,
                      mine_name=right.mine_name, validity="2021-01-01至2031-01-01", units=units)
    return right, plan


def _cells(n_px: int, r: tuple[float, float, float, float]) -> tuple[slice, slice]:
    """Pixel slices of a rectangle given in boundary half-widths, on the n_px window."""
    hb_px = (n_px * 5 - RING_M) / 10
    c = n_px / 2

    def px(v: float) -> int:
        return int(round(c + v * hb_px))
    return slice(px(-r[3]), px(-r[1])), slice(px(r[0]), px(r[2]))


def world(data_dir: Path, n_px: int, steps: int) -> list:
    """The mine's normalised items, its scenes written once (cached per size and generator)."""
    import pystac
    from scipy import ndimage

    from minewatch.sky import sources
    from minewatch.synth import scenarios, scenes
    gen = hashlib.sha256(Path(__file__).read_bytes().split(b"\n# -- end of world")[0]
                         + Path(scenes.__file__).read_bytes()).hexdigest()[:10]
    root = data_dir / f"memory-{n_px}x{steps}-{gen}"
    index = root / "items.jsonl"
    if not index.exists():
        epsg, cx, cy = _frame(n_px)
        half = n_px * 5
        f = ndimage.gaussian_filter(np.random.default_rng(7).standard_normal((n_px, n_px)), 10)
        peak = np.clip(0.62 + 0.06 * (f - f.mean()) / (f.std() + 1e-9), 0.5, 0.75).astype("float32")
        new_bare, planned = _cells(n_px, (-0.3, -0.7, 0.3, -0.3)), _cells(n_px, (0.2, 0.2, 0.6, 0.6))
        dmg_wide = _cells(n_px, (-0.7, 0.1, -0.1, 0.6))       # bare beyond the declared damage unit
        lines = []
        for j, d in enumerate(scenarios.many_dates(steps)):
            c = scenarios.climate(scenarios.BASE[0], d)
            fvc = (peak * c).astype("float32")
            bg = np.full(fvc.shape, scenes.SOIL, "uint8")
            fvc[dmg_wide] = 0.02
            bg[dmg_wide] = scenes.ROCK
            if d.year == PLAN_YEAR:
                fvc[new_bare] = 0.02                          # undeclared disturbance this season
                fvc[planned] = np.maximum(0.02, 0.75 * c * scenarios._ramp(d, date(PLAN_YEAR, 5, 1),
                                                                           date(PLAN_YEAR, 6, 30)))
            spec = scenes.SceneSpec(
                item_id=f"S2{'AB'[j % 2]}_49SBG_{d:%Y%m%d}_{n_px}_L2A",
                datetime=datetime(d.year, d.month, d.day, 3, 20, tzinfo=UTC), epsg=epsg,
                bounds=(cx - half, cy - half, cx + half, cy + half), mgrs_tile="49SBG",
                cloud_fraction=0.3 if j % 5 == 2 else 0.0, seed=n_px * 1000 + j)
            it = scenes.write_scene(root / "scenes", spec, np.clip(fvc, 0, 1), bg)
            lines.append(json.dumps(it.to_dict(transform_hrefs=False)))
            print(f"  {n_px} px: scene {j + 1}/{steps}", file=sys.stderr, flush=True)
        tmp = index.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tmp.rename(index)
    raw = [pystac.Item.from_dict(json.loads(line)) for line in index.read_text(encoding="utf-8").splitlines()]
    return sources.normalise_items(raw, "local")
# -- end of world (the cache key covers the code above)


def settings(chunk_time: int | None, chunk_px: int | None):
    from minewatch.config import load_settings
    s = load_settings(ROOT / "configs" / "sample.yaml")
    up = {k: v for k, v in (("chunk_time", chunk_time), ("chunk_px", chunk_px)) if v is not None}
    return s.model_copy(update={"imagery": s.imagery.model_copy(update=up)}) if up else s


def child(mode: str, data_dir: Path, n_px: int, steps: int, store_dir: Path, chunk_time: int | None,
          chunk_px: int | None) -> dict:
    """In this (fresh) process: ingest into, or judge from, the store at store_dir."""
    from minewatch import pipeline
    from minewatch.assess.thresholds import load_thresholds
    from minewatch.sky.pixels import PixelStore
    items = world(data_dir, n_px, steps)
    s = settings(chunk_time, chunk_px)
    right, plan = mine(n_px)
    store = PixelStore(store_dir)
    rss0 = peak_rss_mb()
    t0 = time.perf_counter()
    out: dict = {}
    if mode == "ingest":
        _, grid = pipeline.mine_grid(right, s)[1:]
        assert grid.shape == (n_px, n_px), grid.shape
        _, rep = pipeline.load_pixels(right.license_no, items, grid, s, store,
                                      keep_from=pipeline.search_start(s, PLAN_YEAR))
        out["steps_read"] = len(rep.read)
    else:
        res = pipeline.process_mine(right, plan, load_thresholds(s.assess.thresholds), s, AS_OF, PLAN_YEAR,
                                    items=items, pixels=store)
        assert res.error is None, res.error
        out.update(steps_read=res.steps_read, steps_stored=res.steps_stored,
                   flags=sorted(f"{a.type}:{a.area_hm2:.4f}" for a in res.anomalies + res.held_back))
    return {**out, "wall_s": round(time.perf_counter() - t0, 1), "rss_after_imports_mb": round(rss0),
            "peak_rss_mb": round(peak_rss_mb()), "steps": len(items)}


def _run_child(*args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    p = subprocess.run([sys.executable, __file__, *args], env=env, check=True, stdout=subprocess.PIPE,
                       text=True)
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="256,1024,2048", help="window sides, px")
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/minewatch-bench"))
    ap.add_argument("--chunk-time", type=int, default=None, help="imagery.chunk_time (default: the config's)")
    ap.add_argument("--chunk-px", type=int, default=None, help="imagery.chunk_px (default: the config's)")
    ap.add_argument("--child", nargs=4, metavar=("MODE", "N_PX", "STEPS", "STORE"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    ct, cp = a.chunk_time, a.chunk_px
    if a.child:
        mode, n, steps, store = a.child
        print(json.dumps(child(mode, a.data_dir, int(n), int(steps), Path(store), ct, cp)))
        return {}
    sizes = [int(v) for v in a.sizes.split(",")]
    extra = [*(["--chunk-time", str(ct)] if ct else []), *(["--chunk-px", str(cp)] if cp else [])]
    runs = {}
    for n in sizes:
        world(a.data_dir, n, a.steps)          # generated here, once, not in the measured children
        with tempfile.TemporaryDirectory(prefix="minewatch-memory-", dir=a.data_dir) as store:
            common = ["--data-dir", str(a.data_dir), *extra, "--child"]
            ing = _run_child(*common, "ingest", str(n), str(a.steps), store)
            jud = _run_child(*common, "judge", str(n), str(a.steps), store)
        runs[str(n)] = {"ingest": ing, "judge": jud}
        print(f"{n:>5} px x {a.steps} steps: judge peak {jud['peak_rss_mb']} MB in {jud['wall_s']} s "
              f"(ingest peak {ing['peak_rss_mb']} MB in {ing['wall_s']} s); flags {jud['flags']}", flush=True)
    s = settings(ct, cp)
    out = {"peak_rss_mb_by_window_px": {k: r["judge"]["peak_rss_mb"] for k, r in runs.items()},
           "ingest_peak_rss_mb_by_window_px": {k: r["ingest"]["peak_rss_mb"] for k, r in runs.items()},
           "steps": a.steps, "chunk_px": getattr(s.imagery, "chunk_px", None), "chunk_time": s.imagery.chunk_time,
           "store": "one Zarr group per mine (sky.pixels)", "runs": runs,
           "loadavg": [round(v, 2) for v in os.getloadavg()]}
    print(json.dumps(out, ensure_ascii=False))
    return out


if __name__ == "__main__":
    main()
