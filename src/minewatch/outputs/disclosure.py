"""Public disclosure (信息公开): strip personal data and fields marked confidential.

The regulation requires public disclosure to leave out secret or sensitive content. What
is removed:
- personal data: contact_name, contact_phone, contact_address (联系人, 联系电话, 联系地址),
  and their shapefile short names (ct_name, ct_phone, ct_addr);
- every field marked confidential in the one-map data dictionary (`onemap.DICTIONARY`);
- fields listed by the data itself: a FeatureCollection's ``confidential_fields`` member or
  a DataFrame's ``attrs["confidential_fields"]`` (the marker itself is dropped too);
- anything passed in ``extra``.
Keys are removed at every depth of a feature's properties (inside ``observed``/``expected``
too). Inputs are not modified.

Not done here: publishing precise coordinates on a public map in China needs the map
review (审图) rules of the surveying authorities; ``drop_geometry=True`` removes geometry
for lists that must not carry it.
"""
from __future__ import annotations

import copy
from typing import Any, Iterable

import pandas as pd

from minewatch.outputs.onemap import CONFIDENTIAL_FIELDS, DICTIONARY

PERSONAL_FIELDS = frozenset({"contact_name", "contact_phone", "contact_address"})
MARKER = "confidential_fields"


def stripped_fields(extra: Iterable[str] = ()) -> frozenset[str]:
    shp = {f.shp_name for f in DICTIONARY if f.confidential}
    return frozenset(PERSONAL_FIELDS | CONFIDENTIAL_FIELDS | shp | set(extra))


def _strip(obj: Any, drop: frozenset[str]) -> Any:
    if isinstance(obj, dict):
        return {k: _strip(v, drop) for k, v in obj.items() if k not in drop}
    if isinstance(obj, list):
        return [_strip(v, drop) for v in obj]
    return obj


def public_profile(fc_or_df: Any, extra: Iterable[str] = (), *, drop_geometry: bool = False) -> Any:
    """A copy fit for public disclosure: a FeatureCollection/Feature dict, a list of records,
    or a (Geo)DataFrame, with personal and confidential fields removed."""
    if isinstance(fc_or_df, pd.DataFrame):
        drop = stripped_fields(list(extra) + list(fc_or_df.attrs.get(MARKER, [])))
        out = fc_or_df.drop(columns=[c for c in fc_or_df.columns if c in drop])
        if drop_geometry and hasattr(out, "geometry"):
            out = pd.DataFrame(out.drop(columns=[out.geometry.name]))
        out.attrs = {k: v for k, v in fc_or_df.attrs.items() if k != MARKER}
        return out
    if isinstance(fc_or_df, list):
        return [public_profile(x, extra, drop_geometry=drop_geometry) for x in fc_or_df]
    if isinstance(fc_or_df, dict):
        marked = list(fc_or_df.get(MARKER, []))
        drop = stripped_fields(list(extra) + marked)
        if fc_or_df.get("type") == "FeatureCollection":
            out = {k: copy.deepcopy(v) for k, v in fc_or_df.items() if k not in ("features", MARKER)}
            out["features"] = [_feature(f, drop, drop_geometry) for f in fc_or_df.get("features", [])]
            return out
        if fc_or_df.get("type") == "Feature":
            return _feature(fc_or_df, drop, drop_geometry)
        return _strip({k: v for k, v in fc_or_df.items() if k != MARKER}, drop)
    raise TypeError(f"public_profile takes a FeatureCollection/Feature dict, records or a DataFrame, "
                    f"not {type(fc_or_df).__name__}")


def _feature(f: dict, drop: frozenset[str], drop_geometry: bool) -> dict:
    out = {k: copy.deepcopy(v) for k, v in f.items() if k not in ("properties", MARKER)}
    props = f.get("properties") or {}
    drop = drop | frozenset(props.get(MARKER, []))
    out["properties"] = _strip({k: v for k, v in props.items() if k != MARKER}, drop)
    if drop_geometry:
        out["geometry"] = None
    return out
