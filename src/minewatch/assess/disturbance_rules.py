"""The disturbance rules: vegetation loss and bare ground where the plan declared none.

- UNDECLARED_DISTURBANCE: a loss patch (assess.disturbance) inside the boundary and outside
  every declared unit;
- OUT_OF_BOUNDARY_DISTURBANCE: a loss patch outside the boundary, inside the search buffer
  and outside declared units (temporary land may lie outside the boundary);
- DAMAGE_EXCEEDS_DECLARED: bare ground connected to a declared damage unit beyond its declared
  area by more than max(min_area_hm2, damage_tolerance x declared).

Each is judged once the season is over and only with both baseline and current dates.
Declared units count as declared on every pixel they touch (a patch on a unit's edge is the
unit's); the damage unit itself is measured on its pixel centres, as the series are.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable
from typing import Any

import numpy as np
from shapely.geometry.base import BaseGeometry

from minewatch.assess.anomaly import Anomaly, RuleResult
from minewatch.assess.confidence import classify
from minewatch.assess.disturbance import LossPatch, damage_excess, loss_patches
from minewatch.assess.evidence import Evidence
from minewatch.assess.masks import burn
from minewatch.assess.reference import bare_ceiling, season_ndvi
from minewatch.assess.rules import unit_key
from minewatch.assess.thresholds import ThresholdTable
from minewatch.config import Settings
from minewatch.promised import coords
from minewatch.promised.models import DAMAGE, AnnualPlan, MiningRight, Unit

__all__ = ["undeclared_disturbance", "out_of_boundary_disturbance", "damage_exceeds_declared", "loss_judged",
           "loss_patches_in", "loss_anomaly"]


def loss_judged(ev: Evidence) -> bool:
    return ev.loss is not None and ev.as_of >= ev.dates.season.end


def _units(plan: AnnualPlan | None) -> dict[str, Unit]:
    return {unit_key(u): u for u in (plan.units if plan else ())}


def _union(masks: Iterable[np.ndarray]) -> np.ndarray:
    out = None
    for m in masks:
        out = m.copy() if out is None else out | m
    assert out is not None   # callers pass at least one mask
    return out


def _declared(ev: Evidence, keys: Collection[str] | None = None) -> np.ndarray:
    """Every pixel a declared unit (of `keys`, default all but those only measured for the
    history rules: last year's planned units this plan drops are not declared ground) touches."""
    ms = [m for k, m in ev.unit_footprints.items()
          if (k in keys if keys is not None else k not in ev.measured_only)]
    return _union(ms) if ms else np.zeros(ev.grid.shape, bool)


def _to_4490(geom_utm: BaseGeometry, epsg: int) -> BaseGeometry:
    return coords.transform(geom_utm, epsg, 4490)


def loss_patches_in(ev: Evidence, eligible: np.ndarray, s: Settings) -> list[LossPatch]:
    assert ev.loss is not None and ev.season is not None   # rules call this only when loss_judged(ev)
    return loss_patches(ev.loss, ev.season, eligible, ev.current_ids, ev.transform, ev.grid.resolution ** 2,
                        s.assess.disturbance)


def loss_anomaly(kind: str, p: LossPatch, ev: Evidence, right: MiningRight, s: Settings, rule: str,
                 notes: str, **unit: Any) -> Anomaly:
    """One loss patch as a finding; ``unit``: the unit fields (key, unit_section, unit_seq,
    target_land_class, unit_id) of a finding about one unit."""
    cfg, conf_cfg = s.assess.disturbance, s.assess.confidence
    g = _to_4490(p.geometry_utm, ev.epsg)
    c = p.geometry_utm.centroid
    drop = p.baseline_ndvi - p.current_ndvi
    confidence = classify(p.loss_observations, p.agree, drop - cfg.ndvi_drop + conf_cfg.fvc_margin,
                          min_obs=cfg.min_clear_obs, margin_min=conf_cfg.fvc_margin,
                          agree_high=conf_cfg.agree_high, agree_highest=conf_cfg.agree_highest)
    if confidence == "highest" and coords.area_hm2(g) < 2 * cfg.min_area_hm2:
        confidence = "high"          # highest also needs twice the minimum mapping unit
    a = Anomaly(
        type=kind, severity="high", license_no=right.license_no,
        mine_name=right.mine_name, plan_year=ev.plan_year, geometry=g, area_hm2=coords.area_hm2(g),
        period=ev.dates.season.label,
        observed={"ndvi_baseline": p.baseline_ndvi, "ndvi_current": p.current_ndvi,
                  "ndvi_drop": round(drop, 4), "clear_observations": p.loss_observations,
                  "clear_dates_current": p.clear_observations, "agreeing_dates": p.agree, "pixels": p.n_px},
        expected={"rule": rule, "ndvi_drop_min": cfg.ndvi_drop, "bare_ndvi_max": cfg.bare_ndvi,
                  "min_clear_obs": cfg.min_clear_obs, "min_area_hm2": cfg.min_area_hm2,
                  "baseline_period": ev.dates.baseline_seasons[0].label,
                  "source": "same-season baseline; minimum mapping unit as GFW alerts (0.2 ha)"},
        evidence_scenes=p.scenes, key=f"{'loss' if kind == 'UNDECLARED_DISTURBANCE' else 'oob'}"
                                      f"@{round(c.x, -2):.0f},{round(c.y, -2):.0f}",
        notes_zh=notes, confidence=confidence)
    return dataclasses.replace(a, **unit) if unit else a


def undeclared_disturbance(ev: Evidence, right: MiningRight, plan: AnnualPlan | None,
                           thresholds: ThresholdTable, s: Settings) -> RuleResult:
    """UNDECLARED_DISTURBANCE: loss inside the boundary, off every declared unit."""
    if not loss_judged(ev):
        return RuleResult()
    inside = burn([ev.boundary_utm], ev.grid)
    return RuleResult(tuple(
        loss_anomaly("UNDECLARED_DISTURBANCE", p, ev, right, s, "no vegetation loss outside declared units",
                      "边界内出现未在年度计划中申报的植被损毁，需核实并修编方案")
        for p in loss_patches_in(ev, inside & ~_declared(ev), s)))


def out_of_boundary_disturbance(ev: Evidence, right: MiningRight, plan: AnnualPlan | None,
                                thresholds: ThresholdTable, s: Settings) -> RuleResult:
    """OUT_OF_BOUNDARY_DISTURBANCE: loss in the search buffer outside the boundary, off declared units."""
    if not loss_judged(ev) or not s.assess.disturbance.out_of_boundary:
        return RuleResult()
    inside = burn([ev.boundary_utm], ev.grid)
    search = burn([ev.boundary_utm.buffer(s.catalog.buffer_m)], ev.grid)
    temporary = _declared(ev, {k for k, u in _units(plan).items() if u.is_temporary})
    return RuleResult(tuple(
        loss_anomaly("OUT_OF_BOUNDARY_DISTURBANCE", p, ev, right, s,
                      "no vegetation loss outside the boundary (search buffer) except on declared temporary land",
                      "矿区范围外出现植被损毁（非申报临时用地），疑似越界开采或堆放")
        for p in loss_patches_in(ev, search & ~inside & ~temporary & ~_declared(ev), s)))


def ring_ndvi(ev: Evidence, s: Settings) -> float | None:
    """The natural ring's season NDVI: median over this season's dates it is clear enough on."""
    return season_ndvi(ev.reference, ev.current_ids, s.assess.reference.min_clear_fraction, s.assess.min_clear_obs)


def damage_exceeds_declared(ev: Evidence, right: MiningRight, plan: AnnualPlan | None,
                            thresholds: ThresholdTable, s: Settings) -> RuleResult:
    """DAMAGE_EXCEEDS_DECLARED: per declared damage unit, connected bare ground beyond the allowance."""
    if not loss_judged(ev):
        return RuleResult()
    cfg, conf_cfg = s.assess.disturbance, s.assess.confidence
    assert ev.loss is not None and ev.season is not None   # loss_judged(ev)
    # matching a sparse ring (desert steppe) is not bare: the bare line stays under the ring's NDVI
    bare_ndvi = bare_ceiling(cfg.bare_ndvi, ring_ndvi(ev, s), s.assess.reference.sparse_ndvi_gap)
    season = ev.damage_season if ev.damage_season is not None and bare_ndvi < cfg.bare_ndvi else ev.season
    out: list[Anomaly] = []
    for k, u in _units(plan).items():
        if u.section != DAMAGE:
            continue
        um = ev.unit_masks[k]
        if not um.any():
            continue
        others = [m for kk, m in ev.unit_masks.items() if kk != k]
        others_declared = _union(others) if others else np.zeros(ev.grid.shape, bool)
        ex = damage_excess(um, ~others_declared & ~ev.loss.confirmed, season, ev.current_ids, ev.transform, cfg,
                           bare_ndvi)
        if ex is None:
            continue
        px_hm2 = ev.grid.resolution ** 2 / 10_000
        declared_hm2 = u.area_hm2 if u.area_hm2 else coords.area_hm2(u.geometry)
        excess_hm2 = ex.excess_px * px_hm2
        allowed = max(cfg.min_area_hm2, cfg.damage_tolerance * declared_hm2)
        if excess_hm2 < allowed:
            continue
        g = _to_4490(ex.geometry_utm, ev.epsg)
        confidence = classify(ex.clear_observations, ex.agree, excess_hm2 / allowed - 1 + conf_cfg.fvc_margin,
                              min_obs=cfg.min_clear_obs, margin_min=conf_cfg.fvc_margin,
                              agree_high=conf_cfg.agree_high, agree_highest=conf_cfg.agree_highest)
        out.append(Anomaly(
            type="DAMAGE_EXCEEDS_DECLARED", severity="high" if excess_hm2 >= declared_hm2 else "medium",
            license_no=right.license_no, mine_name=right.mine_name, plan_year=ev.plan_year, geometry=g,
            area_hm2=coords.area_hm2(g), period=ev.dates.season.label,
            observed={"measured_bare_hm2": round(ex.measured_px * px_hm2, 4), "excess_hm2": round(excess_hm2, 4),
                      "ndvi_current": ex.current_ndvi, "clear_observations": ex.clear_observations,
                      "agreeing_dates": ex.agree, "pixels": ex.excess_px},
            expected={"rule": "bare ground connected to a declared damage unit <= declared area + "
                              "max(min_area_hm2, damage_tolerance x declared)",
                      "declared_hm2": round(declared_hm2, 4), "allowed_excess_hm2": round(allowed, 4),
                      "damage_tolerance": cfg.damage_tolerance, "bare_ndvi_max": bare_ndvi,
                      "min_clear_obs": cfg.min_clear_obs},
            evidence_scenes=ex.scenes, unit_seq=u.seq, unit_section=u.section, key=k,
            notes_zh="实测裸露/损毁面积明显超出年度计划申报的损毁面积", confidence=confidence))
    return RuleResult(tuple(out))
