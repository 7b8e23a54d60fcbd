"""The bundled sample: three fictional mines in northern China, their registry entries,
their 2025 and 2026 annual plans in the official table, the county's acceptance list
(验收清单), two growing seasons of Sentinel-2-like scenes, and the planted truths the
pipeline must find.

The two plan years agree as a supervisor expects: every unit the 2026 plan reports
restored was planned in 2025 on the same ground with the same target class, damage units
are carried over, and the cross-year cases (an accepted unit the 2026 plan omits, a 2025
plan not carried out) are planted beside their negative twins.

Everything is derived from the definitions below with fixed seeds, so the same call
writes the same bytes. Geometry is laid out in metres around each mine's centre in its
UTM zone; ground truth per unit is a vegetation-fraction trajectory over time.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pyproj import Transformer
from scipy import ndimage
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from minewatch.promised import coords
from minewatch.promised.models import DAMAGE, PLANNED, RESTORED, AnnualPlan, MiningRight, Unit, in_table_order
from minewatch.synth import scenes as s2
from minewatch.synth.acceptancefile import Accepted, accepted_rows, write_acceptance_csv

PLAN_YEAR = 2026
PREV_YEAR = PLAN_YEAR - 1     # the earlier plan year of the sample (first in the ledger)
SCENE_HALF_M = 1500           # scenes cover the centre ± 1.5 km (300 x 300 px at 10 m)
FIRST_DAY, LAST_DAY = date(PLAN_YEAR - 1, 4, 1), date(PLAN_YEAR, 10, 31)
REVISIT_DAYS = 5


def phenology(d: date) -> float:
    """Share of peak greenness by day of year for northern China's grass and shrub."""
    doy = d.timetuple().tm_yday
    return float(np.interp(doy, [1, 100, 175, 240, 290, 366], [0.15, 0.15, 1.0, 1.0, 0.3, 0.15]))


def _ramp(d: date, start: date, end: date) -> float:
    return float(np.clip((d - start).days / max((end - start).days, 1), 0, 1))


# Trajectories: (date, natural peak fvc at the pixel) -> fvc. Background stays as given.
def _recover(peak: float, year: int) -> Callable[[date, float], float]:
    return lambda d, nat: 0.02 if d < date(year, 5, 1) \
        else max(0.02, peak * phenology(d) * _ramp(d, date(year, 5, 1), date(year, 6, 30)))


TRAJECTORIES = {
    "bare": lambda d, nat: 0.02,
    "recover": _recover(0.75, PLAN_YEAR),          # restored this spring, reaches grassland cover
    "shortfall": _recover(0.15, PLAN_YEAR),        # planted, but cover stays far below shrub land
    "restored_ok": _recover(0.70, PLAN_YEAR - 1),  # restored last year and green since
    "restored_forest": _recover(0.60, PLAN_YEAR - 1),
    "disturbed": lambda d, nat: nat * phenology(d) if d < date(PLAN_YEAR, 5, 15) else 0.02,
    # restored before 2025 (accepted early 2025): full cover through both seasons
    "accepted_green": lambda d, nat: max(0.02, 0.70 * phenology(d)),
    # the same, abandoned from May 2026: sparse grass (FVC 0.20-0.25 in season), degraded but not
    # bare (NDVI stays above disturbance.bare_ndvi, so it is no vegetation *loss*)
    "abandoned": lambda d, nat: max(0.02, 0.70 * phenology(d)) if d < date(PLAN_YEAR, 5, 1)
    else 0.05 + 0.20 * phenology(d),
}


@dataclass(frozen=True)
class UnitDef:
    section: str
    seq: int
    rect: tuple[float, float, float, float]   # metres from the mine centre (x0, y0, x1, y1)
    trajectory: str
    background: int = s2.SOIL
    land_class: str = ""
    is_temporary: bool = False
    quality: str = ""
    accepted: bool | None = None
    problem_type: str = ""
    damage_degree: str = ""
    measures: str = ""


@dataclass(frozen=True)
class MineDef:
    license_no: str
    holder: str
    mine_name: str
    county_code: str
    mineral: str
    mining_method: str
    lon: float
    lat: float
    mgrs_tile: str
    boundary_rect: tuple[float, float, float, float]
    units: tuple[UnitDef, ...]
    undeclared: tuple[tuple[float, float, float, float], ...] = ()   # planted disturbance rects
    earlier_only: tuple[UnitDef, ...] = ()   # rows of the 2025 plan only (see earlier_units)
    contact: tuple[str, str, str] = ("", "", "")
    abnormal_list: bool = False
    seed: int = 0


MINES = (
    MineDef("C1506222021071110000001", "示例准格尔煤业有限公司", "示例黑岱沟露天煤矿", "150622", "煤", "露天开采",
            111.25, 39.80, "49SDA", (-1000, -800, 1000, 800), (
                UnitDef(DAMAGE, 1, (-700, -500, -200, 0), "bare", s2.ROCK, problem_type="挖损", damage_degree="重度"),
                UnitDef(RESTORED, 1, (-700, 200, -450, 450), "restored_ok", land_class="0404", quality="合格",
                        accepted=True),
                UnitDef(PLANNED, 1, (100, 100, 300, 300), "recover", land_class="0404", quality="植被覆盖度≥50%",
                        measures="覆土、撒播草籽"),
                UnitDef(PLANNED, 2, (400, 100, 600, 300), "shortfall", land_class="0305", quality="灌木覆盖度≥40%",
                        measures="覆土、栽植柠条"),
            ), contact=("张示例", "0477-0000001", "内蒙古鄂尔多斯市准格尔旗示例路1号"), seed=11,
            earlier_only=(   # restored before 2025 and accepted; the 2026 plan lists neither
                UnitDef(RESTORED, 1, (100, -600, 300, -400), "abandoned", land_class="0404", quality="合格",
                        accepted=True),
                UnitDef(RESTORED, 2, (500, -600, 700, -400), "accepted_green", land_class="0404", quality="合格",
                        accepted=True),
            )),
    MineDef("C1302832020051210000002", "示例迁安铁矿有限责任公司", "示例迁安铁矿", "130283", "铁矿", "露天开采",
            118.55, 40.02, "50TMK", (-1000, -800, 1000, 800), (
                UnitDef(RESTORED, 1, (-600, -400, -350, -150), "bare", land_class="0404", quality="合格",
                        accepted=False),
                UnitDef(RESTORED, 2, (200, -400, 450, -150), "restored_forest", land_class="0301", quality="合格",
                        accepted=True),
                UnitDef(DAMAGE, 1, (-300, 200, 300, 600), "bare", problem_type="压占", damage_degree="中度"),
                UnitDef(PLANNED, 1, (500, 200, 700, 400), "recover", land_class="0307", quality="郁闭度≥0.1",
                        measures="覆土、植树"),
            ), contact=("李示例", "0315-0000002", "河北省唐山市迁安市示例街2号"), abnormal_list=True, seed=22,
            earlier_only=(   # planned for 2025, never done; the 2026 plan neither reports nor plans it
                UnitDef(PLANNED, 3, (-800, 300, -600, 500), "bare", land_class="0404", quality="植被覆盖度≥50%",
                        measures="覆土、撒播草籽"),
            )),
    MineDef("C2109022019091010000003", "示例阜新矿业有限公司", "示例海州露天煤矿", "210902", "煤", "露天开采",
            121.70, 42.05, "51TWG", (-1000, -800, 1000, 800), (
                UnitDef(DAMAGE, 1, (-800, -600, -300, -100), "bare", s2.ROCK, problem_type="挖损",
                        damage_degree="重度"),
                UnitDef(PLANNED, 1, (0, -500, 200, -300), "recover", land_class="0404", quality="植被覆盖度≥50%",
                        measures="覆土、撒播草籽"),
                UnitDef(RESTORED, 1, (300, -500, 500, -300), "restored_ok", land_class="0305", quality="合格",
                        accepted=True),
            ), undeclared=((200, 200, 500, 450),),
            contact=("王示例", "0418-0000003", "辽宁省阜新市海州区示例大街3号"), seed=33),
)

# The rules that need history (assess/history.py): a truth that names them in "needs" is
# found only where that module exists.
HISTORY_RULES = "minewatch.assess.history"

# The planted truths: exactly these anomalies, nothing else. "key" is the anomaly's key: a
# unit the 2026 plan does not list is keyed on the earlier mention ("restored:1@2025").
TRUTHS = (
    {"license_no": MINES[0].license_no, "type": "RESTORATION_SHORTFALL", "unit_section": PLANNED, "unit_seq": 2,
     "key": "planned:2", "why": "计划修复为灌木林地(0305)，实际植被覆盖度约0.15，远低于0.40"},
    {"license_no": MINES[1].license_no, "type": "CLAIMED_RESTORATION_NOT_OBSERVED",
     "unit_section": RESTORED, "unit_seq": 1, "key": "restored:1",
     "why": "申报上年度已修复为其他草地(0404)，影像仍为裸地"},
    {"license_no": MINES[0].license_no, "type": "VEGETATION_DEGRADATION", "unit_section": RESTORED, "unit_seq": 1,
     "key": f"restored:1@{PREV_YEAR}", "needs": HISTORY_RULES,
     "why": "2025年度计划申报已修复为其他草地(0404)并验收合格，2026年度计划未再列出；2026年5月起弃管，"
            "植被覆盖度由约0.70降至约0.25(管护期内)"},
    {"license_no": MINES[1].license_no, "type": "PLAN_NOT_EXECUTED", "unit_section": PLANNED, "unit_seq": 3,
     "key": f"planned:3@{PREV_YEAR}", "needs": HISTORY_RULES,
     "why": "2025年度计划将4 hm²修复为其他草地(0404)，2026年度计划既未申报已修复也未再列入计划，影像仍为裸地"},
    {"license_no": MINES[2].license_no, "type": "UNDECLARED_DISTURBANCE", "unit_section": None, "unit_seq": None,
     "why": "边界内7.5 hm²草地于2026年5月中旬起被剥离，年度计划未申报",
     "rect": list(MINES[2].undeclared[0])},
)
# Units planted to pass: restored or recovering as promised.
PASSING = (
    (MINES[0].license_no, PLANNED, 1), (MINES[0].license_no, RESTORED, 1),
    (MINES[1].license_no, RESTORED, 2), (MINES[1].license_no, PLANNED, 1),
    (MINES[2].license_no, PLANNED, 1), (MINES[2].license_no, RESTORED, 1),
)
# Cross-year negative twins, judged only with the history rules: (licence, key, why). The first
# is measured (an accepted unit the 2026 plan omits, within its 管护期) and must pass; the
# second is the same ground as 2026's restored:2, which must not be called not executed.
PASSING_EARLIER = (
    (MINES[0].license_no, f"restored:2@{PREV_YEAR}", "2025年度已验收、2026年度计划未列出，植被保持良好：不应报退化"),
)
NEGATIVES = (
    (MINES[1].license_no, f"planned:2@{PREV_YEAR}",
     "2025年度计划修复，2026年度计划申报已修复(即2026年度已修复第2号单元)且影像为林地：不应报计划未执行"),
)


@dataclass(frozen=True)
class MineFrame:
    """A mine's UTM frame: centre snapped to 20 m, scene bounds, grid transformers."""
    epsg: int
    cx: float
    cy: float

    @classmethod
    def of(cls, m: MineDef) -> "MineFrame":
        epsg = coords.utm_epsg(m.lon, m.lat)
        x, y = Transformer.from_crs(4490, epsg, always_xy=True).transform(m.lon, m.lat)
        return cls(epsg, round(x / 20) * 20, round(y / 20) * 20)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (self.cx - SCENE_HALF_M, self.cy - SCENE_HALF_M, self.cx + SCENE_HALF_M, self.cy + SCENE_HALF_M)

    def rect_utm(self, r: tuple[float, float, float, float]) -> BaseGeometry:
        return box(self.cx + r[0], self.cy + r[1], self.cx + r[2], self.cy + r[3])

    def rect_geo(self, r: tuple[float, float, float, float]) -> BaseGeometry:
        return coords.transform(self.rect_utm(r), self.epsg, 4490)

    def pixel_slices(self, r: tuple[float, float, float, float]) -> tuple[slice, slice]:
        """Row/column slices of the 10 m scene grid covered by rect r."""
        x0, y0, x1, y1 = r
        return (slice(int((SCENE_HALF_M - y1) // 10), int((SCENE_HALF_M - y0) // 10)),
                slice(int((SCENE_HALF_M + x0) // 10), int((SCENE_HALF_M + x1) // 10)))


def _natural_peak(m: MineDef) -> np.ndarray:
    """Spatially varying natural grassland peak cover (0.5-0.75), smooth."""
    n = 2 * SCENE_HALF_M // 10
    rng = np.random.default_rng(m.seed)
    f = ndimage.gaussian_filter(rng.standard_normal((n, n)), 12)
    f = (f - f.mean()) / (f.std() + 1e-9)
    return np.clip(0.62 + 0.06 * f, 0.5, 0.75).astype("float32")


def ground(m: MineDef, d: date, nat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vegetation fraction and background for one date."""
    frame = MineFrame.of(m)
    fvc = (nat * phenology(d)).astype("float32")
    bg = np.full(fvc.shape, s2.SOIL, dtype="uint8")
    for rect in m.undeclared:
        sl = frame.pixel_slices(rect)
        fvc[sl] = TRAJECTORIES["disturbed"](d, nat[sl])
    for u in m.earlier_only + m.units:      # 2026 rows last: a ground both plans list is 2026's
        sl = frame.pixel_slices(u.rect)
        fvc[sl] = TRAJECTORIES[u.trajectory](d, nat[sl])
        bg[sl] = u.background
    return np.clip(fvc, 0, 1).astype("float32"), bg


def scene_dates() -> list[date]:
    out, d = [], FIRST_DAY
    while d <= LAST_DAY:
        if 4 <= d.month <= 10:
            out.append(d)
        d += timedelta(days=REVISIT_DAYS)
    return out


def cloud_fraction(m: MineDef, d: date) -> float:
    """Deterministic weather: mostly clear, some partly cloudy, a few overcast scenes."""
    h = int(hashlib.sha256(f"{m.license_no}{d}".encode()).hexdigest()[:8], 16)
    rng = np.random.default_rng(h)
    r = rng.random()
    if r < 0.55:
        return 0.0
    if r < 0.85:
        return float(rng.uniform(0.05, 0.35))
    return float(rng.uniform(0.6, 0.95))


def mining_right(m: MineDef) -> MiningRight:
    frame = MineFrame.of(m)
    return MiningRight(
        license_no=m.license_no, holder=m.holder, mine_name=m.mine_name,
        valid_from=date(2021, 1, 1), valid_to=date(2035, 12, 31), county_code=m.county_code,
        boundary=frame.rect_geo(m.boundary_rect), mineral=m.mineral, mining_method=m.mining_method,
        abnormal_list=m.abnormal_list, contact_name=m.contact[0], contact_phone=m.contact[1],
        contact_address=m.contact[2])


def filed_unit(section: str, seq: int, geom: BaseGeometry, **attrs: Any) -> Unit:
    """A plan row as a holder files it: 拐点坐标 and declared area taken from the polygon."""
    return Unit(section=section, seq=seq, geometry=geom, corner_points=coords.format_corner_points(geom),
                area_hm2=coords.area_hm2(geom), **attrs)


# what a holder writes for a planned unit of each target class: (质量要求, 修复措施)
PLAN_WORDS = {"0404": ("植被覆盖度≥50%", "覆土、撒播草籽"), "0305": ("灌木覆盖度≥40%", "覆土、栽植柠条"),
              "0301": ("郁闭度≥0.2", "覆土、植树"), "0307": ("郁闭度≥0.1", "覆土、植树")}
# fees (万元) per plan year: drawn/used last year, planned draw/use this year; 2026's "last
# year" figures are 2025's plan
FEES = {PREV_YEAR: (110.0, 95.5, 120.5, 98.25), PLAN_YEAR: (120.5, 98.25, 130.0, 125.75)}


def earlier_units(m: MineDef) -> tuple[UnitDef, ...]:
    """The 2025 plan's rows: every unit the 2026 plan reports restored, planned on the same
    ground with the same class (序号 in 2026 order), the damage units carried over, and the
    rows only the 2025 plan has (`MineDef.earlier_only`)."""
    restored = sorted((u for u in m.units if u.section == RESTORED), key=lambda u: u.seq)
    planned = tuple(replace(u, section=PLANNED, seq=i, quality=PLAN_WORDS[u.land_class][0],
                            measures=PLAN_WORDS[u.land_class][1], accepted=None)
                    for i, u in enumerate(restored, start=1))
    out = planned + tuple(u for u in m.units if u.section == DAMAGE) + m.earlier_only
    rows = [(u.section, u.seq) for u in out]
    if len(set(rows)) != len(rows):
        raise ValueError(f"{m.license_no}: 2025 rows share a 序号: {sorted(rows)}")
    return out


def annual_plan(m: MineDef, year: int = PLAN_YEAR) -> AnnualPlan:
    """The mine's plan of `year` (PLAN_YEAR or PREV_YEAR) as filed."""
    frame = MineFrame.of(m)
    units = in_table_order(
        filed_unit(u.section, u.seq, frame.rect_geo(u.rect), is_temporary=u.is_temporary,
                   land_class=u.land_class, quality=u.quality, accepted=u.accepted,
                   problem_type=u.problem_type, damage_degree=u.damage_degree, measures=u.measures)
        for u in (m.units if year == PLAN_YEAR else earlier_units(m)))
    drawn, used, draw, use = FEES[year]
    return AnnualPlan(plan_year=year, license_no=m.license_no, holder=m.holder, mine_name=m.mine_name,
                      validity="2021-01-01至2035-12-31", contact_name=m.contact[0], contact_phone=m.contact[1],
                      contact_address=m.contact[2], units=units,
                      fees_last_year_drawn=drawn, fees_last_year_used=used,
                      fees_this_year_planned_draw=draw, fees_this_year_planned_use=use)


# when the bureau applied and accepted the units each year's plan reports accepted: before the
# 2025 plan was due (restored in 2024), and in the autumn of 2025 (restored that summer);
# both within the 60 working days the regulation allows
ACCEPTED_ON = {PREV_YEAR: (date(2024, 12, 20), date(2025, 3, 10)), PLAN_YEAR: (date(2025, 9, 1), date(2025, 10, 20))}


def acceptance_list() -> list[Accepted]:
    """The county's 合格 records: one for every unit a plan of either year reports accepted."""
    return [r for m in MINES for y in (PREV_YEAR, PLAN_YEAR) for r in accepted_rows(annual_plan(m, y), *ACCEPTED_ON[y])]


def write_promises(out_dir: Path) -> None:
    """Registry CSV, plan .xlsx files of both years, acceptance.csv and truths.yaml (small: committed)."""
    from minewatch.promised.planwriter import write_plan_xlsx
    from minewatch.promised.registry import write_registry_csv

    out_dir = Path(out_dir)
    (out_dir / "plans").mkdir(parents=True, exist_ok=True)
    write_registry_csv([mining_right(m) for m in MINES], out_dir / "registry.csv")
    for m in MINES:
        for y in (PREV_YEAR, PLAN_YEAR):
            write_plan_xlsx(annual_plan(m, y), out_dir / "plans" / f"{m.license_no}_{y}.xlsx")
    write_acceptance_csv(acceptance_list(), out_dir / "acceptance.csv")
    truths = {"plan_year": PLAN_YEAR, "plan_years": [PREV_YEAR, PLAN_YEAR], "anomalies": list(TRUTHS),
              "passing_units": [{"license_no": lic, "unit_section": s, "unit_seq": q, "key": f"{s}:{q}"}
                                for lic, s, q in PASSING]
              + [{"license_no": lic, "key": k, "needs": HISTORY_RULES, "why": why} for lic, k, why in PASSING_EARLIER],
              "not_flagged": [{"license_no": lic, "key": k, "needs": HISTORY_RULES, "why": why}
                              for lic, k, why in NEGATIVES]}
    (out_dir / "truths.yaml").write_text(
        "# Planted truths of the bundled sample (written by minewatch.synth.sample).\n"
        + yaml.safe_dump(truths, allow_unicode=True, sort_keys=False), encoding="utf-8")


def write_scenes(scene_dir: Path, catalog_dir: Path, mines: Sequence[MineDef] = MINES,
                 dates: Sequence[date] | None = None) -> int:
    """All scenes of all mines as COGs, plus the catalogue folder; returns the scene count."""
    items = []
    for m in mines:
        frame = MineFrame.of(m)
        nat = _natural_peak(m)
        for i, d in enumerate(dates or scene_dates()):
            fvc, bg = ground(m, d, nat)
            sat = "S2A" if i % 2 == 0 else "S2B"
            spec = s2.SceneSpec(
                item_id=f"{sat}_{m.mgrs_tile}_{d:%Y%m%d}_0_L2A",
                datetime=datetime(d.year, d.month, d.day, 3, 10, tzinfo=timezone.utc),
                epsg=frame.epsg, bounds=frame.bounds, mgrs_tile=m.mgrs_tile,
                cloud_fraction=cloud_fraction(m, d), seed=m.seed * 10_000 + i)
            items.append(s2.write_scene(scene_dir, spec, fvc, bg))
    s2.write_collection(catalog_dir, items)
    return len(items)


def generator_version() -> str:
    """Hash of the generator's own source: scenes made by older code are made again."""
    src = Path(__file__).read_bytes() + Path(s2.__file__).read_bytes()
    return hashlib.sha256(src).hexdigest()[:16]


def ensure_sample(root: Path) -> Path:
    """Generate the scenes on first use (they are not committed); returns the catalogue folder.

    Item hrefs are absolute paths, so a moved checkout regenerates too.
    """
    root = Path(root).resolve()
    catalog_dir = root / "catalog"
    done = catalog_dir / ".complete"
    stamp = f"{generator_version()} {root}\n"
    if not done.exists() or done.read_text() != stamp:
        import shutil
        for d in (root / "scenes", catalog_dir):
            shutil.rmtree(d, ignore_errors=True)
        write_scenes(root / "scenes", catalog_dir)
        done.write_text(stamp)
    return catalog_dir
