"""Entry file: `python flows/deploy.py ...` is `python -m minewatch.flow.deploy ...`."""
from minewatch.flow.deploy import main

if __name__ == "__main__":
    raise SystemExit(main())
