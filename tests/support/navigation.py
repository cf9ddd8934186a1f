"""The console's navigation in a real browser: the sidebar starts open on a wide screen (dashboard/app.py)."""

from __future__ import annotations

SIDEBAR_WIDTH_JS = "() => document.querySelector('[data-testid=\"stSidebar\"]')?.getBoundingClientRect().width ?? 0"


def sidebar_open(page) -> bool:
    return page.evaluate(SIDEBAR_WIDTH_JS) > 0


def open_navigation(page) -> None:
    """Open the sidebar, as an operator does with the arrow at the top left, unless it is open already."""
    page.get_by_test_id("stSidebar").wait_for(state="attached")
    if not sidebar_open(page):
        page.get_by_test_id("stExpandSidebarButton").click()
    page.wait_for_function(f"({SIDEBAR_WIDTH_JS})() > 0")


def close_navigation(page) -> None:
    """Close the sidebar with its arrow, as an operator does to give a narrow screen's width to the page."""
    page.get_by_test_id("stSidebar").hover()
    page.get_by_test_id("stSidebarCollapseButton").get_by_role("button").click()
    page.wait_for_function(f"({SIDEBAR_WIDTH_JS})() == 0")
