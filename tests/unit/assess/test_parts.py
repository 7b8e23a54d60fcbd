"""assess.parts on a hand-made 40 x 40 px evidence (10 m, UTM 49N): a unit whose mean passes
with a bare corner is reported with the corner's polygon and area; scattered bare pixels under
the minimum mapping unit are not; where the ring is sparse, matching it is not bare."""
import dataclasses
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box
from tests.support.paths import REPO

from minewatch.assess.evidence import Dates, Evidence
from minewatch.assess.judge import explained
from minewatch.assess.masks import burn
from minewatch.assess.parts import bare_part, partial_restoration
from minewatch.assess.reference import REFERENCE
from minewatch.assess.thresholds import load_thresholds
from minewatch.config import Settings
from minewatch.promised import coords
from minewatch.promised.models import PLANNED, AnnualPlan, MiningRight, Unit
from minewatch.sky.cube import Grid

X0, Y1, N = 414000.0, 4428400.0, 40
S = Settings(registry=Path("r.csv"), plans=Path("p"))
TABLE = load_thresholds(REPO / "configs" / "thresholds.yaml")


def px(r0: int, r1: int, c0: int, c1: int):
    return box(X0 + 10 * c0, Y1 - 10 * r1, X0 + 10 * c1, Y1 - 10 * r0)


def test_largest_connected_bare_part():
    unit = np.zeros((10, 10), bool)
    unit[1:9, 1:9] = True
    fvc = np.full((5, 10, 10), 0.8, np.float32)
    fvc[:, 1:4, 1:4] = 0.1                    # a 3 x 3 corner
    fvc[:, 7, 7] = 0.1                         # a lone pixel
    fvc[:, 8, 1] = 0.1
    clear = np.ones(fvc.shape, bool)
    clear[0, 1, 1] = False                     # one cloudy date at the corner
    p = bare_part(unit, fvc, clear, 0.2, 3)
    assert p.n_px == 9 and p.unit_px == 64 and p.mask[1:4, 1:4].all() and p.mask.sum() == 9
    assert p.fvc == pytest.approx(0.1) and p.clear_observations == 5 and p.agree == 1.0
    clear[:3] = False                          # two clear dates left: under min_clear_obs, nothing is bare
    assert bare_part(unit, fvc, clear, 0.2, 3) is None


def _evidence(fvc_now: np.ndarray, units: dict, ring_fvc: float | None = None) -> Evidence:
    grid = Grid(32649, (X0, Y1 - 10 * N, X0 + 10 * N, Y1), 10.0)
    times = np.array([f"2026-07-{d:02d}" for d in (5, 10, 15, 20, 25, 30)], dtype="datetime64[ns]")
    fvc = np.stack([fvc_now] * len(times)).astype(np.float32)
    ids = tuple(f"S{i}" for i in range(len(times)))
    series = pd.DataFrame(columns=["unit", "item_id", "datetime", "clear_fraction", "fvc_mean", "ndvi_mean"])
    if ring_fvc is not None:
        days = list(times) + list(times - np.timedelta64(365, "D"))
        series = pd.DataFrame({"unit": REFERENCE, "item_id": [f"R{i}" for i in range(len(days))],
                               "datetime": days, "clear_fraction": 1.0, "fvc_mean": ring_fvc, "ndvi_mean": 0.16,
                               "bsi_mean": np.nan})
    return Evidence(grid=grid, boundary_utm=px(0, 40, 0, 40), units_utm=units,
                    unit_masks={k: burn([g], grid) for k, g in units.items()},
                    unit_footprints={k: burn([g], grid, all_touched=True) for k, g in units.items()},
                    series=series, reference=None, season=None,
                    times=times, ids=ids, dates=Dates.of(times, 2026, S.assess), loss=None,
                    as_of=date(2026, 11, 1), plan_year=2026,
                    # every pixel clear: each unit's (t, px) FVC as the tiles give it
                    unit_fvc={k: fvc[:, burn([g], grid)] for k, g in units.items()})


RIGHT = MiningRight("C1", "h", "m", date(2020, 1, 1), date(2030, 1, 1), "990000",
                    coords.transform(px(0, 40, 0, 40), 32649, 4490))
U1, U2 = px(5, 20, 5, 20), px(5, 20, 22, 37)          # 15 x 15 px = 2.25 hm² each


def _plan() -> AnnualPlan:
    return AnnualPlan(2026, "C1", "h", "m", units=tuple(
        Unit(PLANNED, i, coords.transform(g, 32649, 4490), land_class="0404") for i, g in ((1, U1), (2, U2))))


def test_a_bare_corner_is_reported_scattered_pixels_are_not():
    f = np.full((N, N), 0.8, np.float32)
    f[5:14, 5:14] = 0.08                       # unit 1: a 9 x 9 corner, 36% of the unit
    f[5:20:3, 22:37:3] = 0.08                  # unit 2: 25 single pixels (11%), never 8-connected
    [a] = partial_restoration(_evidence(f, {"planned:1": U1, "planned:2": U2}), RIGHT, _plan(), TABLE, S).findings
    assert a.type == "PARTIAL_RESTORATION" and a.key == "planned:1" and a.unit_seq == 1
    assert a.observed["pixels"] == 81 and a.observed["part_hm2"] == 0.81 and a.observed["part_share"] == 0.36
    assert a.area_hm2 == pytest.approx(0.81, abs=0.005)            # the corner's own polygon, ellipsoidal
    corner = coords.transform(px(5, 14, 5, 14), 32649, 4490)
    assert a.geometry.symmetric_difference(corner).area < 1e-3 * corner.area
    assert a.expected["bare_fvc_max"] == 0.2 and a.confidence == "highest"
    assert len(a.evidence_scenes) == 6
    # a unit whose mean fails is one finding: its part is dropped beside the shortfall
    short = dataclasses.replace(a, type="RESTORATION_SHORTFALL")
    assert explained([a, short]) == [short]


def test_part_under_the_share_or_the_mmu_is_not_reported():
    f = np.full((N, N), 0.8, np.float32)
    f[5:10, 5:12] = 0.08                       # 35 px = 0.35 hm² but 16% of the unit
    assert not partial_restoration(_evidence(f, {"planned:1": U1}), RIGHT, _plan(), TABLE, S).findings
    s = S.model_copy(update={"assess": S.assess.model_copy(update={"parts": S.assess.parts.model_copy(
        update={"min_share": 0.15, "min_area_hm2": 0.5})})})
    assert not partial_restoration(_evidence(f, {"planned:1": U1}), RIGHT, _plan(), TABLE, s).findings
    s = S.model_copy(update={"assess": S.assess.model_copy(update={"parts": S.assess.parts.model_copy(
        update={"min_share": 0.15})})})
    [a] = partial_restoration(_evidence(f, {"planned:1": U1}), RIGHT, _plan(), TABLE, s).findings
    assert a.observed["pixels"] == 35


def test_matching_a_sparse_ring_is_not_bare():
    f = np.full((N, N), 0.14, np.float32)      # desert steppe everywhere (FVC ~0.15 as measured)
    f[5:14, 5:14] = 0.02                       # waste rock in one corner
    ev = _evidence(f, {"planned:1": U1}, ring_fvc=0.15)
    [a] = partial_restoration(ev, RIGHT, _plan(), TABLE, S).findings
    assert a.expected["bare_fvc_max"] == pytest.approx(0.105) and a.observed["pixels"] == 81
    # without the ring the whole unit would read as one bare part
    [b] = partial_restoration(_evidence(f, {"planned:1": U1}), RIGHT, _plan(), TABLE, S).findings
    assert b.observed["pixels"] == 225
