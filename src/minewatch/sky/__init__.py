"""What the sky shows: STAC catalogue, Sentinel-2 cube, cloud masks, indices, per-unit series."""
