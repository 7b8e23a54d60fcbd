"""三调 land classes (GB/T 21010-2017 plus the Third National Land Survey working classes).

The checked list lives in ``minewatch/data/landclasses.csv`` (docs/domain.md §3). Codes are
strings and keep their suffixes (``0201K``, ``1104A``, ``05H1``); ``09`` 特殊用地 has no
subclasses. Groups follow the two-digit code prefix (GB/T 21010 first-level classes); the
三调 "00 湿地" group (0303, 0304, 0306, 0402, 0603, 1105, 1106, 1108) is not modelled.

``vegetation_expected``/``measure`` say what a satellite check of a unit restored to the
class looks at: ``fvc`` (fractional vegetation cover), ``water``, ``bare`` or ``none``.
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

__all__ = ["LandClass", "MEASURES", "all_classes", "lookup", "group_of_name", "groups"]

MEASURES = ("fvc", "water", "bare", "none")

# Names found in plans that differ from the checked list (short GB/T names, 三调 group names).
_ALIASES: dict[str, str] = {
    "铁路": "1001", "轨道交通": "1002", "公路": "1003", "城镇村道路": "1004",
    "交通服务场站": "1005", "机场": "1007", "港口码头": "1008", "管道运输": "1009",
    "养殖水面": "1104A",
}
_GROUP_ALIASES: dict[str, str] = {"种植园用地": "02", "商业服务业用地": "05", "工矿用地": "06"}


@dataclass(frozen=True)
class LandClass:
    code: str                   # "0404"
    name: str                   # "其他草地"
    group_code: str             # "04"
    group_name: str             # "草地"
    vegetation_expected: bool
    measure: str                # fvc | water | bare | none

    @property
    def label(self) -> str:
        """"0404 其他草地", as written in the plan table."""
        return f"{self.code} {self.name}"


def _parse_bool(s: str) -> bool:
    s = s.strip().lower()
    if s in ("true", "1", "yes"):
        return True
    if s in ("false", "0", "no"):
        return False
    raise ValueError(f"landclasses.csv: bad boolean {s!r}")


@lru_cache(maxsize=1)
def all_classes() -> tuple[LandClass, ...]:
    text = resources.files("minewatch").joinpath("data", "landclasses.csv").read_text("utf-8")
    out = []
    for row in csv.DictReader(io.StringIO(text)):
        measure = row["measure"].strip()
        if measure not in MEASURES:
            raise ValueError(f"landclasses.csv: bad measure {measure!r} for {row['code']}")
        out.append(LandClass(
            code=row["code"].strip(), name=row["name"].strip(),
            group_code=row["group_code"].strip(), group_name=row["group_name"].strip(),
            vegetation_expected=_parse_bool(row["vegetation_expected"]), measure=measure))
    return tuple(out)


@lru_cache(maxsize=1)
def _index() -> tuple[dict[str, LandClass], dict[str, LandClass]]:
    by_code = {c.code: c for c in all_classes()}
    by_name = {c.name: c for c in all_classes()}
    for alias, code in _ALIASES.items():
        if alias not in by_name:
            by_name[alias] = by_code[code]
    return by_code, by_name


def groups() -> dict[str, str]:
    """group_code -> group_name."""
    return {c.group_code: c.group_name for c in all_classes()}


def _norm(s: str) -> str:
    s = unicodedata.normalize("NFKC", s)
    return re.sub(r"\s+", "", s).strip()


def lookup(code_or_name: str) -> LandClass | None:
    """Find a class by exact code ("0404"), name ("其他草地") or both ("0404 其他草地").

    Full-width characters and spaces are tolerated; codes are matched as strings
    (``"404"`` is not ``"0404"``), suffix letters case-insensitively. When code and
    name are both given they must name the same class.
    """
    if code_or_name is None:
        return None
    s = _norm(str(code_or_name))
    if not s:
        return None
    by_code, by_name = _index()
    m = re.fullmatch(r"(\d{2}(?:[0-9A-Za-z]{2}[A-Za-z]?)?)[-_.、,:]?(.*)", s)
    if m:
        code = m.group(1).upper()
        name = m.group(2)
        c = by_code.get(code)
        if c is None:
            return None
        if name and by_name.get(name) is not c:
            return None
        return c
    return by_name.get(s)


def group_of_name(text: str) -> str | None:
    """Group code when ``text`` names only a first-level class ("耕地", "01 耕地"), else None."""
    s = _norm(str(text or ""))
    names = {v: k for k, v in groups().items()}
    names.update(_GROUP_ALIASES)
    m = re.fullmatch(r"(\d{2})?(\D+)?", s)
    if not m or not (m.group(1) or m.group(2)):
        return None
    code, name = m.group(1), m.group(2)
    if name:
        g = names.get(name)
        if g is None or (code and code != g):
            return None
        return g
    return code if code in groups() and lookup(code) is None else None
