"""The CLI as an operator runs it."""
from __future__ import annotations

import os
from pathlib import Path


def run_cli(*args, env=None, timeout=900):
    """`python -m minewatch.cli ...` in a subprocess, as an operator would run it."""
    import subprocess
    import sys

    e = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "minewatch.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=e, cwd=Path(__file__).resolve().parents[2])
