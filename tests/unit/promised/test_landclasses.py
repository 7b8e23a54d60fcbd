"""三调 land-class catalogue (docs/domain.md §3)."""
from __future__ import annotations

import csv
import dataclasses
from importlib import resources

import pytest

from minewatch.promised.landclasses import MEASURES, LandClass, all_classes, group_of_name, groups, lookup

# every code docs/domain.md §3 lists
DOMAIN_CODES = """0101 0102 0103 0201 0202 0203 0204 0201K 0202K 0203K 0204K 0301 0302 0303 0304 0305
0306 0307 0301K 0302K 0307K 0401 0402 0403 0403K 0404 05H1 0508 0601 0602 0603 0701 0702 08H1 08H2
0809 0810 0810A 09 1001 1002 1003 1004 1005 1006 1007 1008 1009 1101 1102 1103 1104 1104A 1104K 1105
1106 1107 1107A 1108 1109 1110 1201 1202 1203 1204 1205 1206 1207""".split()


def test_catalogue_is_exactly_the_domain_list():
    codes = [c.code for c in all_classes()]
    assert len(codes) == len(set(codes))
    assert set(codes) == set(DOMAIN_CODES)


def test_csv_columns_and_values():
    text = resources.files("minewatch").joinpath("data", "landclasses.csv").read_text("utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    assert list(rows[0]) == ["code", "name", "group_code", "group_name", "vegetation_expected", "measure"]
    for r in rows:
        assert r["vegetation_expected"] in ("true", "false")
        assert r["measure"] in MEASURES
        assert r["code"].startswith(r["group_code"])
        names = [x["name"] for x in rows]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("q", ["0404", "其他草地", "0404 其他草地", "0404其他草地", "０４０４　其他草地",
                               " 0404 ", "0404-其他草地"])
def test_lookup_forms(q):
    c = lookup(q)
    assert c is not None and c.code == "0404" and c.name == "其他草地"
    assert c.group_code == "04" and c.group_name == "草地"
    assert c.vegetation_expected and c.measure == "fvc"
    assert c.label == "0404 其他草地"


@pytest.mark.parametrize("q", ["404", "0404 乔木林地", "草坪", "", "04", "9999", None])
def test_lookup_misses(q):
    assert lookup(q) is None


def test_suffix_codes_and_special():
    assert lookup("1104A").name == "养殖坑塘"
    assert lookup("1104a").code == "1104A"
    assert lookup("0201K").group_code == "02"
    assert lookup("05H1").name == "商业服务业设施用地"
    assert lookup("09").name == "特殊用地"
    assert lookup("09 特殊用地").code == "09"


def test_measures_make_sense():
    assert lookup("0301").measure == "fvc"
    assert lookup("1103").measure == "water"
    assert lookup("1206").measure == "bare" and not lookup("1206").vegetation_expected
    assert lookup("0602").measure == "none" and not lookup("0602").vegetation_expected


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        lookup("0404").code = "x"
    assert isinstance(lookup("0404"), LandClass)


def test_group_only_names():
    assert group_of_name("耕地") == "01"
    assert group_of_name("01 耕地") == "01"
    assert group_of_name("种植园用地") == "02"
    assert group_of_name("0103") is None
    assert group_of_name("草坪") is None
    assert groups()["11"] == "水域及水利设施用地"
