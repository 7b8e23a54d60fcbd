"""Plumbing under every stage: atomic file writes and the deterministic zip writer (``atomic``),
spreadsheet cells that cannot run as formulas (``cells``)."""

__all__ = ["atomic", "cells"]
