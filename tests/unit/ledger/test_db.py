"""The ledger's schema: Alembic migrations agree with the models, on both backends."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from minewatch.config import Settings
from minewatch.ledger.db import current_revision, downgrade, ledger_url, migrate
from minewatch.ledger.schema import Base


def test_migrated_schema_is_the_models(make_ledger):
    engine = make_ledger()
    assert current_revision(engine) == "0001"
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    assert set(inspect(engine).get_table_names()) == set(Base.metadata.tables) | {"alembic_version"}


def test_downgrade_and_upgrade_again(make_ledger):
    engine = make_ledger()
    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    migrate(engine)
    migrate(engine)                  # idempotent
    assert current_revision(engine) == "0001"


def test_default_is_sqlite_in_the_state_folder(tmp_path):
    s = Settings(registry=tmp_path / "r.csv", plans=tmp_path, output_dir=tmp_path / "out")
    assert ledger_url(s) == f"sqlite:///{tmp_path}/out/state/ledger.sqlite"
    s = Settings(registry=tmp_path / "r.csv", plans=tmp_path, ledger={"url": "postgresql+psycopg://u@h/db"})
    assert ledger_url(s) == "postgresql+psycopg://u@h/db"
