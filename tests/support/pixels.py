"""Per-pixel evidence (`assess.pixelstats.PixelStats`) of whole hand-made (t, y, x) arrays, one tile."""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from minewatch.assess.evidence import Dates
from minewatch.assess.pixelstats import PixelStats, TileArrays, Window, pixel_stats
from minewatch.config import Settings


def pixels_of(ndvi: np.ndarray, clear: np.ndarray, dates: Dates, s: Settings, *, fvc: np.ndarray | None = None,
              mndwi: np.ndarray | None = None, masks: np.ndarray | None = None,
              ring: np.ndarray | None = None, times: np.ndarray | None = None,
              ids: Iterable[str] | None = None, plan_year: int | None = None) -> PixelStats:
    """The window's stats as `pipeline.process_mine` reduces them: FVC by the config's end members
    unless given, no water (MNDWI -1) unless given, one reflectance band of zeros, no "before" image.
    Without `times` the steps are dated in the plan year (no field year, no cropland ring)."""
    t, h, w = ndvi.shape
    if fvc is None:
        i = s.indices
        fvc = np.clip((ndvi - i.ndvi_soil) / (i.ndvi_veg - i.ndvi_soil), 0, 1).astype(np.float32)
    a = TileArrays(ndvi, fvc, np.zeros_like(ndvi), np.full_like(ndvi, -1) if mndwi is None else mndwi, clear,
                   np.zeros((int(dates.composite.sum()), 1, h, w), np.float32), None)
    year = dates.season.start.year if plan_year is None else plan_year
    when = np.full(t, np.datetime64(f"{year}-07-01", "ns")) if times is None else times
    win = Window(when, tuple(str(i) for i in (ids if ids is not None else range(t))), year, dates.season,
                 dates.current, dates.baseline, dates.composite, None,
                 np.zeros((0, h, w), bool) if masks is None else masks, ring)
    return pixel_stats((h, w), max(h, w), lambda ys, xs: a, win, s.assess)
