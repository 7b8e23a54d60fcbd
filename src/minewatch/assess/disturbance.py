"""Undeclared disturbance: vegetation lost this season against the same season last year.

Season-aware baseline (the same assessment season a year earlier, so phenology cancels),
confirmed by persistence (several clear observations below the bare threshold), kept
only above a minimum mapping unit, then vectorised.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rasterio.features import shapes
from scipy import ndimage
from shapely.geometry import shape
from shapely.ops import unary_union

from minewatch.config import DisturbanceSettings


@dataclass(frozen=True)
class LossPatch:
    geometry_utm: object        # shapely polygon in the grid's CRS
    n_px: int
    baseline_ndvi: float        # patch mean of per-pixel baseline medians
    current_ndvi: float         # patch mean of per-pixel current medians
    loss_observations: int      # median per-pixel count of confirming observations
    scenes: tuple[str, ...]     # scenes where most of the patch was clear and bare


def loss_mask(base_ndvi: np.ndarray, base_clear: np.ndarray,
              cur_ndvi: np.ndarray, cur_clear: np.ndarray, cfg: DisturbanceSettings):
    """Per-pixel confirmed loss, and the per-pixel baseline median and loss counts."""
    with np.errstate(all="ignore"):
        base = np.nanmedian(np.where(base_clear, base_ndvi, np.nan), axis=0)
    cur_ok = cur_clear & np.isfinite(cur_ndvi)
    loss_obs = cur_ok & (cur_ndvi <= cfg.bare_ndvi) & ((base[None] - cur_ndvi) >= cfg.ndvi_drop)
    n_loss = loss_obs.sum(axis=0)
    n_ok = cur_ok.sum(axis=0)
    confirmed = (n_loss >= cfg.min_clear_obs) & (2 * n_loss >= n_ok) & np.isfinite(base)
    return confirmed, base, loss_obs


def loss_patches(confirmed: np.ndarray, eligible: np.ndarray, base: np.ndarray,
                 cur_ndvi: np.ndarray, cur_clear: np.ndarray, loss_obs: np.ndarray,
                 item_ids: list[str], transform, pixel_area_m2: float,
                 cfg: DisturbanceSettings) -> list[LossPatch]:
    """Connected (8-neighbour) patches of confirmed loss within `eligible`, above the MMU."""
    labels, n = ndimage.label(confirmed & eligible, structure=np.ones((3, 3), bool))
    min_px = cfg.min_area_hm2 * 10_000 / pixel_area_m2
    patches = []
    with np.errstate(all="ignore"):
        cur_med = np.nanmedian(np.where(cur_clear, cur_ndvi, np.nan), axis=0)
    for lab in range(1, n + 1):
        m = labels == lab
        npx = int(m.sum())
        if npx < min_px:
            continue
        geom = unary_union([shape(g) for g, v in shapes(m.astype("uint8"), mask=m,
                                                         transform=transform, connectivity=8) if v])
        frac_bare = loss_obs[:, m].mean(axis=1)
        scenes = tuple(sorted(i for i, f in zip(item_ids, frac_bare) if f >= 0.5))
        patches.append(LossPatch(geom, npx, round(float(base[m].mean()), 4),
                                 round(float(np.nanmean(cur_med[m])), 4),
                                 int(np.median(loss_obs[:, m].sum(axis=0))), scenes))
    return patches
