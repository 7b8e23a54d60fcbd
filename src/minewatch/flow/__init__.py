"""The Prefect side: the nightly flow (`nightly`) and its cron deployment (`deploy`)."""
