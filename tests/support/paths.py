"""Where the tests find the repository's files and the read-only shared fixtures."""
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]          # tests/support/paths.py -> the repository
SHARED = REPO.parent / "shared"                     # fixtures beside the repository (CI copies them there)
