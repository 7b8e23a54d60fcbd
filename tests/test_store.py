import pandas as pd

from minewatch.sky.store import SeriesStore


DAYS = {"a": "2026-07-01", "b": "2026-07-06", "c": "2026-07-11"}


def _rows(ids, value):
    return pd.DataFrame({"unit": "planned:1", "item_id": ids,
                         "datetime": pd.to_datetime([DAYS[i] for i in ids]),
                         "fvc_mean": value})


def test_upsert_appends_new_and_replaces_reprocessed(tmp_path):
    st = SeriesStore(tmp_path)
    assert st.read("C1") is None and st.scenes("C1") == set()
    st.upsert("C1", _rows(["a", "b"], 0.1))
    st.upsert("C1", _rows(["b", "c"], 0.5))           # b reprocessed, c new
    df = st.read("C1")
    assert len(df) == 3 and df.set_index("item_id").fvc_mean.to_dict() == {"a": 0.1, "b": 0.5, "c": 0.5}
    assert st.scenes("C1") == {"a", "b", "c"}


def test_same_content_same_bytes(tmp_path):
    a, b = SeriesStore(tmp_path / "a"), SeriesStore(tmp_path / "b")
    a.upsert("C1", _rows(["a", "b"], 0.1))
    b.upsert("C1", _rows(["b"], 0.1)); b.upsert("C1", _rows(["a"], 0.1))
    assert a.path("C1").read_bytes() == b.path("C1").read_bytes()
