"""Plumbing under every stage: atomic file writes and the deterministic zip writer."""
