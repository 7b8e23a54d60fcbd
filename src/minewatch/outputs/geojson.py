"""Anomaly GeoJSON (RFC 7946): WGS 84 lon/lat, right-hand rings, one feature per finding.

CGCS2000 (EPSG:4490) and WGS 84 differ by centimetres here (docs/domain.md §2), so lon/lat
are written as they are. Output is deterministic: features sorted by id, fixed rounding.
"""
from __future__ import annotations

import json
from pathlib import Path

from shapely.geometry import MultiPolygon, Polygon, mapping
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

from minewatch.assess.anomaly import Anomaly
from minewatch.labels import SEVERITY_ZH
from minewatch.plumbing.atomic import write_text

COORD_DECIMALS = 6   # ~0.1 m: RFC 7946 §11.2 (6 decimals), well below a 10 m pixel


def rfc7946_geometry(geom: BaseGeometry) -> dict:
    """Counter-clockwise exteriors, clockwise holes, rounded coordinates."""
    if isinstance(geom, Polygon):
        geom = orient(geom, sign=1.0)
    elif isinstance(geom, MultiPolygon):
        geom = MultiPolygon([orient(p, sign=1.0) for p in geom.geoms])
    return json.loads(json.dumps(mapping(geom)), parse_float=lambda s: round(float(s), COORD_DECIMALS))


def feature(a: Anomaly) -> dict:
    return {
        "type": "Feature",
        "id": a.id,
        "geometry": rfc7946_geometry(a.geometry),
        "properties": {
            "id": a.id,
            "type": a.type,
            "type_zh": a.type_zh,
            "severity": a.severity,
            "severity_zh": SEVERITY_ZH[a.severity],
            "confidence": a.confidence,
            "license_no": a.license_no,
            "mine_name": a.mine_name,
            "plan_year": a.plan_year,
            "unit_seq": a.unit_seq,
            "unit_section": a.unit_section,
            "unit_id": a.unit_id,
            "target_land_class": a.target_land_class,
            "observed": a.observed,
            "expected": a.expected,
            "area_hm2": round(a.area_hm2, 4),
            "period": a.period,
            "evidence_scenes": list(a.evidence_scenes),
            "notes_zh": a.notes_zh,
        },
    }


def feature_collection(anomalies: list[Anomaly]) -> dict:
    feats = sorted((feature(a) for a in anomalies), key=lambda f: (f["properties"]["license_no"], f["id"]))
    return {"type": "FeatureCollection", "features": feats}


def write_anomalies(path: str | Path, anomalies: list[Anomaly]) -> Path:
    text = json.dumps(feature_collection(anomalies), ensure_ascii=False, indent=1, sort_keys=False)
    return write_text(path, text + "\n")
