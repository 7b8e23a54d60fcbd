"""What inspectors and platforms receive.

``geojson`` (RFC 7946 anomalies), ``lifecycle`` (new / ongoing / resolved across nights),
``onemap`` (the CGCS2000 GeoPackage for the one-map platform), ``report`` (the per-mine
Chinese HTML report), ``spotcheck`` (the ranked list), ``composites`` (season COGs),
``disclosure`` (the public profile), ``runfolder`` (dated run folders and `latest`).
"""

__all__ = ["composites", "disclosure", "geojson", "lifecycle", "onemap", "report", "runfolder", "spotcheck"]
