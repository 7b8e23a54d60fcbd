"""Entry file for `prefect deploy`: the nightly flow lives in the package (minewatch.flow.nightly)."""
from minewatch.flow.nightly import nightly

__all__ = ["nightly"]
