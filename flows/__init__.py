"""Thin Prefect flows over the minewatch library."""
