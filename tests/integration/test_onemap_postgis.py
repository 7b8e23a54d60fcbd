"""The platform ingests two consecutive nights' one-map packages into PostGIS and merges them on upsert_key.

On the tests' own PostgreSQL + PostGIS server (the catalogue's), in a database of its own, with
ogr2ogr and PostgreSQL's upsert (`tests.support.platform_load` says why not `ogr2ogr -upsert`).
"""
import itertools
import shutil
from collections.abc import Iterator

import pyogrio
import pytest
from tests.support.onemap_nights import NIGHT1, NIGHT2, write_two_nights
from tests.support.platform_load import load_night

from minewatch.outputs.onemap import LAYERS

pytestmark = pytest.mark.skipif(shutil.which("ogr2ogr") is None, reason="ogr2ogr (Debian gdal-bin) not installed")
_names = itertools.count()


@pytest.fixture
def platform_db(stac_catalog) -> Iterator[str]:
    import psycopg

    name = f"onemap_platform_{next(_names)}"
    admin_dsn = f"host=127.0.0.1 port={stac_catalog.pg_port} user=postgres dbname=postgres"
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    dsn = f"host=127.0.0.1 port={stac_catalog.pg_port} user=postgres dbname={name}"
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    yield dsn
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _expected(p1, p2, layer):
    """The union of both nights' features on upsert_key, night 2's row winning."""
    rows = {}
    for p in (p1, p2):
        for r in pyogrio.read_dataframe(p, layer=layer).to_dict("records"):
            rows[r["upsert_key"]] = r
    return rows


def test_two_nights_merge_into_the_union_with_latest_statuses(platform_db, tmp_path):
    import psycopg

    p1, p2 = write_two_nights(tmp_path)
    for p in (p1, p2):
        load_night(platform_db, p, LAYERS)
    load_night(platform_db, p2, LAYERS)          # the same night again changes nothing but the log's guard
    with psycopg.connect(platform_db) as c:
        q = lambda s, *a: c.execute(s, a).fetchall()
        for layer in LAYERS:
            want = _expected(p1, p2, layer)
            got = q(f'SELECT upsert_key, "BSM" FROM {layer}')
            assert sorted(k for k, _ in got) == sorted(want), layer          # exactly the union
            assert {k: b for k, b in got} == {k: r["BSM"] for k, r in want.items()}
            assert q(f"SELECT upsert_key FROM {layer} GROUP BY upsert_key HAVING count(*) > 1") == []
            assert q(f"SELECT DISTINCT ST_SRID(geom), ST_IsValid(geom) FROM {layer}") == [(4490, True)]
        an = dict(q("SELECT type, status FROM anomalies"))
        assert an == {"RESTORATION_SHORTFALL": "ongoing", "UNDECLARED_DISTURBANCE": "resolved",
                      "OUT_OF_BOUNDARY_DISTURBANCE": "new"}
        assert q("SELECT resolved_on, last_seen FROM anomalies WHERE status = 'resolved'") == [(NIGHT2, NIGHT1)]
        assert q("SELECT observed FROM anomalies WHERE type = 'RESTORATION_SHORTFALL'") == [
            ('{"fvc": 0.1, "n_clear": 7}',)]                                  # night 2's values
        units = dict(q("SELECT upsert_key, latest_fvc FROM restoration_units"))
        assert len(units) == 4 and units["C1400002010011120000001|2026|planned|1"] == pytest.approx(0.61)
        assert "C1400002010011120000001|2026|damage|1" in units               # left the plan: kept, logged resolved
        assert q("SELECT data_type FROM information_schema.columns WHERE table_name = 'anomalies' "
                 "AND column_name = 'first_seen'") == [("date",)]
        log = q("SELECT night, layer, status, count(*) FROM changes GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")
        assert log == [(NIGHT1, "anomalies", "new", 2), (NIGHT1, "mines", "new", 2),
                       (NIGHT1, "restoration_units", "new", 4),
                       (NIGHT2, "anomalies", "new", 1), (NIGHT2, "anomalies", "resolved", 1),
                       (NIGHT2, "anomalies", "updated", 1), (NIGHT2, "mines", "updated", 2),
                       (NIGHT2, "restoration_units", "resolved", 1), (NIGHT2, "restoration_units", "updated", 1)]
