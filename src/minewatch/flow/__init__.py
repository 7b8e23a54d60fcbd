"""The Prefect side: ``nightly`` (the flow) and ``deploy`` (its cron deployment, `minewatch serve`)."""

__all__ = ["deploy", "nightly"]
