"""`python -m minewatch ...` is the `minewatch` command."""
import sys

from minewatch.cli import main

if __name__ == "__main__":
    sys.exit(main())
