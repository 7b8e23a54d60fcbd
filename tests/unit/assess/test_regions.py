"""The reclamation-region table: every province mapped, overrides win, every row sourced,
and the threshold table has a row per (region, vegetated class)."""
import pytest
import yaml
from tests.support.paths import REPO

from minewatch.assess.regions import DEFAULT, RegionError, load_regions
from minewatch.assess.thresholds import ThresholdError, load_thresholds
from minewatch.config import AssessSettings, packaged
from minewatch.labels import REGIONS_ZH

# GB/T 2260 provinces (31 on the mainland) and 台湾, 香港, 澳门
PROVINCES = ("11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 "
             "71 81 82").split()
VEGETATED = ("01", "02", "0301", "0305", "0307", "03", "04")


@pytest.fixture(scope="module")
def regions():
    return load_regions(packaged("regions.yaml"))


def test_ten_regions_with_the_standards_names_and_seasons(regions):
    assert len(regions.regions) == 10
    assert {k: r.name_zh for k, r in regions.regions.items()} == {k: v for k, v in REGIONS_ZH.items() if k != DEFAULT}
    for r in regions.regions.values():
        start, end = r.season_mmdd
        assert start < end and r.source


def test_every_province_is_mapped_and_every_row_has_a_source(regions):
    assert {c for c in regions.codes if len(c) == 2} == set(PROVINCES)
    raw = yaml.safe_load(packaged("regions.yaml").read_text(encoding="utf-8"))
    for section in ("provinces", "overrides"):
        for code, row in raw[section].items():
            assert row["source"].strip() and row["region"] in regions.regions, (section, code)


@pytest.mark.parametrize("county, region", [
    ("150622", "loess"),        # 准格尔旗 (the scenarios' county): 黄土丘陵, a county override
    ("150602", "steppe"),       # 鄂尔多斯 东胜: the province's default
    ("150781", "northeast"),    # 呼伦贝尔 满洲里 side: the prefecture override
    ("150727", "steppe"),       # 新巴尔虎右旗: the county beats its prefecture
    ("152921", "northwest"),    # 阿拉善左旗
    ("610802", "loess"),        # 榆林 榆阳 (pit-lake scenario): 陕北
    ("610702", "central"),      # 汉中: 陕南 秦巴
    ("620702", "northwest"),    # 张掖: 河西走廊
    ("623001", "qinghai_tibet"),  # 甘南
    ("513301", "qinghai_tibet"),  # 甘孜: 川西
    ("510104", "southwest"),    # 成都
    ("130702", "steppe"),       # 张家口: 坝上及长城沿线
    ("130283", "huanghuaihai"),  # 迁安 (the sample)
    ("210902", "northeast"),    # 阜新 (the sample)
    # the other helpers' regional scenarios
    ("230102", "northeast"), ("441402", "southeast"), ("652301", "northwest"), ("371402", "huanghuaihai"),
    ("530102", "southwest"),
    ("990000", DEFAULT), ("", DEFAULT), (None, DEFAULT),
])
def test_region_of_takes_the_longest_matching_code(regions, county, region):
    assert regions.region_of(county) == region


def test_threshold_rows_per_region_and_class_with_sources():
    t = load_thresholds(REPO / "configs" / "thresholds.yaml")
    assert (REPO / "configs" / "thresholds.yaml").read_bytes() == packaged("thresholds.yaml").read_bytes()
    for reg in REGIONS_ZH:
        for lc in VEGETATED:
            row = next(r for r in t.rows if r.region == reg and r.land_class == lc)
            assert row.measure == "fvc" and row.value is not None and row.source.strip()
            assert row.provisional       # no official per-region value was found: each says so
    # the scenarios' county keeps its grass and shrub bars; the arid north-west is lower
    assert t.lookup("0404", county_code="150622").value == 0.50
    assert t.lookup("0305", county_code="150622").value == 0.40
    assert t.lookup("0404", county_code="652301").value == 0.30
    assert t.lookup("0404", county_code="652301").region == "northwest"
    assert t.lookup("1104", county_code="652301").region == DEFAULT      # no regional water row


def test_code_rows_win_over_the_region_and_unknown_regions_fail(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text("rows:\n  - {region: default, land_class: '04', measure: fvc, value: 0.5, source: a}\n"
                 "  - {region: loess, land_class: '04', measure: fvc, value: 0.45, source: b}\n"
                 "  - {region: '15', land_class: '04', measure: fvc, value: 0.35, source: c}\n"
                 "  - {region: '150622', land_class: '0404', measure: fvc, value: 0.25, source: d}\n",
                 encoding="utf-8")
    t = load_thresholds(p)
    assert t.lookup("0404", county_code="150622").value == 0.25      # the county's own row
    assert t.lookup("0403", county_code="150622").value == 0.35      # then its province's
    assert t.lookup("0404", county_code="610802").value == 0.45      # then its region's
    assert t.lookup("0404", county_code="330102").value == 0.5       # then default
    p.write_text("rows:\n  - {region: lösss, land_class: '04', measure: fvc, value: 0.5, source: a}\n",
                 encoding="utf-8")
    with pytest.raises(ThresholdError, match="unknown region"):
        load_thresholds(p)


def test_a_broken_regions_file_is_one_line(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("regions:\n  a: {name_zh: 甲, season: '07-01/09-15', source: s}\n"
                 "provinces:\n  '15': {region: b, source: s}\n", encoding="utf-8")
    with pytest.raises(RegionError, match="unknown region 'b'"):
        load_regions(p)
    p.write_text("regions:\n  a: {name_zh: 甲, season: '07-01/09-15', source: s}\n"
                 "overrides:\n  '15062': {region: a, source: s}\n", encoding="utf-8")
    with pytest.raises(RegionError, match="4 or 6-digit"):
        load_regions(p)
    with pytest.raises(ThresholdError, match="regions file not found"):
        load_thresholds(REPO / "configs" / "thresholds.yaml", tmp_path / "none.yaml")


def test_the_window_a_unit_is_judged_in():
    t = load_thresholds(REPO / "configs" / "thresholds.yaml")
    cfg = AssessSettings(season_by_license={"L1": "07-20/09-30"})
    grass = t.lookup("0404", county_code="441402")
    assert t.window_of("L2", "441402", grass, cfg) == (("07-01", "10-15"), "region")
    assert t.window_of("L1", "441402", grass, cfg) == (("07-20", "09-30"), "licence")
    assert t.window_of("L2", "990000", grass, cfg) == (("07-01", "09-15"), "config")
    row = grass.model_copy(update={"season": "06-15/08-31"})
    assert t.window_of("L2", "441402", row, cfg) == (("06-15", "08-31"), "threshold_row")
    with pytest.raises(ValueError, match="MM-DD/MM-DD"):
        AssessSettings(season_by_license={"L1": "July"})
