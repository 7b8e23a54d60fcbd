"""Ledgers on both backends: a SQLite file and a database of the tests' PostgreSQL server."""
from __future__ import annotations

import itertools
from typing import Callable, Iterator

import pytest
from sqlalchemy import Engine

from minewatch.ledger.db import open_engine

_names = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def make_ledger(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[Callable[[], Engine]]:
    """A factory of empty, migrated ledgers on one backend; each is dropped afterwards."""
    engines: list[Engine] = []
    made: list[str] = []
    admin = None
    if request.param == "postgresql":
        import psycopg

        pg = request.getfixturevalue("stac_catalog")        # reuse its server, separate databases
        admin = psycopg.connect(f"postgresql://postgres@127.0.0.1:{pg.pg_port}/postgres", autocommit=True)

    def make() -> Engine:
        if admin is None:
            url = f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'ledger.sqlite'}"
        else:
            name = f"ledger_test_{next(_names)}"
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')
            made.append(name)
            port = admin.info.port
            url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/{name}"
        e = open_engine(url)
        engines.append(e)
        return e

    yield make
    for e in engines:
        e.dispose()
    if admin is not None:
        for name in made:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()
