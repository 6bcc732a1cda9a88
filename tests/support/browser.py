"""Headless Chromium for the dashboard tests: Debian's `chromium` driven by Playwright.

Playwright's own browser downloads are not used (they need the internet at setup and
Playwright's CDN); the system browser is launched by path. The tests skip, naming the
package, only when no chromium is installed (`make system-deps` installs it as root).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "docs" / "img"
# `make screenshots` sets it: the pictures in docs/ are the ones this run's browser took.
SCREENSHOTS_ENV = "CONCLAVE_SCREENSHOTS"


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(
        "Debian's chromium is not installed: run `make system-deps` as root "
        "(apt-get install chromium), then the dashboard tests run"
    )


def screenshot_dir(tmp: Path) -> Path:
    """docs/img when asked to refresh the docs' pictures, else a scratch folder (the
    shots are still taken, so the code that makes the docs' ones runs every time)."""
    if os.environ.get(SCREENSHOTS_ENV):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return SCREENSHOTS
    return tmp
