"""Values from webhooks and redirects are shown as text, never rendered as markdown or HTML.

Each test stores hostile values (links, HTML, markdown) the way they arrive, renders a page with AppTest,
and checks that no markdown-rendering element (markdown, caption, title, alerts, labels) carries them raw,
while a text element (text, code, dataframe, table, json) does show them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from services.events.webhook import parse_webhook_body
from tests.support.console import console_db
from tests.support.events import save_events
from tests.support.pages import close_session_db, console_app

BOLD = "**bold**"
SCRIPT = "<script>alert(1)</script>"
LINK = "[x](http://evil)"
IMAGE = "![p](http://evil/p.png)"
HOSTILE = (BOLD, SCRIPT, LINK, IMAGE)
MARKDOWN_ELEMENTS = ("markdown", "caption", "title", "header", "subheader", "error", "warning", "info", "success")


def markdown_sources(at: AppTest) -> list[str]:
    """Every string the front end renders as markdown."""
    sources: list[str] = []
    for kind in MARKDOWN_ELEMENTS:
        sources.extend(str(element.value) for element in getattr(at, kind))
    sources.extend(str(element.label) for element in [*at.metric, *at.button, *at.page_link])
    return sources


def text_sources(at: AppTest) -> str:
    """Everything shown as plain text."""
    parts = [str(element.value) for element in [*at.text, *at.code, *at.metric]]
    parts.extend(element.value.to_string() for element in [*at.dataframe, *at.table])
    parts.extend(
        json.dumps(element.value) if not isinstance(element.value, str) else element.value for element in at.json
    )
    return "\n".join(parts)


def assert_shown_as_text_only(at: AppTest, values: tuple[str, ...]) -> None:
    assert not at.exception, [element.value for element in at.exception]
    rendered = [(value, source) for source in markdown_sources(at) for value in values if value in source]
    assert not rendered, f"rendered as markdown: {rendered[:3]}"
    shown = text_sources(at)
    assert all(value in shown for value in values), "the values are not shown at all"


@pytest.fixture
def hostile_webhooks(demo: Path, db_path: Path) -> Path:
    """Signed-and-accepted webhooks whose names, ids, statuses, phone numbers and names carry markup."""
    body = json.dumps(
        [
            {
                "id": "evt-1",
                "event": "channel_created",
                "data": {
                    "id": LINK,
                    "client_id": SCRIPT,
                    "status": IMAGE,
                    "current_limit": BOLD,
                    "setup_info": {"phone_number": LINK, "phone_name": BOLD},
                    "client": {"name": SCRIPT},
                },
            },
            # Names nobody documented are stored and shown as they came; they describe no channel.
            {"id": "evt-2", "event": SCRIPT, "data": {"id": "plainCH", "status": BOLD}},
            {"id": "evt-3", "event": BOLD, "data": {}},
        ]
    ).encode()
    with console_db(db_path) as db:
        save_events(db, parse_webhook_body(body), headers={}, verdict="valid")
    return demo


def run_page(page: str, query: dict[str, str] | None = None) -> AppTest:
    at = console_app().run()
    if query:
        at.query_params.update(query)
    return at.switch_page(f"../pages/{page}").run()


def test_events_page_shows_payload_values_as_text(hostile_webhooks: Path) -> None:
    at = run_page("events.py")
    close_session_db(at)
    assert_shown_as_text_only(at, (BOLD, SCRIPT, LINK))


def test_channels_page_shows_channel_values_as_text(hostile_webhooks: Path) -> None:
    at = run_page("channels.py")
    close_session_db(at)
    assert_shown_as_text_only(at, (LINK, SCRIPT, IMAGE, BOLD))


def landing_operator_view(query: dict[str, str]) -> AppTest:
    """The landing page as the demo's operator sees it: one button past the client's page."""
    at = run_page("landing.py", query)
    return next(button for button in at.button if button.label == "Operator view").click().run()


def test_landing_page_shows_a_refused_redirect_value_as_text(demo: Path) -> None:
    at = landing_operator_view({"client": LINK, "channels": "[okCH]"})
    close_session_db(at)
    assert not at.exception
    assert at.error, "the bad redirect was not refused"
    assert not [source for source in markdown_sources(at) if LINK in source]


def test_landing_page_shows_redirect_ids_as_text(demo: Path) -> None:
    # Underscores are legal in ids and are markdown emphasis.
    ids = ("__boldCL__", "_emCH_", "__goneCH__")
    at = landing_operator_view({"client": ids[0], "channels": f"[{ids[1]}]", "revoked": f"[{ids[2]}]"})
    close_session_db(at)
    assert_shown_as_text_only(at, ids)
