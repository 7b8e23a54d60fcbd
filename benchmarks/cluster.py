"""Benchmark: the night's mines as tasks on a `distributed.LocalCluster` of 1 and of 2 workers.

    PYTHONPATH=src:. python benchmarks/cluster.py              # 12 mines x 40 steps, 2 repeats
    PYTHONPATH=src:. python benchmarks/cluster.py --quick      # 4 mines x 10 steps, 1 repeat

Mines: `synth.scenarios.write_many` as benchmarks/pipeline.py makes them (cached under
--data-dir), served by a real local catalogue. Two clusters stay up for the whole run, one of
1 and one of 2 single-threaded worker processes (`n_workers`, `threads_per_worker=1`,
`processes=True`); their imports are warmed before any timing. Each timed night is a first
night in a fresh state folder: every mine goes, as the flow's per-mine task sends it, through
`ops.run_on_cluster(client, job.run_mine_on_worker, ...)` with as many mines in flight as the
cluster has worker threads (the flow's `run.max_concurrent_mines`), and the promises scattered
once. Interleaved (1 worker, 2 workers) `--repeats` times; medians.

Each LocalCluster is made in a child process of its own (it prints its scheduler's address),
as a cluster's scheduler runs apart from the flow in production: the flow process's CPU
(`resource.getrusage`, every thread: the mine tasks' threads and the Client's) is then the
flow's alone, beside the worker processes' and the scheduler's (psutil, user + system).
With `--write-run`, `write_run` (the run folder, reports included) is timed apart after the
last night: until the report moves to the worker it is drawn in the flow process.
Readable figures first, ONE JSON line last: {"night": {"scaleout_speedup_2_workers", ...}}.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.pipeline import catalogue, settings_for, world  # noqa: E402


def _cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _cpu_of(pids: list[int]) -> float:
    import psutil
    return sum(sum(psutil.Process(p).cpu_times()[:2]) for p in pids)


_CLUSTER_CHILD = """
import sys
from distributed import LocalCluster
c = LocalCluster(n_workers=int(sys.argv[1]), threads_per_worker=1, processes=True, dashboard_address=None,
                 scheduler_kwargs={"dashboard": False})
print(c.scheduler_address, flush=True)
sys.stdin.read()          # up until the benchmark closes our stdin
c.close()
"""


@contextmanager
def local_cluster(n_workers: int) -> Iterator[tuple[str, int]]:
    """A LocalCluster of `n_workers` single-threaded worker processes in a child process: its
    scheduler's address and the child's pid (the scheduler's CPU)."""
    proc = subprocess.Popen([sys.executable, "-c", _CLUSTER_CHILD, str(n_workers)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip(), proc.pid
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=120)


def _warm() -> int:
    """Imports a mine needs, loaded before the clock starts (a worker's first mine pays them)."""
    import minewatch.job  # noqa: F401
    import minewatch.outputs.overview  # noqa: F401
    return os.getpid()


def cluster_night(client, pids: list[int], scheduler_pid: int, promises, s, as_of: date, plan_year: int,
                  state: Path) -> dict:
    """Every mine through ops.run_on_cluster, as many in flight as the cluster has threads."""
    from minewatch import job, ops
    in_flight = sum(client.nthreads().values())
    shared = ops.scattered(client, promises)

    def one(right):
        return ops.run_on_cluster(client, job.run_mine_on_worker, right, shared, s, as_of, plan_year, str(state),
                                  name=f"mine-{right.license_no}")

    cpu0, wcpu0, scpu0, t0 = _cpu_self(), _cpu_of(pids), _cpu_of([scheduler_pid]), time.perf_counter()
    with ThreadPoolExecutor(in_flight) as pool:
        results = list(pool.map(one, promises.rights))
    wall = time.perf_counter() - t0
    out = {"wall_s": wall, "driver_cpu_s": _cpu_self() - cpu0, "workers_cpu_s": _cpu_of(pids) - wcpu0,
           "scheduler_cpu_s": _cpu_of([scheduler_pid]) - scpu0, "results": results}
    failed = {r.license_no: r.error for r in results if r.error}
    if failed:
        raise RuntimeError(f"mines failed: {failed}")
    if any(r.composite is not None for r in results):
        raise RuntimeError("a composite came back to the flow process")
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description="mines on a LocalCluster of 1 and 2 workers (module docstring)")
    ap.add_argument("--mines", type=int, default=12)
    ap.add_argument("--steps", type=int, default=40, help="time steps per mine (all loaded: a first night)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="4 mines x 10 steps, 1 repeat")
    ap.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "minewatch-bench")
    ap.add_argument("--workers", type=int, default=2, help="processes generating the scenes")
    ap.add_argument("--write-run", action="store_true", help="also time write_run after the last night")
    args = ap.parse_args(argv)
    if args.quick:
        args.mines, args.steps, args.repeats = 4, 10, 1
    from minewatch import job, ops
    from minewatch.synth import scenarios
    plan_year, as_of = scenarios.PY, date(scenarios.PY, 11, 20)

    t_all = time.perf_counter()
    root, items = world(args.data_dir, args.mines, args.steps, workers=args.workers)
    print(f"minewatch cluster benchmark: {args.mines} mines x {args.steps} steps, {os.cpu_count()} CPUs, "
          f"load avg {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    runs: dict[int, list[dict]] = {1: [], 2: []}
    load = []
    with catalogue() as cat, tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cat.add([it for v in items.values() for it in v], tmp / "cat")
        s = settings_for(root, cat.url, tmp / "out")
        s = s.model_copy(update={"report": s.report.model_copy(update={"pdf": False})})
        promises = job.load_promises(s, plan_year)
        with local_cluster(1) as one, local_cluster(2) as two:
            for k in range(args.repeats):
                for n, (address, scheduler_pid) in ((1, one), (2, two)):
                    with ops.dask_client(address) as client:
                        pids = list(client.run(_warm).values())
                        r = cluster_night(client, pids, scheduler_pid, promises, s, as_of, plan_year,
                                          tmp / f"state-{n}-{k}")
                    load.append(round(os.getloadavg()[0], 1))
                    runs[n].append(r)
                    print(f"  {n} worker(s), night {k + 1}: {r['wall_s']:.1f} s wall, flow process CPU "
                          f"{r['driver_cpu_s']:.2f} s, workers' CPU {r['workers_cpu_s']:.1f} s, scheduler's "
                          f"{r['scheduler_cpu_s']:.2f} s", flush=True)
        write_s = write_cpu = None
        if args.write_run:
            t0, cpu0 = time.perf_counter(), _cpu_self()
            job.write_run(runs[2][-1]["results"], tmp / "out", as_of, plan_year, promises)
            write_s, write_cpu = round(time.perf_counter() - t0, 2), round(_cpu_self() - cpu0, 2)

    def med(n: int, key: str) -> float:
        return statistics.median(r[key] for r in runs[n])

    night = {
        "mines": args.mines, "steps": args.steps, "repeats": args.repeats,
        "wall_s_1_worker": round(med(1, "wall_s"), 2), "wall_s_2_workers": round(med(2, "wall_s"), 2),
        "scaleout_speedup_2_workers": round(med(1, "wall_s") / med(2, "wall_s"), 3),
        "driver_cpu_s_2_workers": round(med(2, "driver_cpu_s"), 2),
        "workers_cpu_s_2_workers": round(med(2, "workers_cpu_s"), 2),
        "driver_cpu_fraction_of_workers": round(med(2, "driver_cpu_s") / med(2, "workers_cpu_s"), 4),
        "driver_cpu_fraction_of_workers_1_worker": round(med(1, "driver_cpu_s") / med(1, "workers_cpu_s"), 4),
        "scheduler_cpu_s_2_workers": round(med(2, "scheduler_cpu_s"), 2),
        "write_run_s": write_s, "write_run_cpu_s": write_cpu,
    }
    print(f"scale-out: {night['wall_s_1_worker']} s on 1 worker, {night['wall_s_2_workers']} s on 2: "
          f"speedup {night['scaleout_speedup_2_workers']}; flow process CPU "
          f"{100 * night['driver_cpu_fraction_of_workers']:.1f}% of the workers' (scheduler "
          f"{night['scheduler_cpu_s_2_workers']} s)" + ("" if write_s is None else
          f"; write_run {write_s} s ({write_cpu} s CPU) in the flow process"))
    res = {"night": night, "load_avg": load, "cpus": os.cpu_count(), "wall_s": round(time.perf_counter() - t_all, 1)}
    print(json.dumps(res))
    return res


if __name__ == "__main__":
    main()
