"""Screenshots from the browser tests: into test-artifacts/screenshots, or, with UPDATE_SCREENSHOTS=1, into
docs/screenshots for the README (so an ordinary test run leaves git clean)."""

from __future__ import annotations

import os

from tests.support import ROOT

SCREENSHOTS = ROOT / ("docs" if os.environ.get("UPDATE_SCREENSHOTS") == "1" else "test-artifacts") / "screenshots"


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(1500)  # let data grids and charts finish drawing
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
