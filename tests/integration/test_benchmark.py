"""benchmarks/pipeline.py end to end on tiny data (`--quick`): its own local catalogue, the
night's `job.run_mine` and the plain rasterio + numpy script on the same mines. Not a timed
test: checks the JSON line's shape and that both paths measured the same numbers."""
from __future__ import annotations

import importlib
import math
import sys

from tests.support.paths import REPO

ROOT = REPO


def _load_bench():
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("benchmarks.pipeline")


def test_quick_run_end_to_end(tmp_path, capsys):
    bench = _load_bench()
    res = bench.main(["--quick", "--data-dir", str(tmp_path), "--workers", "1"])
    night = res["night"]
    for k in ("first_ratio_vs_plain", "next_night_fraction", "no_new_fraction", "no_new_same_date_fraction",
              "prefect_overhead_s"):
        assert night[k] > 0 and math.isfinite(night[k]), k
    assert night["peak_rss_mb_by_window_px"] is None and night["scaleout_speedup_2_workers"] is None
    assert night["steps"] == 10 and night["mines"] == 2
    assert sorted(night["peak_rss_mb_by_mines"]) == ["2", "3"]
    assert all(100 < v < 8000 for v in night["peak_rss_mb_by_mines"].values())
    # the same rows and per-unit means on both paths: 2 mines x 3 units x the 8 of their 9
    # first-night scenes under the 80% cloud-cover limit
    assert night["rows_compared"] == 2 * 3 * 8
    assert night["max_abs_mean_diff"] <= 1e-4
    c = night["check"]
    assert c["minewatch"][0] == c["plain"][0] > 0                   # clear pixels, exactly
    assert abs(c["minewatch"][1] - c["plain"][1]) <= 1e-4 and -1 < c["plain"][1] < 1    # NDVI
    assert abs(c["minewatch"][2] - c["plain"][2]) <= 1e-4 and 0 <= c["plain"][2] <= 1   # FVC
    # no new scene, on the same date and on a new one: every mine's result comes from the
    # result cache, and the new date's run folder links every mine's composites (a report is
    # rendered again only if a finding of the night before turned from new to ongoing)
    assert night["reused_no_new"] == night["reused_no_new_new_date"] == 2
    pr = night["products_new_date"]
    assert pr["linked"] >= 2 and pr["rendered"] + pr["linked"] == 2 * 2
    # the next night read only the new scene of each mine from the files
    assert night["next_night_steps_read"] == 2
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith('{"night": {"first_ratio_vs_plain"')
