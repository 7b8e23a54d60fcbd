"""Deterministic Sentinel-2-like scenes and sample mines, so the pipeline runs offline."""
