"""Plumbing under every stage: ``atomic`` (atomic file writes, the deterministic zip writer)."""

__all__ = ["atomic"]
