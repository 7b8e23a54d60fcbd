"""Units judged by their parts as well as their mean: PARTIAL_RESTORATION (部分未修复).

Rule (docs/assessment.md §3): a unit of this plan (planned or restored, temporary land
included) with an FVC target, judged once its season is over, whose largest 8-connected bare
part is at least ``parts.min_area_hm2`` and ``parts.min_share`` of the unit is reported with
the part's polygon and area. A pixel is bare when its median FVC over the season's clear dates
(at least ``min_clear_obs``) is under the bare line: ``parts.bare_fvc``, lowered to
``reference.sparse_share`` x the ring's cover where the ring is sparse (natural cover that
matches its surroundings is not bare). Cropland units (assess.cropland) are seen on the
cropland ring's peak dates only. Where the unit's mean already fails (RESTORATION_SHORTFALL,
CLAIMED_RESTORATION_NOT_OBSERVED, TEMPORARY_LAND_NOT_RESTORED, VEGETATION_DEGRADATION), the
unit is one finding and this one is dropped (assess.judge.explained).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from affine import Affine
from rasterio.features import shapes
from scipy import ndimage
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from minewatch.assess.anomaly import Anomaly, RuleResult
from minewatch.assess.confidence import classify
from minewatch.assess.cropland import is_cropland, peak_ids
from minewatch.assess.disturbance import clear_median
from minewatch.assess.evidence import Evidence
from minewatch.assess.rules import reference_of, unit_key
from minewatch.assess.season import Season
from minewatch.assess.thresholds import ThresholdTable
from minewatch.config import Settings
from minewatch.promised import coords
from minewatch.promised.models import PLANNED, RESTORED, AnnualPlan, MiningRight

__all__ = ["BarePart", "bare_part", "partial_restoration"]


@dataclass(frozen=True)
class BarePart:
    mask: np.ndarray            # (y, x) the part's pixels
    n_px: int
    unit_px: int
    fvc: float                  # median of the part's per-pixel season medians
    clear_observations: int     # median clear dates over the part
    agree: float                # median share of the part's clear dates under the bare line


def bare_part(unit_mask: np.ndarray, fvc: np.ndarray, clear: np.ndarray, bare_fvc: float,
              min_clear_obs: int) -> BarePart | None:
    """The unit's largest 8-connected bare part (pixel median FVC over clear dates < bare_fvc,
    on >= min_clear_obs dates); arrays (t, y, x) over the dates judged. None: no bare pixel."""
    ok = clear & np.isfinite(fvc)
    n_ok = ok.sum(axis=0)
    med = clear_median(fvc, ok)
    bare = unit_mask & (n_ok >= min_clear_obs) & (med < bare_fvc)
    labels, n = ndimage.label(bare, structure=np.ones((3, 3), bool))
    if n == 0:
        return None
    sizes = np.bincount(labels.ravel())[1:]
    part = labels == int(np.argmax(sizes)) + 1
    under = (ok & (fvc < bare_fvc))[:, part].sum(axis=0)
    return BarePart(part, int(part.sum()), int(unit_mask.sum()), round(float(np.median(med[part])), 4),
                    int(np.median(n_ok[part])), round(float(np.median(under / np.maximum(n_ok[part], 1))), 4))


def unit_view(unit_mask: np.ndarray, unit_fvc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The unit's bounding box: its mask (y, x) and (t, y, x) FVC (NaN off the unit or not
    clear) from its (t, unit px) table (`Evidence.unit_fvc`, the mask's row-major order)."""
    r, c = np.nonzero(unit_mask)
    box = (slice(r.min(), r.max() + 1), slice(c.min(), c.max() + 1))
    mask = unit_mask[box]
    out = np.full((unit_fvc.shape[0],) + mask.shape, np.nan, np.float32)
    out[:, mask] = unit_fvc
    return mask, out


def in_window(box_mask: np.ndarray, unit_mask: np.ndarray) -> np.ndarray:
    """A (y, x) mask of the unit's bounding box (`unit_view`) on the whole window."""
    r, c = np.nonzero(unit_mask)
    out = np.zeros(unit_mask.shape, bool)
    out[r.min():r.min() + box_mask.shape[0], c.min():c.min() + box_mask.shape[1]] = box_mask
    return out


def _polygon(mask: np.ndarray, transform: Affine) -> BaseGeometry:
    return unary_union([shape(g) for g, v in shapes(mask.astype("uint8"), mask=mask, transform=transform,
                                                    connectivity=8) if v])


def partial_restoration(ev: Evidence, right: MiningRight, plan: AnnualPlan | None, thresholds: ThresholdTable,
                        s: Settings) -> RuleResult:
    """PARTIAL_RESTORATION (module docstring) for this plan's planned and restored units."""
    a, p = s.assess, s.assess.parts
    if plan is None or not p.enabled:
        return RuleResult()
    px_hm2 = ev.grid.resolution ** 2 / 10_000
    out: list[Anomaly] = []
    for u in plan.section(PLANNED) + plan.section(RESTORED):
        key = unit_key(u)
        th = thresholds.lookup(u.land_class, a.region, county_code=right.county_code) if u.land_class else None
        if th is None or th.measure != "fvc" or key not in ev.unit_masks or not ev.unit_masks[key].any():
            continue
        season = Season.of(plan.plan_year, *(th.season_mmdd or (a.season_start, a.season_end)))
        if ev.as_of < season.end:
            continue
        steps = np.array([season.start <= d <= season.end for d in np.array(ev.times, "datetime64[D]").astype(object)])
        if a.cropland.enabled and is_cropland(u.land_class, a.cropland.land_class_prefix):
            peaks = peak_ids(ev.series, season, a.reference.min_clear_fraction, a.cropland.peak_share)
            if peaks:
                steps &= np.isin(np.array(ev.ids), peaks)
        ref = reference_of(ev.series, season, a.reference.min_clear_fraction, a.reference.min_factor, a.min_clear_obs)
        bare_line = min(p.bare_fvc, round(a.reference.sparse_share * ref.now, 4)) if ref.now else p.bare_fvc
        mask, fvc = unit_view(ev.unit_masks[key], ev.unit_fvc[key][steps])
        part = bare_part(mask, fvc, np.isfinite(fvc), bare_line, a.min_clear_obs)
        if part is None:
            continue
        part_hm2, share = part.n_px * px_hm2, part.n_px / part.unit_px
        if part_hm2 < p.min_area_hm2 or share < p.min_share:
            continue
        box_mask = part.mask      # NaN (not clear) is never under the line
        part = replace(part, mask=in_window(box_mask, ev.unit_masks[key]))
        g = coords.transform(_polygon(part.mask, ev.transform), ev.epsg, 4490)
        confidence = classify(part.clear_observations, part.agree, bare_line - part.fvc, min_obs=a.min_clear_obs,
                              margin_min=a.confidence.fvc_margin, agree_high=a.confidence.agree_high,
                              agree_highest=a.confidence.agree_highest)
        ids = [i for i, k in zip(ev.ids, steps) if k]
        frac = (fvc < bare_line)[:, box_mask].mean(axis=1)
        out.append(Anomaly(
            type="PARTIAL_RESTORATION", severity="medium", license_no=right.license_no, mine_name=right.mine_name,
            plan_year=plan.plan_year, geometry=g, area_hm2=coords.area_hm2(g), period=season.label,
            observed={"part_hm2": round(part_hm2, 4), "part_share": round(share, 4), "part_fvc": part.fvc,
                      "pixels": part.n_px, "clear_observations": part.clear_observations,
                      "agreeing_dates": part.agree, "unit_hm2": round(part.unit_px * px_hm2, 4),
                      "statistic": "largest 8-connected part of pixels whose season-median FVC is bare"},
            expected={"rule": "no contiguous bare part >= min_area_hm2 and >= min_share of the unit",
                      "min_area_hm2": p.min_area_hm2, "min_share": p.min_share, "bare_fvc_max": bare_line,
                      "land_class": th.land_class, "min": th.min, "source": th.source},
            evidence_scenes=tuple(sorted(i for i, f in zip(ids, frac) if f >= 0.5)), unit_seq=u.seq,
            unit_section=u.section, target_land_class=u.land_class, key=key,
            notes_zh="单元整体达标, 但其中连片部分仍为裸地, 需补植补种", confidence=confidence))
    return RuleResult(tuple(out))
