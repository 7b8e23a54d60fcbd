"""assess.cropland on hand-made arrays: fields found by their harvest, peak dates from the
cropland ring, and the loss test that sees a field only at its peak."""
import numpy as np
import pandas as pd
import pytest

from minewatch.assess.cropland import REFERENCE_CROPLAND, harvested, is_cropland, judged_clear, peak_ids, peak_view
from minewatch.assess.disturbance import loss_mask
from minewatch.assess.reference import REFERENCE
from minewatch.assess.season import Season
from minewatch.config import DisturbanceSettings

# three pixels over six dates of one year: a field (wheat, harvest, maize), grass greening up
# (bare in April, then green: no harvest), and a pit (always bare)
FIELD = [0.7, 0.75, 0.15, 0.1, 0.5, 0.7]
GRASS = [0.15, 0.2, 0.4, 0.55, 0.6, 0.55]
PIT = [0.1, 0.1, 0.1, 0.1, 0.1, 0.1]
NDVI = np.array([FIELD, GRASS, PIT], np.float32).T[:, None, :]      # (t=6, y=1, x=3)


def test_a_field_is_green_then_harvested_grass_and_pits_are_not():
    clear = np.ones(NDVI.shape, bool)
    np.testing.assert_array_equal(harvested(NDVI, clear, 0.5, 0.2), [[True, False, False]])
    # the harvest dates under cloud: nothing says it was harvested
    cloudy = clear.copy()
    cloudy[2:4] = False
    np.testing.assert_array_equal(harvested(NDVI, cloudy, 0.5, 0.2), [[False, False, False]])
    assert not harvested(NDVI[:2], clear[:2], 0.5, 0.2).any()      # two dates: no sequence
    # grass that browns in autumn (or lies under snow) does not green again within the year
    browns = np.array([0.2, 0.6, 0.7, 0.5, 0.15, 0.1], np.float32)[:, None, None]
    assert not harvested(browns, np.ones(browns.shape, bool), 0.5, 0.2).any()


def test_cropland_classes_by_prefix():
    assert is_cropland("0103", "01") and is_cropland("01", "01")
    assert not is_cropland("0404", "01") and not is_cropland("", "01") and not is_cropland(None, "01")


def _ring_rows(days: list[str], fvc: list[float], unit: str = REFERENCE_CROPLAND, clear: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame({"unit": unit, "item_id": [f"S{d}" for d in days], "datetime": pd.to_datetime(days),
                         "clear_fraction": clear, "fvc_mean": fvc, "ndvi_mean": np.nan, "bsi_mean": np.nan,
                         "n_px": 500.0, "clear_px": 500.0})


SEASON = Season.of(2026, "07-01", "09-15")
DAYS = ["2026-07-04", "2026-07-20", "2026-08-05", "2026-08-21", "2026-09-06", "2026-09-30"]
RING = _ring_rows(DAYS, [0.08, 0.08, 0.45, 0.9, 0.88, 0.9])     # late maize; Sep 30 is after the season


def test_peak_dates_are_the_rings_top_dates_within_the_season():
    assert peak_ids(RING, SEASON, 0.5, 0.75) == ("S2026-08-21", "S2026-09-06")
    assert peak_ids(RING, SEASON, 0.5, 0.45) == ("S2026-08-05", "S2026-08-21", "S2026-09-06")
    hazy = RING.assign(clear_fraction=[1, 1, 1, 0.3, 1, 1])          # the best date too cloudy to count
    assert peak_ids(hazy, SEASON, 0.5, 0.75) == ("S2026-09-06",)
    assert peak_ids(_ring_rows(DAYS, [0.5] * 6, unit="planned:1"), SEASON, 0.5, 0.75) == ()


def test_peak_view_keeps_peak_dates_and_makes_the_cropland_ring_the_reference():
    last = _ring_rows(["2025-07-12", "2025-08-13"], [0.3, 0.85])
    unit = _ring_rows(DAYS, [0.07, 0.07, 0.3, 0.8, 0.82, 0.8], unit="planned:1")
    natural = _ring_rows(DAYS, [0.5] * 6, unit=REFERENCE)
    v = peak_view(pd.concat([RING, last, unit, natural]), SEASON, 0.5, 0.75)
    assert sorted(set(v.unit)) == ["planned:1", REFERENCE]
    ref = v[v.unit == REFERENCE].sort_values("item_id")
    assert ref.item_id.tolist() == ["S2025-08-13", "S2026-08-21", "S2026-09-06"]
    assert ref.fvc_mean.tolist() == pytest.approx([0.85, 0.9, 0.88])    # the fields, not the natural ring
    assert v[v.unit == "planned:1"].fvc_mean.tolist() == pytest.approx([0.8, 0.82])
    assert peak_view(pd.concat([unit, natural]), SEASON, 0.5, 0.75) is None


def test_a_harvested_field_is_no_loss_but_a_field_bare_at_the_peak_is():
    cfg = DisturbanceSettings()
    base = np.full((4, 1, 2), 0.7, np.float32)                   # both fields green last season
    cur = np.array([[0.1, 0.1], [0.1, 0.1], [0.1, 0.1], [0.15, 0.1], [0.7, 0.1], [0.72, 0.1]],
                   np.float32)[:, None, :]   # pixel 0: bare four dates then its crop; pixel 1: bare all season
    peak = np.array([False, False, False, False, True, True])
    clear = np.ones(cur.shape, bool)
    fields = np.array([[True, True]])
    old = loss_mask(base, np.ones(base.shape, bool), cur, clear, cfg)
    assert old.confirmed.tolist() == [[True, True]]                # harvest read as loss without the rule
    seen = judged_clear(clear, fields, peak)
    assert seen[:, 0, 0].tolist() == peak.tolist() and seen[:, 0, 1].tolist() == peak.tolist()
    new = loss_mask(base, np.ones(base.shape, bool), cur, seen, cfg.model_copy(update={"min_clear_obs": 2}))
    assert new.confirmed.tolist() == [[False, True]]
    # a pixel that is no field keeps every date
    assert judged_clear(clear, np.array([[False, False]]), peak).all()
