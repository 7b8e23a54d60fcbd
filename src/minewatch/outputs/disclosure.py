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
too). Personal data is also removed by value, wherever it was typed (a phone number in a
plan's unit cell reaches a finding's ``observed.value`` and ``notes_zh``): every string is
scanned for the contact names, phones and addresses of the registry and the plans, and the
names of holders who are natural persons (:func:`personal_values`), and for Chinese phone
numbers (mobile ``1[3-9]`` + 9 digits, ``+86`` too; landlines ``0AA(A)-NNNNNNN(N)``); each
is replaced by ``[已隐去]``. Identifiers (``id``, ``license_no``, scene ids) are not
scanned. Inputs are not modified. What ``public/spot_check.csv`` may carry is decided in
:func:`public_spot_check` (docs/disclosure.md).

Not done here: publishing precise coordinates on a public map in China needs the map
review (审图) rules of the surveying authorities; ``drop_geometry=True`` removes geometry
for lists that must not carry it.
"""
from __future__ import annotations

import copy
import re
from typing import Any, Iterable

import pandas as pd

from minewatch.outputs.onemap import CONFIDENTIAL_FIELDS, DICTIONARY
from minewatch.promised.models import AnnualPlan, MiningRight

__all__ = ["PERSONAL_FIELDS", "REDACTED", "public_profile", "personal_values", "redact_text",
           "is_natural_person", "public_spot_check", "stripped_fields"]

PERSONAL_FIELDS = frozenset({"contact_name", "contact_phone", "contact_address"})
MARKER = "confidential_fields"
REDACTED = "[已隐去]"
# identifiers: never personal, and a hex id or a licence may hold a run of digits
_NOT_SCANNED = frozenset({"id", "license_no", "upsert_key", "evidence_scenes", "period"})
_PHONES = re.compile(r"(?<![\dA-Za-z])(?:\+?86[-\s]?)?1[3-9]\d(?:[-\s]?\d{4}){2}(?!\d)"
                     r"|(?<![\dA-Za-z.])0\d{2,3}[-\s]?\d{7,8}(?![\d.])")
# words an organisation's name carries; a holder without any is taken as a natural person
_ORGANISATION = re.compile(r"公司|厂|矿|场|社|集团|中心|局|院|所|站|店|队|协会|委员会|经营部|企业|合伙|"
                           r"Co\.|Ltd|Inc|LLC", re.IGNORECASE)
_MIN_VALUE_LEN = 2     # a one-character "name" would blank half the text


def is_natural_person(holder: str) -> bool:
    """A holder name with no organisational word (公司, 厂, 合作社, ...): a person's name."""
    h = str(holder or "").strip()
    return bool(h) and not _ORGANISATION.search(h)


def personal_values(rights: Iterable[MiningRight], plans: Iterable[AnnualPlan] = ()) -> frozenset[str]:
    """The registry's and the plans' contact names, phones and addresses, and the names of
    holders who are natural persons: the values to strip wherever they were typed."""
    vals: set[str] = set()
    for r in list(rights) + list(plans):
        vals |= {r.contact_name, r.contact_phone, r.contact_address}
        if is_natural_person(r.holder):
            vals.add(r.holder)
    return frozenset(v.strip() for v in vals if v and len(v.strip()) >= _MIN_VALUE_LEN)


def redact_text(text: str, values: Iterable[str] = ()) -> str:
    """`text` with every personal value and phone number replaced by ``[已隐去]``."""
    out = str(text)
    for v in sorted(set(values), key=lambda v: (-len(v), v)):     # longest first: an address before its town
        out = out.replace(v, REDACTED)
    return _PHONES.sub(REDACTED, out)


def _redact(obj: Any, values: frozenset[str]) -> Any:
    if isinstance(obj, str):
        return redact_text(obj, values)
    if isinstance(obj, int) and not isinstance(obj, bool) and _PHONES.fullmatch(str(obj)):
        return REDACTED          # a phone typed into a number cell
    if isinstance(obj, dict):
        return {k: v if k in _NOT_SCANNED else _redact(v, values) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_redact(v, values) for v in obj]
    return obj


def stripped_fields(extra: Iterable[str] = ()) -> frozenset[str]:
    shp = {f.shp_name for f in DICTIONARY if f.confidential}
    return frozenset(PERSONAL_FIELDS | CONFIDENTIAL_FIELDS | shp | set(extra))


def _strip(obj, drop: frozenset[str]):
    if isinstance(obj, dict):
        return {k: _strip(v, drop) for k, v in obj.items() if k not in drop}
    if isinstance(obj, list):
        return [_strip(v, drop) for v in obj]
    return obj


def public_profile(fc_or_df, extra: Iterable[str] = (), *, drop_geometry: bool = False,
                   personal: Iterable[str] = ()):
    """A copy fit for public disclosure: a FeatureCollection/Feature dict, a list of records,
    or a (Geo)DataFrame, with personal and confidential fields removed, and `personal`
    values (:func:`personal_values`) and phone numbers blanked in every text."""
    values = frozenset(personal)
    if isinstance(fc_or_df, pd.DataFrame):
        drop = stripped_fields(list(extra) + list(fc_or_df.attrs.get(MARKER, [])))
        out = fc_or_df.drop(columns=[c for c in fc_or_df.columns if c in drop])
        if drop_geometry and hasattr(out, "geometry"):
            out = pd.DataFrame(out.drop(columns=[out.geometry.name]))
        for c in out.columns:
            if c not in _NOT_SCANNED and out[c].dtype == object:
                out[c] = out[c].map(lambda v: _redact(v, values))
        out.attrs = {k: v for k, v in fc_or_df.attrs.items() if k != MARKER}
        return out
    if isinstance(fc_or_df, list):
        return [public_profile(x, extra, drop_geometry=drop_geometry, personal=values) for x in fc_or_df]
    if isinstance(fc_or_df, dict):
        marked = list(fc_or_df.get(MARKER, []))
        drop = stripped_fields(list(extra) + marked)
        if fc_or_df.get("type") == "FeatureCollection":
            out = {k: copy.deepcopy(v) for k, v in fc_or_df.items() if k not in ("features", MARKER)}
            out["features"] = [_feature(f, drop, drop_geometry, values) for f in fc_or_df.get("features", [])]
            return out
        if fc_or_df.get("type") == "Feature":
            return _feature(fc_or_df, drop, drop_geometry, values)
        return _redact(_strip({k: v for k, v in fc_or_df.items() if k != MARKER}, drop), values)
    raise TypeError(f"public_profile takes a FeatureCollection/Feature dict, records or a DataFrame, "
                    f"not {type(fc_or_df).__name__}")


def _feature(f: dict, drop: frozenset[str], drop_geometry: bool, values: frozenset[str]) -> dict:
    out = {k: copy.deepcopy(v) for k, v in f.items() if k not in ("properties", MARKER)}
    props = f.get("properties") or {}
    drop = drop | frozenset(props.get(MARKER, []))
    out["properties"] = _redact(_strip({k: v for k, v in props.items() if k != MARKER}, drop), values)
    if drop_geometry:
        out["geometry"] = None
    return out


_CREDIT_REASONS = ("列入异常名录，提高抽查频次", "认定为严重失信主体，提高抽查频次")


def public_spot_check(spot: pd.DataFrame, personal: Iterable[str] = ()) -> pd.DataFrame:
    """What ``public/spot_check.csv`` carries (docs/disclosure.md): every row and column of
    the bureau's list, except that a holder who is a natural person is shown as
    ``[已隐去]`` with the credit flags, the multiplier and the credit reasons blanked (a
    person's credit record is personal data; an organisation's is on public registers),
    and personal values and phones are blanked in every text. No geometry."""
    out = spot.copy()
    person = out["holder"].map(is_natural_person)
    out["holder"] = out["holder"].where(~person, REDACTED)
    for c in ("abnormal_list", "seriously_dishonest", "multiplier"):
        out[c] = out[c].astype(object).where(~person, None)

    def reasons(text: str) -> str:
        kept = [r for r in str(text).split("；") if r not in _CREDIT_REASONS]
        return "；".join(kept) or "常规抽查"
    out["reasons_zh"] = out["reasons_zh"].where(~person, out["reasons_zh"].map(reasons))
    return public_profile(out, personal=personal)
