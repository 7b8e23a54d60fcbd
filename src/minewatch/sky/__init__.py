"""What the sky shows: STAC catalogue, Sentinel-2 cube, cloud masks, indices, per-unit series.

One chain from a mine's window to what the judgement needs: `catalog.search_scenes` (items,
normalised by `sources`) -> `cube.load_window` (read through `reader.WindowReader` under
`reader.gdal_env`, kept step by step in `pixels.PixelStore`) -> `cube.to_reflectance` ->
`masks.clear_mask` -> `indices` -> `series.unit_stats`.
"""

__all__ = ["catalog", "cube", "indices", "masks", "pixels", "reader", "series", "sources"]
