"""Every page test runs in demo mode with its data in a temp folder, unless the test sets other settings."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def demo_mode(demo: Path) -> Path:
    return demo
