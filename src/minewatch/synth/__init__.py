"""Deterministic Sentinel-2-like scenes and sample mines, so the pipeline runs offline.

``scenes`` (COGs and STAC items), ``sample`` (the bundled three-mine sample),
``scenarios`` (the labelled evaluation), ``planfiles`` (messy, template and broken plan
files for the reader's and validator's tests).
"""

__all__ = ["planfiles", "sample", "scenarios", "scenes"]
