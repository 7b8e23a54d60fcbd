"""The bundled sample: three fictional mines in northern China, their registry entries,
their 2026 annual plans in the official table, two growing seasons of Sentinel-2-like
scenes, and the planted truths the pipeline must find.

Everything is derived from the definitions below with fixed seeds, so the same call
writes the same bytes. Geometry is laid out in metres around each mine's centre in its
UTM zone; ground truth per unit is a vegetation-fraction trajectory over time.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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

PLAN_YEAR = 2026
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
            ), contact=("张示例", "0477-0000001", "内蒙古鄂尔多斯市准格尔旗示例路1号"), seed=11),
    MineDef("C1302832020051210000002", "示例迁安铁矿有限责任公司", "示例迁安铁矿", "130283", "铁矿", "露天开采",
            118.55, 40.02, "50TMK", (-1000, -800, 1000, 800), (
                UnitDef(RESTORED, 1, (-600, -400, -350, -150), "bare", land_class="0404", quality="合格",
                        accepted=False),
                UnitDef(RESTORED, 2, (200, -400, 450, -150), "restored_forest", land_class="0301", quality="合格",
                        accepted=True),
                UnitDef(DAMAGE, 1, (-300, 200, 300, 600), "bare", problem_type="压占", damage_degree="中度"),
                UnitDef(PLANNED, 1, (500, 200, 700, 400), "recover", land_class="0307", quality="郁闭度≥0.1",
                        measures="覆土、植树"),
            ), contact=("李示例", "0315-0000002", "河北省唐山市迁安市示例街2号"), abnormal_list=True, seed=22),
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

# The planted truths: exactly these anomalies, nothing else.
TRUTHS = (
    {"license_no": MINES[0].license_no, "type": "RESTORATION_SHORTFALL", "unit_section": PLANNED, "unit_seq": 2,
     "why": "计划修复为灌木林地(0305)，实际植被覆盖度约0.15，远低于0.40"},
    {"license_no": MINES[1].license_no, "type": "CLAIMED_RESTORATION_NOT_OBSERVED",
     "unit_section": RESTORED, "unit_seq": 1,
     "why": "申报上年度已修复为其他草地(0404)，影像仍为裸地"},
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
    for u in m.units:
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


def annual_plan(m: MineDef) -> AnnualPlan:
    frame = MineFrame.of(m)
    units = in_table_order(
        filed_unit(u.section, u.seq, frame.rect_geo(u.rect), is_temporary=u.is_temporary,
                   land_class=u.land_class, quality=u.quality, accepted=u.accepted,
                   problem_type=u.problem_type, damage_degree=u.damage_degree, measures=u.measures)
        for u in m.units)
    return AnnualPlan(plan_year=PLAN_YEAR, license_no=m.license_no, holder=m.holder, mine_name=m.mine_name,
                      validity="2021-01-01至2035-12-31", contact_name=m.contact[0], contact_phone=m.contact[1],
                      contact_address=m.contact[2], units=units,
                      fees_last_year_drawn=120.5, fees_last_year_used=98.25,
                      fees_this_year_planned_draw=130.0, fees_this_year_planned_use=125.75)


def write_promises(out_dir: Path) -> None:
    """Registry CSV, plan .xlsx files and truths.yaml (small: committed)."""
    from minewatch.promised.planwriter import write_plan_xlsx
    from minewatch.promised.registry import write_registry_csv

    out_dir = Path(out_dir)
    (out_dir / "plans").mkdir(parents=True, exist_ok=True)
    write_registry_csv([mining_right(m) for m in MINES], out_dir / "registry.csv")
    for m in MINES:
        write_plan_xlsx(annual_plan(m), out_dir / "plans" / f"{m.license_no}_{PLAN_YEAR}.xlsx")
    truths = {"plan_year": PLAN_YEAR, "anomalies": list(TRUTHS),
              "passing_units": [{"license_no": lic, "unit_section": s, "unit_seq": q} for lic, s, q in PASSING]}
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
