"""The platform side: merging a night's one-map package into PostGIS, as the provincial loader would.

``ogr2ogr -upsert`` is GDAL's way to merge on a key, but GDAL implements ``UpsertFeature`` only
in the GPKG, Elasticsearch and MongoDBv3 drivers (GDAL docs, 3.6 to 3.12); into PostgreSQL it
stops at the first feature ("Unable to write feature 1"). So each layer goes in with ogr2ogr
into a staging table, and PostgreSQL's own upsert (``INSERT ... ON CONFLICT (upsert_key) DO
UPDATE``) merges it into the target, which has a UNIQUE constraint on ``upsert_key`` and is
created once from the first package's schema. The ``changes`` table is a log: appended the same
way, unique on (night, layer, upsert_key), a night loaded twice logged once.
"""
from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import psycopg
from psycopg import sql


def ogr_dsn(conninfo: str) -> str:
    return f"PG:{conninfo}"


def _ogr2ogr(conninfo: str, gpkg: Path, layer: str, target: str, *extra: str) -> None:
    subprocess.run(["ogr2ogr", "-f", "PostgreSQL", ogr_dsn(conninfo), str(gpkg), layer, "-nln", target,
                    "-lco", "GEOMETRY_NAME=geom", "-lco", "FID=fid", "-lco", "SPATIAL_INDEX=NONE",
                    "-lco", "LAUNDER=NO", *extra],   # keep BSM, YSDM, XZQDM as the standards spell them
                   check=True, capture_output=True, text=True)


def _columns(conn: psycopg.Connection, table: str) -> list[str]:
    rows = conn.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                        "ORDER BY ordinal_position", (table,)).fetchall()
    return [r[0] for r in rows if r[0] != "fid"]


def _merge(conn: psycopg.Connection, conninfo: str, gpkg: Path, layer: str, key: Sequence[str],
           update: bool) -> None:
    """One layer of the package into its target table through a staging table."""
    if not _columns(conn, layer):      # first package: the target's schema, empty, keyed
        _ogr2ogr(conninfo, gpkg, layer, layer, "-where", "fid < 0")
        conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} UNIQUE ({})").format(
            sql.Identifier(layer), sql.Identifier(f"{layer}_key"), sql.SQL(", ").join(map(sql.Identifier, key))))
    stage = f"stage_{layer}"
    _ogr2ogr(conninfo, gpkg, layer, stage, "-overwrite")
    cols = _columns(conn, layer)
    action = sql.SQL("DO UPDATE SET {}").format(sql.SQL(", ").join(
        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in cols if c not in key)) if update \
        else sql.SQL("DO NOTHING")
    conn.execute(sql.SQL("INSERT INTO {t} ({c}) SELECT {c} FROM {s} ON CONFLICT ({k}) {a}").format(
        t=sql.Identifier(layer), s=sql.Identifier(stage), c=sql.SQL(", ").join(map(sql.Identifier, cols)),
        k=sql.SQL(", ").join(map(sql.Identifier, key)), a=action))


def load_night(conninfo: str, gpkg: Path, layers: Sequence[str]) -> None:
    """Merge one night's feature layers on upsert_key (latest wins), and log its changes once."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for layer in layers:
            _merge(conn, conninfo, gpkg, layer, ("upsert_key",), update=True)
        _merge(conn, conninfo, gpkg, "changes", ("night", "layer", "upsert_key"), update=False)
