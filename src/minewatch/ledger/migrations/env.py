"""Alembic environment of the ledger: run by minewatch.ledger.db.migrate on its own connection."""
from __future__ import annotations

from alembic import context

from minewatch.ledger.schema import Base

config = context.config
# batch mode: SQLite cannot ALTER most things, Alembic copies the table instead
if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=Base.metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    context.configure(connection=config.attributes["connection"], target_metadata=Base.metadata,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
