"""An operator's name is text wherever a page shows it: never a live link, bold text or HTML.

A name is typed at sign-in (any printable text) or comes from the identity provider. This test records one full
of Markdown in every table that keeps a name (the audit log, handed-out links, redirect decisions, sync runs and
the sync lease, keys and their steps, composed alerts), runs every page of pages/ with the views that show those
rows open, and walks every element the page rendered: no string that Streamlit renders as Markdown (bodies,
labels, captions, help, options, progress texts) may carry the name's markup raw. A page added under pages/ is
run too, so the test fails until it is listed here with the views that show a name.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from google.protobuf.message import Message
from streamlit.testing.v1 import AppTest

from services import audit
from services.accounts import ADMIN, add_account, command_line_person
from services.channels.projection import ensure_client, upsert_channel
from services.channels.sync_runs import LEASE_NAME
from services.onboarding.links import LinkRequest, hand_out_link
from tests.support.console import console_db, use_demo, use_live
from tests.support.pages import PAGES, close_session_db, console_app
from tests.support.people import person

NAME = "[x](https://evil.example) **bold** <b>"
# What would turn live if the name reached Markdown unescaped: a link, an autolink, bold text, an HTML tag.
LIVE_MARKUP = ("](https://evil", "https://evil.example", "**bold**", "<b>")
CHANNEL, CLIENT = "nameCH", "nameCL"
# Every page, and the views of it that show a name (URL parameters); one run each.
VIEWS: dict[str, list[dict[str, str]]] = {
    "alerts.py": [{}],
    "audit.py": [{}, {"operator": NAME}],
    "channels.py": [{}, {"open": CHANNEL}],
    "clients.py": [{}, {"open": CLIENT}],
    "connect.py": [{}],
    "demo.py": [{}],
    "events.py": [{}],
    "home.py": [{}],
    "landing.py": [{}],
    "receiver.py": [{}],
    "redirects.py": [{}],
}
# Pages that must show the name somewhere (as text, escaped, or in a table), lest the test check nothing.
SHOWN_ON = {"audit.py", "channels.py", "clients.py", "connect.py", "landing.py", "receiver.py", "redirects.py"}
# Fields shown as plain text, never as Markdown.
PLAIN_FIELDS = {
    ("text", "body"),
    ("code", "code_text"),
    ("json", "body"),
    ("metric", "body"),
    ("selectbox", "options"),
    ("selectbox", "default"),
    ("multiselect", "options"),
    ("text_input", "value"),
    ("text_input", "default"),
    ("text_input", "placeholder"),
}
MARKDOWN_FIELD_NAMES = {"body", "label", "help", "caption", "captions", "options", "text", "title"}


@pytest.fixture
def named(monkeypatch: pytest.MonkeyPatch, data_dir: Path, db_path: Path) -> Path:
    """Demo mode, and a record of NAME in every table that keeps one."""
    use_demo(monkeypatch, data_dir)
    now = datetime.now(UTC)
    at = now.isoformat(timespec="microseconds")
    with console_db(db_path) as db:
        ensure_client(db, CLIENT, name="Name test")
        upsert_channel(db, CHANNEL, {"client_id": CLIENT, "status": "running"}, source="test")
        state = hand_out_link(
            db, LinkRequest(params={"redirect_url": "https://x.test/landing"}), partner_id="demoPA", actor=person(NAME)
        ).state
        audit.record(db, operator=NAME, action="generate_key", outcome="ok", channel_id=CHANNEL, detail="test")
        with db.atomic():
            db["redirects"].insert(
                {
                    "raw_query": f"client={CLIENT}&channels=[{CHANNEL}]&state={state}",
                    "client_id": CLIENT,
                    "channels": f'["{CHANNEL}"]',
                    "revoked": "[]",
                    "state": state,
                    "state_match": "matched",
                    "received_at": at,
                    "verdict": "discarded",
                    "verdict_reason": "discarded by an operator",
                    "decided_by": NAME,
                    "decided_at": at,
                }
            )
            run_id = (
                db["sync_runs"]
                .insert(
                    {
                        "trigger": "operator",
                        "operator": NAME,
                        "started_at": at,
                        "finished_at": at,
                        "duration_seconds": 1.0,
                        "outcome": "ok",
                        "seen": 1,
                        "total": 1,
                    }
                )
                .last_pk
            )
            db["audit"].insert(
                {
                    "at": at,
                    "operator": NAME,
                    "action": "sync",
                    "outcome": "ok",
                    "channel_id": CHANNEL,
                    "sync_run_id": run_id,
                }
            )
            db["sync_lease"].insert(
                {
                    "name": LEASE_NAME,
                    "token": "held",
                    "holder": NAME,
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                    "run_id": run_id,
                    "acquired_at": at,
                    "expires_at": (now + timedelta(minutes=5)).isoformat(timespec="microseconds"),
                }
            )
            key_id = (
                db["api_keys"]
                .insert(
                    {
                        "channel_id": CHANNEL,
                        "operator": NAME,
                        "created_at": at,
                        "outcome": "ok",
                        "status": "active",
                        "key_last4": "abcd",
                    }
                )
                .last_pk
            )
            db["key_steps"].insert({"key_id": key_id, "step": "check", "status": "failed", "at": at, "operator": NAME})
            db["alert_messages"].insert(
                {
                    "kind": "test",
                    "level": "info",
                    "title": "Test",
                    "body": f"Sent by {NAME}",
                    "operator": NAME,
                    "created_at": at,
                }
            )
    return data_dir


def _strings(message: Message, kind: str) -> Iterator[tuple[str, str, str | bytes]]:
    """(element type, field, value) of every text and bytes field in a proto, nested ones too."""
    for field, value in message.ListFields():
        values = value if field.is_repeated else [value]
        for item in values:
            if isinstance(item, Message):
                yield from _strings(item, kind)
            elif isinstance(item, (str, bytes)):
                yield kind, field.name, item


def rendered(app: AppTest) -> Iterator[tuple[str, str, str | bytes]]:
    for node in app._tree:  # every element and block, whatever its type (AppTest lists them by type only)
        proto = getattr(node, "proto", None)
        if isinstance(proto, Message):
            yield from _strings(proto, node.type)


def live_markup(app: AppTest) -> list[tuple[str, str, str]]:
    """Markdown-rendered strings that carry the name's markup raw."""
    return [
        (kind, name, value)
        for kind, name, value in rendered(app)
        if isinstance(value, str)
        and name in MARKDOWN_FIELD_NAMES
        and (kind, name) not in PLAIN_FIELDS
        and any(markup in value for markup in LIVE_MARKUP)
    ]


def shows_the_name(app: AppTest) -> bool:
    return any(
        "evil" in (value if isinstance(value, str) else value.decode("utf-8", "replace"))
        for _, _, value in rendered(app)
    )


def open_page(page: str, params: dict[str, str]) -> AppTest:
    """The page as the console serves it (navigation, sidebar and all), opened with these URL parameters."""
    app = console_app()
    app.switch_page(f"../pages/{page}")
    app.query_params.update(params)
    app.run()
    operator_view = [button for button in app.button if button.label == "Operator view"]
    if operator_view:  # the landing page in demo mode: the operator's view is one button past the client's page
        operator_view[0].click().run()
    return app


def test_every_page_is_listed() -> None:
    assert sorted(path.name for path in PAGES.glob("*.py")) == sorted(VIEWS)


@pytest.mark.parametrize("page", sorted(VIEWS))
def test_a_name_full_of_markdown_is_never_rendered_as_markdown(named: Path, page: str) -> None:
    shown = False
    for params in VIEWS[page]:
        app = open_page(page, params)
        try:
            assert not app.exception, [element.value for element in app.exception]
            assert not live_markup(app), (params, live_markup(app))
            shown = shown or shows_the_name(app)
        finally:
            close_session_db(app)
    assert shown or page not in SHOWN_ON, "the name is not shown where it is kept"


def test_a_sync_refused_while_another_holds_it_names_the_holder_as_text(named: Path) -> None:
    app = open_page("channels.py", {})
    try:
        next(button for button in app.button if button.label == "Sync all from the Partner API").click().run()
        assert not app.exception
        assert any("evil" in warning.value for warning in app.warning), "the holder is named"
        assert not live_markup(app)
    finally:
        close_session_db(app)


def test_the_landing_page_names_who_handed_out_the_link_as_text(named: Path, db_path: Path) -> None:
    with console_db(db_path) as db:
        state = hand_out_link(db, LinkRequest(), partner_id="demoPA", actor=person(NAME)).state
    app = open_page("landing.py", {"client": CLIENT, "channels": f"[{CHANNEL}]", "state": state})
    try:
        assert not app.exception, [element.value for element in app.exception]
        assert shows_the_name(app)
        assert not live_markup(app)
    finally:
        close_session_db(app)


def test_a_name_typed_at_sign_in_stays_text_on_every_page(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    use_live(monkeypatch, data_dir, "correct horse battery staple")
    with console_db(data_dir / "console.db") as db:
        # An account name is plain; the name shown for it is what an admin typed.
        add_account(db, command_line_person("tests"), "mark", "correct horse battery staple", ADMIN, NAME)
    app = console_app().run()
    try:
        app.text_input[0].input("mark")
        app.text_input[1].input("correct horse battery staple")
        app.button[0].click().run()
        assert not app.exception
        assert shows_the_name(app), "the sidebar names who is signed in"
        for page in sorted(VIEWS):
            if page == "demo.py":
                continue  # demo mode only
            app.switch_page(f"../pages/{page}").run()
            assert not app.exception, (page, [element.value for element in app.exception])
            assert not live_markup(app), (page, live_markup(app))
    finally:
        close_session_db(app)
