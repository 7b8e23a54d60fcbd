"""minewatch: check annual mine-restoration plans against Sentinel-2 imagery.

The package follows the pipeline's three questions, then what people receive:

- ``minewatch.promised``: what was promised (registry, annual plans, land classes, 拐点坐标)
- ``minewatch.sky``: what the sky shows (catalogue, cube, masks, indices, per-unit series)
- ``minewatch.assess``: where they differ (thresholds, rules, disturbance)
- ``minewatch.outputs``: what inspectors and platforms receive (GeoJSON, ...)

``pipeline`` wires one mine through them, ``job`` runs a night, ``flow`` is the Prefect
side and ``cli`` the commands; docs/architecture.md has the map and its layers.
"""

__version__ = "0.1.0"
