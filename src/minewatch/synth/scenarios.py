"""Labelled evaluation scenarios: small synthetic mines that each stress one way to be wrong.

Every scenario is one mine on a 200 x 200 px (2 km) scene window, two growing seasons of
scenes (previous year and plan year, every 8 days, mid-April to September) written with
`synth.scenes.write_scene`, a registry row, a plan in the official table, and the labels
(mine, unit or planted area, type) the pipeline must report, nothing else. The multi-year
scenarios (`MULTIYEAR`) also file the previous year's plan: a flag about a unit the plan
year does not list is labelled by the earlier mention it rests on ("restored:1@2025", as
the anomaly's key). Every unit a plan reports accepted has a 合格 record in acceptance.csv.

Ground model: natural cover = a smooth peak field (0.5-0.75) x climate(d), where
climate(d) = phenology(d - shift) x year_factor: a drought year lowers year_factor, a late
spring shifts the phenology. Restored vegetation follows the same climate (it is grass in
the same weather), which is why absolute thresholds alone flag whole regions in a bad
year and the reference ring is needed.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pystac
import yaml
from pyproj import Transformer
from scipy import ndimage
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from minewatch.promised import coords
from minewatch.promised.models import DAMAGE, PLANNED, RESTORED, AnnualPlan, MiningRight, in_table_order
from minewatch.synth import scenes as s2
from minewatch.synth.acceptancefile import accepted_rows, write_acceptance_csv
from minewatch.synth.sample import HISTORY_RULES, filed_unit

PLAN_YEAR = 2026
HALF_M = 1000                 # scenes cover the centre +- 1 km (200 x 200 px)
STEP_DAYS = 8
BOUNDARY = (-400, -300, 400, 300)


def _phen(doy: float) -> float:
    return float(np.interp(doy, [1, 100, 175, 240, 290, 366], [0.15, 0.15, 1.0, 1.0, 0.3, 0.15]))


def _ramp(d: date, a: date, b: date) -> float:
    return float(np.clip((d - a).days / max((b - a).days, 1), 0, 1))


PY, LY = PLAN_YEAR, PLAN_YEAR - 1
MAY1, JUN30, AUG31, MAY15 = date(PY, 5, 1), date(PY, 6, 30), date(PY, 8, 31), date(PY, 5, 15)

# trajectories: (date, climate(d), natural cover at d) -> vegetation fraction
TRAJ = {
    "natural": lambda d, c, nat: nat,
    "bare": lambda d, c, nat: 0.02 + 0 * nat,
    "recover": lambda d, c, nat: np.maximum(0.02, 0.75 * c * _ramp(d, MAY1, JUN30)) + 0 * nat,
    "shortfall": lambda d, c, nat: np.maximum(0.02, 0.15 * c * _ramp(d, MAY1, JUN30)) + 0 * nat,
    "slow": lambda d, c, nat: np.maximum(0.02, 0.80 * c * _ramp(d, MAY1, AUG31)) + 0 * nat,
    "restored_ok": lambda d, c, nat: np.maximum(0.02, 0.70 * c * _ramp(d, date(LY, 5, 1), date(LY, 6, 30))) + 0 * nat,
    "degrade": lambda d, c, nat: (np.maximum(0.02, 0.70 * c * _ramp(d, date(LY, 5, 1), date(LY, 6, 30)))
                                  if d < MAY15 else 0.10 * c) + 0 * nat,
    "stripped": lambda d, c, nat: nat if d < MAY15 else 0.02 + 0 * nat,
    "water": lambda d, c, nat: 0.0 + 0 * nat,
    # restored before the previous year and accepted: full cover through both seasons ...
    "accepted_green": lambda d, c, nat: np.maximum(0.02, 0.70 * c) + 0 * nat,
    # ... abandoned from May of the plan year: sparse grass, degraded but not bare (no loss)
    "abandoned": lambda d, c, nat: (np.maximum(0.02, 0.70 * c) if d < MAY1 else 0.05 + 0.20 * c) + 0 * nat,
    # ... stripped again in mid-May of the plan year (re-mined, 违法占用)
    "accepted_stripped": lambda d, c, nat: (np.maximum(0.02, 0.70 * c) if d < MAY15 else 0.02) + 0 * nat,
}


@dataclass(frozen=True)
class Patch:
    """A rectangle of ground (metres from the mine centre) with its own trajectory."""
    name: str
    rect: tuple[float, float, float, float]
    traj: str
    background: int = s2.SOIL
    water_from: date | None = None      # background WATER from this date (a pit filling)
    shade: str = ""                     # terrain shadow on some dates (synth.scenarios_climate.SHADE)


@dataclass(frozen=True)
class UnitSpec:
    section: str
    seq: int
    rect: tuple[float, float, float, float]
    land_class: str = ""
    is_temporary: bool = False
    accepted: bool | None = None
    problem_type: str = ""


@dataclass(frozen=True)
class Scenario:
    name: str
    what: str
    patches: tuple[Patch, ...]
    units: tuple[UnitSpec, ...]
    labels: tuple[tuple[str, str], ...]       # (unit key "planned:1" or "area:<patch name>", type)
    as_of: date = date(PY, 11, 20)
    shift_days: int = 0                       # plan-year phenology delay (late green-up)
    year_factor: float = 1.0                  # plan-year climate factor (drought < 1)
    cloud: str = "normal"                     # normal | heavy | shadowy
    baselines: str = "05.10"                  # "mixed": 03.01 and 05.10 alternate
    county_code: str = "150622"
    earlier: tuple[UnitSpec, ...] = ()        # the previous year's plan (filed when not empty)
    valid_to: date = date(2035, 12, 31)       # the mining right's validity end
    needs: str | None = None                  # the module whose rules the labels need
    sky: Sky | None = None                    # dates, phenology, cloud, snow, shade (scenarios_climate)


BASE: tuple[Scenario, ...] = (
    Scenario("drought", "plan year at 55% of normal cover: restored grass follows the weather",
             (Patch("p1", (-300, -200, -150, -50), "recover"), Patch("p2", (0, -200, 150, -50), "shortfall"),
              Patch("r1", (150, 50, 300, 200), "restored_ok")),
             (UnitSpec(PLANNED, 1, (-300, -200, -150, -50), "0404"), UnitSpec(PLANNED, 2, (0, -200, 150, -50), "0404"),
              UnitSpec(RESTORED, 1, (150, 50, 300, 200), "0404", accepted=True)),
             (("planned:2", "RESTORATION_SHORTFALL"),), year_factor=0.55),
    Scenario("late_greenup", "plan-year spring 35 days late; a claimed restoration that is still bare",
             (Patch("p1", (-300, -200, -150, -50), "recover"), Patch("r1", (150, 50, 300, 200), "bare"),
              Patch("r2", (-300, 50, -150, 200), "restored_ok")),
             (UnitSpec(PLANNED, 1, (-300, -200, -150, -50), "0404"), UnitSpec(RESTORED, 1, (150, 50, 300, 200), "0404"),
              UnitSpec(RESTORED, 2, (-300, 50, -150, 200), "0404", accepted=True)),
             (("restored:1", "CLAIMED_RESTORATION_NOT_OBSERVED"),), shift_days=35),
    Scenario("midseason_late_spring", "judged on 25 June of a late spring: on-track, slow and stalled units",
             (Patch("p1", (-300, -200, -150, -50), "recover"), Patch("p2", (0, -200, 150, -50), "bare"),
              Patch("p3", (150, 50, 300, 200), "slow")),
             (UnitSpec(PLANNED, 1, (-300, -200, -150, -50), "0404"), UnitSpec(PLANNED, 2, (0, -200, 150, -50), "0404"),
              UnitSpec(PLANNED, 3, (150, 50, 300, 200), "0404")),
             (("planned:2", "AT_RISK"),), as_of=date(PY, 6, 25), shift_days=20),
    Scenario("heavy_cloud", "most plan-year scenes 30-80% cloud; an undeclared strip inside the boundary",
             (Patch("p1", (-300, -200, -150, -50), "recover"), Patch("r1", (150, 50, 300, 200), "restored_ok"),
              Patch("cut", (-250, 50, -50, 250), "stripped")),
             (UnitSpec(PLANNED, 1, (-300, -200, -150, -50), "0404"),
              UnitSpec(RESTORED, 1, (150, 50, 300, 200), "0404", accepted=True)),
             (("area:cut", "UNDECLARED_DISTURBANCE"),), cloud="heavy"),
    Scenario("shadows", "cloud shadows over restored units on many dates; a dump outside the boundary",
             (Patch("r1", (-300, -200, -100, 0), "restored_ok"), Patch("r2", (100, 0, 300, 200), "restored_ok"),
              Patch("p1", (-300, 50, -150, 200), "recover"), Patch("dump", (450, -150, 600, 0), "stripped")),
             (UnitSpec(RESTORED, 1, (-300, -200, -100, 0), "0404", accepted=True),
              UnitSpec(RESTORED, 2, (100, 0, 300, 200), "0305", accepted=True),
              UnitSpec(PLANNED, 1, (-300, 50, -150, 200), "0404")),
             (("area:dump", "OUT_OF_BOUNDARY_DISTURBANCE"),), cloud="shadowy"),
    Scenario("partial_and_slow", "half of a unit restored; another recovering slowly but on track",
             (Patch("p1a", (-300, -200, -150, -50), "recover"), Patch("p1b", (-150, -200, 0, -50), "bare"),
              Patch("p2", (150, 50, 300, 200), "slow")),
             (UnitSpec(PLANNED, 1, (-300, -200, 0, -50), "0404"), UnitSpec(PLANNED, 2, (150, 50, 300, 200), "0404")),
             (("planned:1", "RESTORATION_SHORTFALL"),)),
    Scenario("road_and_temporary", "a new road outside the boundary; temporary land bare and restored",
             (Patch("road", (-600, 320, 300, 340), "stripped"), Patch("t1", (450, -200, 600, -50), "stripped"),
              Patch("t2", (-650, -200, -500, -50), "recover"), Patch("p1", (-200, -150, -50, 0), "recover")),
             (UnitSpec(PLANNED, 1, (450, -200, 600, -50), "0404", is_temporary=True),
              UnitSpec(PLANNED, 2, (-650, -200, -500, -50), "0404", is_temporary=True),
              UnitSpec(PLANNED, 3, (-200, -150, -50, 0), "0404")),
             (("area:road", "OUT_OF_BOUNDARY_DISTURBANCE"), ("planned:1", "TEMPORARY_LAND_NOT_RESTORED"))),
    Scenario("pit_lake", "water-target units: a filled pit lake and one still dry",
             (Patch("w1", (-300, -200, -100, 0), "water", s2.SOIL, water_from=date(PY, 4, 1)),
              Patch("w2", (100, -200, 300, 0), "bare"), Patch("d1", (-300, 50, 300, 250), "bare", s2.ROCK)),
             (UnitSpec(PLANNED, 1, (-300, -200, -100, 0), "1104"), UnitSpec(PLANNED, 2, (100, -200, 300, 0), "1104"),
              UnitSpec(DAMAGE, 1, (-300, 50, 300, 250), problem_type="挖损")),
             (("planned:2", "RESTORATION_SHORTFALL"),), county_code="610802"),
    Scenario("baseline_mix", "processing baselines 03.01 (no DN offset) and 05.10 mixed; a degraded unit",
             (Patch("p1", (-300, -200, -150, -50), "recover"), Patch("p2", (0, -200, 150, -50), "shortfall"),
              Patch("r1", (150, 50, 300, 200), "degrade"), Patch("r2", (-300, 50, -150, 200), "restored_ok")),
             (UnitSpec(PLANNED, 1, (-300, -200, -150, -50), "0404"), UnitSpec(PLANNED, 2, (0, -200, 150, -50), "0305"),
              UnitSpec(RESTORED, 1, (150, 50, 300, 200), "0404", accepted=True),
              UnitSpec(RESTORED, 2, (-300, 50, -150, 200), "0404", accepted=True)),
             (("planned:2", "RESTORATION_SHORTFALL"), ("restored:1", "VEGETATION_DEGRADATION")), baselines="mixed"),
    Scenario("damage_exceeds", "a pit twice its declared size; another declared exactly",
             (Patch("d1", (-350, -250, -50, 50), "bare", s2.ROCK), Patch("d2", (100, -200, 300, 0), "bare", s2.ROCK)),
             (UnitSpec(DAMAGE, 1, (-350, -250, -150, -50), problem_type="挖损"),
              UnitSpec(DAMAGE, 2, (100, -200, 300, 0), problem_type="挖损")),
             (("damage:1", "DAMAGE_EXCEEDS_DECLARED"),)),
)

A1, A2, A3, A4 = (-300, -200, -150, -50), (0, -200, 150, -50), (150, 50, 300, 200), (-300, 50, -150, 200)
WIDE, CUT = (-350, -200, -50, -50), (-230, -200, -200, -50)   # a 4.5 hm² unit and a 30 m strip of it
EXPIRED = date(PY, 6, 30)            # a right that ran out mid plan year (as_of is in November)
OVERDUE = "overdue"                  # the key of a right's RESTORATION_OVERDUE_AT_EXPIRY


def _multi(name: str, what: str, patches: tuple[Patch, ...], earlier: tuple[UnitSpec, ...],
           units: tuple[UnitSpec, ...], labels: tuple[tuple[str, str], ...], valid_to: date = date(2035, 12, 31),
           ) -> Scenario:
    return Scenario(name, what, patches, units, labels, earlier=earlier, valid_to=valid_to, needs=HISTORY_RULES)


# Multi-year scenarios: each rule that needs history, with its negative twin beside it.
MULTIYEAR: tuple[Scenario, ...] = (
    _multi("omitted_accepted_degrades",
           "accepted in the previous year's plan, omitted by this one: one abandoned (degrades), one kept green",
           (Patch("a1", A1, "abandoned"), Patch("a2", A2, "accepted_green"), Patch("p1", A3, "restored_ok"),
            Patch("p2", A4, "recover")),
           (UnitSpec(RESTORED, 1, A1, "0404", accepted=True), UnitSpec(RESTORED, 2, A2, "0404", accepted=True),
            UnitSpec(PLANNED, 1, A3, "0404")),
           (UnitSpec(RESTORED, 1, A3, "0404", accepted=True), UnitSpec(PLANNED, 1, A4, "0404")),
           ((f"restored:1@{LY}", "VEGETATION_DEGRADATION"),)),
    _multi("plan_not_executed",
           "last year's plan: one unit never done and dropped, one reported restored, one planned again",
           (Patch("n1", A1, "bare"), Patch("n2", A2, "restored_ok"), Patch("n3", A3, "recover")),
           (UnitSpec(PLANNED, 1, A1, "0404"), UnitSpec(PLANNED, 2, A2, "0404"), UnitSpec(PLANNED, 3, A3, "0404")),
           (UnitSpec(RESTORED, 1, A2, "0404"), UnitSpec(PLANNED, 1, A3, "0404")),
           ((f"planned:1@{LY}", "PLAN_NOT_EXECUTED"),)),
    # a tenth of s1 dug up (0.45 hm², over the minimum mapping unit): new disturbance on accepted
    # land, while the unit's median cover falls too little to call it degraded (one finding)
    _multi("restored_land_redisturbed",
           "two units accepted last year, omitted this year: a strip of one dug up again in May, one kept green",
           (Patch("s1", WIDE, "accepted_green"), Patch("cut", CUT, "accepted_stripped"),
            Patch("s2", A2, "accepted_green"), Patch("p1", A3, "recover")),
           (UnitSpec(RESTORED, 1, WIDE, "0404", accepted=True), UnitSpec(RESTORED, 2, A2, "0404", accepted=True)),
           (UnitSpec(PLANNED, 1, A3, "0404"),),
           ((f"restored:1@{LY}", "RESTORED_LAND_REDISTURBED"),)),
    # RESTORATION_OVERDUE_AT_EXPIRY is one finding per right (key "overdue"): the outstanding area
    _multi("expired_outstanding",
           "the right ran out on 30 June with a planned unit still bare (planned both years)",
           (Patch("o1", A1, "bare"), Patch("r1", A2, "restored_ok")),
           (UnitSpec(PLANNED, 1, A1, "0404"), UnitSpec(PLANNED, 2, A2, "0404")),
           (UnitSpec(RESTORED, 1, A2, "0404", accepted=True), UnitSpec(PLANNED, 1, A1, "0404")),
           (("planned:1", "RESTORATION_SHORTFALL"), (OVERDUE, "RESTORATION_OVERDUE_AT_EXPIRY")),
           valid_to=EXPIRED),
    _multi("expired_all_restored",
           "the right ran out on 30 June with everything it planned restored and accepted",
           (Patch("r1", A1, "restored_ok"), Patch("r2", A2, "restored_ok")),
           (UnitSpec(PLANNED, 1, A1, "0404"), UnitSpec(PLANNED, 2, A2, "0404")),
           (UnitSpec(RESTORED, 1, A1, "0404", accepted=True), UnitSpec(RESTORED, 2, A2, "0404", accepted=True)),
           (), valid_to=EXPIRED),
)
from minewatch.synth.scenarios_climate import CLIMATE, Sky  # noqa: E402  (its scenarios need the classes above)

SCENARIOS: tuple[Scenario, ...] = BASE + MULTIYEAR + CLIMATE


def license_no(i: int) -> str:
    return f"C1506222026010{i:02d}0000{i:03d}"[:23]


def centre_lonlat(i: int) -> tuple[float, float]:
    return 109.0 + 0.1 * i, 38.5          # 0.1 deg apart: scene windows never overlap


@dataclass(frozen=True)
class Frame:
    epsg: int
    cx: float
    cy: float

    @classmethod
    def of(cls, i: int) -> Frame:
        return cls.at(*centre_lonlat(i))

    @classmethod
    def at(cls, lon: float, lat: float) -> Frame:
        """The frame centred on (lon, lat) EPSG:4490, snapped to the 20 m grid of its UTM zone."""
        epsg = coords.utm_epsg(lon, lat)
        x, y = Transformer.from_crs(4490, epsg, always_xy=True).transform(lon, lat)
        return cls(epsg, round(x / 20) * 20, round(y / 20) * 20)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (self.cx - HALF_M, self.cy - HALF_M, self.cx + HALF_M, self.cy + HALF_M)

    def geo(self, r: tuple[float, float, float, float]) -> BaseGeometry:
        return coords.transform(box(self.cx + r[0], self.cy + r[1], self.cx + r[2], self.cy + r[3]), self.epsg, 4490)

    def slices(self, r: tuple[float, float, float, float]) -> tuple[slice, slice]:
        x0, y0, x1, y1 = r
        return (slice(int((HALF_M - y1) // 10), int((HALF_M - y0) // 10)),
                slice(int((HALF_M + x0) // 10), int((HALF_M + x1) // 10)))


def climate(sc: Scenario, d: date) -> float:
    shift = sc.shift_days if d.year == PY else 0
    f = sc.year_factor if d.year == PY else 1.0
    doy = d.timetuple().tm_yday - shift
    own = sc.sky.phen(doy) if sc.sky else None      # an evergreen south's own curve
    return (_phen(doy) if own is None else own) * f


def _natural_peak(seed: int) -> np.ndarray:
    n = 2 * HALF_M // 10
    f = ndimage.gaussian_filter(np.random.default_rng(seed).standard_normal((n, n)), 10)
    f = (f - f.mean()) / (f.std() + 1e-9)
    return np.clip(0.62 + 0.06 * f, 0.5, 0.75).astype("float32")


def ground(sc: Scenario, frame: Frame, d: date, peak: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = climate(sc, d)
    fvc = (peak * c).astype("float32")
    bg = np.full(fvc.shape, s2.SOIL, "uint8")
    for p in sc.patches:
        sl = frame.slices(p.rect)
        fvc[sl] = TRAJ[p.traj](d, c, fvc[sl])
        bg[sl] = s2.WATER if (p.water_from and d >= p.water_from) else p.background
    return np.clip(fvc, 0, 1).astype("float32"), bg


def scene_dates() -> list[date]:
    out = []
    for y in (LY, PY):
        d = date(y, 4, 15)
        while d <= date(y, 9, 30):
            out.append(d)
            d += timedelta(days=STEP_DAYS)
    return out


def cloud_fraction(sc: Scenario, d: date) -> float:
    if sc.sky is not None and (c := sc.sky.cloud(d)) is not None:
        return c
    rng = np.random.default_rng(int(hashlib.sha256(f"{sc.name}{d}".encode()).hexdigest()[:8], 16))
    r = rng.random()
    if sc.cloud == "heavy" and d.year == PY and 6 <= d.month <= 9:
        return float(rng.uniform(0.3, 0.8)) if r < 0.7 else 0.0
    if sc.cloud == "shadowy" and d.year == PY and 6 <= d.month <= 9:
        return float(rng.uniform(0.15, 0.35)) if r < 0.7 else 0.0
    if r < 0.6:
        return 0.0
    if r < 0.9:
        return float(rng.uniform(0.05, 0.3))
    return float(rng.uniform(0.6, 0.9))


def mining_right(i: int, sc: Scenario) -> MiningRight:
    return _right(license_no(i), f"评估场景{i:02d}", sc, Frame.of(i))


def annual_plan(i: int, sc: Scenario, year: int = PY) -> AnnualPlan:
    """Scenario `sc`'s plan of `year`: PY (its units) or LY (its earlier units)."""
    return _plan(license_no(i), f"评估场景{i:02d}", sc, Frame.of(i), year)


def plan_years(sc: Scenario) -> tuple[int, ...]:
    return (LY, PY) if sc.earlier else (PY,)


def _right(lic: str, name: str, sc: Scenario, fr: Frame) -> MiningRight:
    return MiningRight(license_no=lic, holder=f"{name}矿业有限公司", mine_name=f"{name}-{sc.name}",
                       valid_from=date(2021, 1, 1), valid_to=sc.valid_to, county_code=sc.county_code,
                       boundary=fr.geo(BOUNDARY), mineral="煤", mining_method="露天开采")


def _plan(lic: str, name: str, sc: Scenario, fr: Frame, year: int = PY) -> AnnualPlan:
    units = in_table_order(
        filed_unit(u.section, u.seq, fr.geo(u.rect), is_temporary=u.is_temporary, land_class=u.land_class,
                   quality="合格" if u.section == RESTORED else "", accepted=u.accepted,
                   problem_type=u.problem_type, damage_degree="重度" if u.section == DAMAGE else "",
                   measures="覆土、撒播草籽" if u.section == PLANNED else "")
        for u in (sc.units if year == PY else sc.earlier))
    return AnnualPlan(plan_year=year, license_no=lic, holder=f"{name}矿业有限公司",
                      mine_name=f"{name}-{sc.name}", validity=f"2021-01-01至{sc.valid_to.isoformat()}",
                      units=units, fees_last_year_drawn=10.0, fees_last_year_used=9.0,
                      fees_this_year_planned_draw=10.0, fees_this_year_planned_use=9.0)


# when the units a plan reports accepted were applied for and accepted: a LY plan's before it
# was due (restored the year before), a PY plan's in the autumn of LY (restored that summer)
ACCEPTED_ON = {LY: (date(LY - 1, 12, 20), date(LY, 3, 10)), PY: (date(LY, 9, 1), date(LY, 10, 20))}


def mine_scenes(scene_dir: Path, sc: Scenario, i: int, fr: Frame, dates: list[date],
                tile: str = "49SCJ") -> list[pystac.Item]:
    """Scenario `sc`'s ground on frame `fr`, one scene per date (COGs under scene_dir); mine
    index `i` names the items and seeds the ground and the noise."""
    peak = _natural_peak(1000 + i)
    if sc.sky is not None:
        peak = peak + np.float32(sc.sky.peak_offset)
    items = []
    for j, d in enumerate(dates):
        fvc, bg = ground(sc, fr, d, peak)
        layers = sc.sky.layers(sc.name, d, fr, sc.patches, fvc.shape) if sc.sky else {}
        baseline = ("03.01" if j % 2 else "05.10") if sc.baselines == "mixed" else sc.baselines
        spec = s2.SceneSpec(
            item_id=f"S2{'AB'[j % 2]}_{tile}_{d:%Y%m%d}_{i}_L2A",
            datetime=datetime(d.year, d.month, d.day, 3, 20, tzinfo=UTC), epsg=fr.epsg,
            bounds=fr.bounds, mgrs_tile=tile, processing_baseline=baseline,
            cloud_fraction=cloud_fraction(sc, d), seed=(i + 1) * 100_000 + j)
        items.append(s2.write_scene(scene_dir, spec, fvc, bg, **layers))
    return items


def write_scenarios(root: Path, scenarios: tuple[Scenario, ...] = SCENARIOS) -> Path:
    """registry.csv, plans/*.xlsx (both years of a multi-year scenario), acceptance.csv,
    labels.yaml, scenes/ and catalog/ under root; returns root.

    Skips the work if root/catalog/.complete exists.
    """
    from minewatch.promised.planwriter import write_plan_xlsx
    from minewatch.promised.registry import write_registry_csv

    root = Path(root)
    if (root / "catalog" / ".complete").exists():
        return root
    (root / "plans").mkdir(parents=True, exist_ok=True)
    rights, labels, items, accepted = [], [], [], []
    idx = {sc.name: i for i, sc in enumerate(SCENARIOS)}
    for sc in scenarios:
        i = idx[sc.name]
        fr = Frame.of(i)
        rights.append(mining_right(i, sc))
        for y in plan_years(sc):
            plan = annual_plan(i, sc, y)
            write_plan_xlsx(plan, root / "plans" / f"{license_no(i)}_{y}.xlsx")
            accepted += accepted_rows(plan, *ACCEPTED_ON[y])
        labels.append({"scenario": sc.name, "what": sc.what, "license_no": license_no(i),
                       "as_of": sc.as_of.isoformat(), "plan_years": list(plan_years(sc)),
                       "labels": [{"unit": k, "type": t} for k, t in sc.labels],
                       "areas": {p.name: list(fr.geo(p.rect).bounds) for p in sc.patches}}
                      | ({"needs": sc.needs} if sc.needs else {}))
        dates = sc.sky.dates(scene_dates(), sc.as_of) if sc.sky else scene_dates()
        items += mine_scenes(root / "scenes", sc, i, fr, dates)
    write_registry_csv(rights, root / "registry.csv")
    write_acceptance_csv(accepted, root / "acceptance.csv")
    (root / "labels.yaml").write_text(
        "# Labels of the evaluation scenarios (minewatch.synth.scenarios): exactly these flags.\n"
        + yaml.safe_dump({"plan_year": PY, "scenarios": labels}, allow_unicode=True, sort_keys=False),
        encoding="utf-8")
    s2.write_collection(root / "catalog", items)
    (root / "catalog" / ".complete").write_text(f"{len(items)}\n")
    return root


# ---------------------------------------------------------------------------------------
# many mines: the scenarios repeated over a field of mines, for the benchmark
# ---------------------------------------------------------------------------------------

MANY_TILE = "49SBH"           # item ids apart from the scenarios' own (49SCJ)
MANY_PER_ROW = 80


def many_license_no(k: int) -> str:
    return f"C1506222026020{k:05d}0000"


def many_frame(k: int) -> Frame:
    """Mine k of the many-mines world: 80 a row, 0.05 deg apart (4-5 km: windows never overlap),
    from 37.0 N, south of the scenarios' row at 38.5 N; all in UTM zone 49 (108-114 E)."""
    return Frame.at(108.3 + 0.05 * (k % MANY_PER_ROW), 37.0 + 0.05 * (k // MANY_PER_ROW))


def many_dates(steps: int) -> list[date]:
    """`steps` dates spread evenly over mid-April to September of the previous and the plan
    year (the scenarios' two seasons), at most one a day."""
    days = [date(y, 4, 15) + timedelta(days=n) for y in (LY, PY)
            for n in range((date(y, 9, 30) - date(y, 4, 15)).days + 1)]
    if not 1 <= steps <= len(days):
        raise ValueError(f"steps must be 1..{len(days)}, got {steps}")
    return [days[j] for j in np.linspace(0, len(days) - 1, steps).round().astype(int)]


def _many_mine(args: tuple[Path, int, int]) -> tuple[MiningRight, AnnualPlan, list[pystac.Item]]:
    scene_dir, k, steps = args
    sc, fr = BASE[k % len(BASE)], many_frame(k)     # the single-year ten: the benchmark's mix
    name = f"基准{k:05d}"
    return (_right(many_license_no(k), name, sc, fr), _plan(many_license_no(k), name, sc, fr),
            mine_scenes(scene_dir, sc, k, fr, many_dates(steps), tile=MANY_TILE))


def write_many(root: Path, n_mines: int, steps: int, start: int = 0, workers: int = 1) -> dict[str, list[pystac.Item]]:
    """Many mines for the benchmark: mine k (start <= k < start + n_mines) is scenario k mod 10
    on its own frame (`many_frame`), with its registry row, its plan and `steps` scenes
    (`many_dates`). Writes registry.csv, plans/, scenes/ and catalog/ under root (skipped when
    root/catalog/.complete exists, as `write_scenarios`); returns each licence's items in date
    order. `workers` > 1 writes the mines in that many processes (same bytes)."""
    from concurrent.futures import ProcessPoolExecutor

    from minewatch.promised.planwriter import write_plan_xlsx
    from minewatch.promised.registry import write_registry_csv

    root = Path(root)
    done = root / "catalog" / ".complete"
    if not done.exists():
        (root / "plans").mkdir(parents=True, exist_ok=True)
        jobs = [(root / "scenes", k, steps) for k in range(start, start + n_mines)]
        if workers > 1:
            with ProcessPoolExecutor(workers) as ex:
                mines = list(ex.map(_many_mine, jobs, chunksize=max(1, len(jobs) // (4 * workers))))
        else:
            mines = [_many_mine(j) for j in jobs]
        for _, plan, _ in mines:
            write_plan_xlsx(plan, root / "plans" / f"{plan.license_no}_{PY}.xlsx")
        write_registry_csv([r for r, _, _ in mines], root / "registry.csv")
        s2.write_collection(root / "catalog", [it for _, _, its in mines for it in its])
        done.write_text(f"{n_mines} mines x {steps} steps from {start}\n")
    out: dict[str, list[pystac.Item]] = {}
    for p in sorted((root / "catalog" / "items").glob("*.json")):
        it = pystac.Item.from_file(str(p))
        out.setdefault(many_license_no(int(it.id.split("_")[3])), []).append(it)
    # pystac types datetime Optional (for ranges); every scenario scene has one
    return {k: sorted(v, key=lambda it: it.datetime) for k, v in sorted(out.items())}  # type: ignore[arg-type,return-value]
