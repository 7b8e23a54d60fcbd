"""The unit ledger (全流程跟踪): every restoration unit of every mining right across plan years.

``schema`` (the tables), ``db`` (engine, SQLite default or ``ledger.url``, Alembic
migrations in ``migrations/``), ``matching`` (which earlier unit a plan row is: IoU and
section), ``ingest`` (plans in, oldest year first, idempotent), ``acceptance`` (the
bureau's 验收 list, row-level findings), ``timeline`` (the canonical dump and a unit's
history for people).
"""

__all__ = ["acceptance", "db", "ingest", "matching", "schema", "timeline"]
