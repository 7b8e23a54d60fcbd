"""Where the ledger lives and how it is opened: one SQLAlchemy engine, migrated by Alembic.

SQLite in the run's state folder unless ``ledger.url`` names a database (PostgreSQL in the
compose stack: ``postgresql+psycopg://user@host:port/db``). Opening always migrates to the
newest revision first, so an old ledger file is brought up to date, never misread.
"""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from minewatch.config import Settings

__all__ = ["LEDGER_FILE", "ledger_url", "open_engine", "migrate", "downgrade", "current_revision"]

LEDGER_FILE = "ledger.sqlite"
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def ledger_url(settings: Settings) -> str:
    """``ledger.url`` if set, else the SQLite file in the state folder (OUT/state/ledger.sqlite)."""
    if settings.ledger.url:
        return settings.ledger.url
    return f"sqlite:///{(settings.output_dir / 'state' / LEDGER_FILE).resolve()}"


def _sqlite_foreign_keys(dbapi_conn: object, _record: object) -> None:
    # SQLite ignores REFERENCES unless asked, per connection
    cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def open_engine(url: str) -> Engine:
    """An engine on ``url``, its schema migrated to the newest revision."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database:
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(u)
    if u.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_foreign_keys)
    migrate(engine)
    return engine


def _alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` (idempotent)."""
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to ``revision`` ("base": no tables); for migration tests and repairs."""
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
