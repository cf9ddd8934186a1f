"""Real-browser tests: Playwright driving Debian's chromium against the real three-process stack."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.support.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.support.stack import RunningStack, start_stack


@pytest.fixture(scope="session", autouse=True)
def patient_expectations() -> None:
    """The suite shares two cores with three servers and a browser: wait for what a user would wait for."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    playwright_api.expect.set_options(timeout=30_000)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which("chromium"):
        pytest.fail("Debian's chromium is not installed; `make test` installs it")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(tmp_path_factory.mktemp("stack"))
    yield running
    assert running.stop() == 0, running.log_path.read_text()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()
