"""Headless Debian chromium driven by Selenium (chromium-driver), for the pages people open."""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

HAVE_CHROMIUM = shutil.which("chromedriver") is not None and shutil.which("chromium") is not None
needs_chromium = pytest.mark.skipif(not HAVE_CHROMIUM, reason="Debian chromium and chromium-driver not installed")


@contextmanager
def chromium(profile: Path, size: str = "1200,1400") -> Iterator:
    """A headless Chrome WebDriver with its own profile folder; quit on exit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    opts = Options()
    opts.binary_location = shutil.which("chromium")
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
              f"--window-size={size}"):
        opts.add_argument(a)
    d = webdriver.Chrome(options=opts, service=Service(shutil.which("chromedriver")))
    try:
        yield d
    finally:
        d.quit()
