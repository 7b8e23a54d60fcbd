"""Geometries burnt onto a mine's grid: the one place assess rasterises."""
from __future__ import annotations

from typing import Iterable

import numpy as np
from rasterio.features import rasterize

from minewatch.sky.cube import Grid


def burn(geoms: Iterable, grid: Grid, *, all_touched: bool = False) -> np.ndarray:
    """(y, x) bool: pixels whose centre lies in any of `geoms` (with `all_touched`, every pixel
    they touch). None and empty geometries are skipped; none left gives all False."""
    h, w = grid.shape
    geoms = [g for g in geoms if g is not None and not g.is_empty]
    if not geoms:
        return np.zeros((h, w), bool)
    return rasterize([(g, 1) for g in geoms], out_shape=(h, w), transform=grid.transform, fill=0,
                     all_touched=all_touched, dtype="uint8").astype(bool)
