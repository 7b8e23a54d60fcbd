"""What was promised: mining-right registry, annual plans, 三调 land classes, 拐点坐标.

``models`` (the plain data), ``registry`` (mining rights), ``table`` (the official 附表's
layout and value parsers), ``planwriter`` / ``planreader`` (the 附表 as .xlsx),
``package`` (the .xlsx guard against hostile files), ``machine`` (the GeoJSON + YAML
equivalent), ``validate`` (rules across cells, rows and the registry), ``findings``,
``landclasses`` (三调 catalogue), ``coords`` (拐点坐标, CGCS2000 Gauss-Krüger, areas).
"""

__all__ = [
    "coords", "findings", "landclasses", "machine", "models", "package", "planreader", "planwriter",
    "registry", "table", "validate",
]
