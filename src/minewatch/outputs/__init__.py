"""What inspectors and platforms receive.

``geojson`` (RFC 7946 anomalies), ``lifecycle`` (new / ongoing / resolved across nights),
``onemap`` (the CGCS2000 GeoPackage for the one-map platform, its layer definition),
``onemap_formats`` (File Geodatabase and shapefiles from it), ``onemap_gk`` (its Gauss-Krüger
layers), ``onemap_meta`` (its metadata record), ``onemap_styles`` (its Chinese aliases and QGIS
default styles), ``onemap_changes`` (its changes since the previous night), ``report`` (the per-mine
Chinese HTML report), ``spotcheck`` (the ranked list), ``composites`` (season COGs),
``disclosure`` (the public profile), ``runfolder`` (dated run folders and `latest`),
``navigation`` (anomaly coordinates for the field), ``fieldexport`` (KML/GPX), ``pdf``
(reproducible Chromium PDFs), ``overview`` (the run folder's index.html), ``counties`` (county
outlines for the locator map from the operator's 行政区划 layer).
"""

__all__ = ["composites", "counties", "disclosure", "fieldexport", "geojson", "lifecycle", "navigation", "onemap",
           "onemap_changes", "onemap_formats", "onemap_gk", "onemap_meta", "onemap_styles", "overview", "pdf",
           "report", "runfolder", "spotcheck"]
