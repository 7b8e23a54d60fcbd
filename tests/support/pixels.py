"""Per-pixel evidence (`assess.pixelstats.PixelStats`) of whole hand-made (t, y, x) arrays, one tile."""
from __future__ import annotations

import numpy as np

from minewatch.assess.evidence import Dates
from minewatch.assess.pixelstats import PixelStats, TileArrays, tile_stats
from minewatch.config import Settings


def pixels_of(ndvi: np.ndarray, clear: np.ndarray, dates: Dates, s: Settings, *, fvc: np.ndarray | None = None,
              mndwi: np.ndarray | None = None, masks: np.ndarray | None = None,
              ring: np.ndarray | None = None) -> PixelStats:
    """The window's stats as `pipeline.process_mine` reduces them: FVC by the config's end members
    unless given, no water (MNDWI -1) unless given, one reflectance band of zeros, no "before" image."""
    t, h, w = ndvi.shape
    if fvc is None:
        i = s.indices
        fvc = np.clip((ndvi - i.ndvi_soil) / (i.ndvi_veg - i.ndvi_soil), 0, 1).astype(np.float32)
    a = TileArrays(ndvi, fvc, np.zeros_like(ndvi), np.full_like(ndvi, -1) if mndwi is None else mndwi, clear,
                   np.zeros((int(dates.composite.sum()), 1, h, w), np.float32), None)
    return tile_stats(a, dates.current, dates.baseline, dates.composite, None,
                      np.zeros((0, h, w), bool) if masks is None else masks, ring, s.assess.disturbance,
                      s.assess.reference.stable_ndvi_min)
