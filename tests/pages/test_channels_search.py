"""One search on Events, Channels and Clients (AppTest, the whole console): a number typed with 00 or in national
form and a name typed without its accents find the number on each page, and moving to another page carries no
page's search along."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from streamlit.testing.v1 import AppTest

from services.channels.projection import ensure_client, upsert_channel
from services.events.webhook import normalise_event
from tests.support import ROOT
from tests.support.console import console_db
from tests.support.events import save_events
from tests.support.pages import close_session_db, console_app

EVENTS, CHANNELS, CLIENTS = "../pages/events.py", "../pages/channels.py", "../pages/clients.py"
TYPED = ["0034 600-111-222", "600111222", "Cafe", "cafe ole"]


@pytest.fixture
def app(db_path) -> Iterator[AppTest]:
    with console_db(db_path) as db:
        ensure_client(db, "cafeCL", name="Café Olé")
        ensure_client(db, "barCL", name="Bar Tapas")
        with db.atomic():
            upsert_channel(db, "oleCH", {"client_id": "cafeCL", "phone_number": "+34 600 111 222"}, source="test")
            upsert_channel(db, "barCH", {"client_id": "barCL", "phone_number": "+31 6 3439217"}, source="test")
        # The channel's events name it by its id alone, as most of 360dialog's do.
        bodies = [
            {"id": "e1", "event": "channel_created", "data": {"id": "oleCH"}},
            {"id": "e2", "event": "channel_status_running", "data": {"id": "oleCH", "status": "running"}},
            {"id": "e3", "event": "channel_created", "data": {"id": "barCH"}},
        ]
        save_events(db, [normalise_event(body) for body in bodies], headers={}, verdict="ok")
    console = console_app()
    yield console
    close_session_db(console)


def _run(app: AppTest) -> AppTest:
    app.run()
    assert not app.exception, [element.value for element in app.exception]
    return app


def _search(app: AppTest, typed: str) -> AppTest:
    """Type into the page's search box (its first text box)."""
    app.text_input[0].input(typed)
    return _run(app)


def _column(app: AppTest, column: str) -> list:
    return list(app.dataframe[-1].value[column])


@pytest.mark.parametrize("typed", TYPED)
def test_events_finds_the_numbers_events(app, typed: str) -> None:
    _run(app.switch_page(EVENTS))
    _search(app, typed)
    assert _column(app, "open") == ["channels?open=oleCH", "channels?open=oleCH"]


@pytest.mark.parametrize("typed", TYPED)
def test_channels_finds_the_number(app, typed: str) -> None:
    _run(app.switch_page(CHANNELS))
    _search(app, typed)
    assert _column(app, "channel id") == ["oleCH"]


@pytest.mark.parametrize("typed", TYPED)
def test_clients_finds_the_numbers_client(app, typed: str) -> None:
    _run(app.switch_page(CLIENTS))
    _search(app, typed)
    assert _column(app, "client id") == ["cafeCL"]


@pytest.mark.parametrize(("first", "then"), [(EVENTS, CHANNELS), (CHANNELS, CLIENTS), (CLIENTS, EVENTS)])
def test_moving_to_another_page_carries_no_search(app, first: str, then: str) -> None:
    _run(app.switch_page(first))
    _search(app, "Cafe")
    _run(app.switch_page(then))
    assert app.text_input[0].value == ""
    assert "Cafe" not in app.query_params.values()
    assert len(app.dataframe[-1].value) > 1, "the page lists everything, not what the other page searched"


WIDGET_KEY = re.compile(r"""\bkey=["']([^"']+)["']""")
SESSION_KEY = re.compile(
    r"""session_state(?:\[|\.get\(|\.pop\(|\.setdefault\()\s*["']([^"']+)["']|^[A-Z_]+_KEY = ["']([^"']+)["']"""
)


def _keys(pattern: re.Pattern[str], text: str) -> set[str]:
    return {next(group for group in match.groups() if group) for match in pattern.finditer(text)}


def test_no_widget_key_is_another_pages_or_the_dashboards() -> None:
    """The session keeps a widget's value under its key: a key two pages share carries one page's filter into the
    other's URL, and a widget keyed like the dashboard's own state (the signed-in identity, the database) would
    overwrite it."""
    sources = {
        path.name: path.read_text() for path in [*(ROOT / "pages").glob("*.py"), *(ROOT / "dashboard").glob("*.py")]
    }
    widget_keys = {name: _keys(WIDGET_KEY, text) for name, text in sources.items()}
    session_keys = {name: _keys(SESSION_KEY, text) | widget_keys[name] for name, text in sources.items()}
    shared = {
        (key, name, other)
        for name, keys in widget_keys.items()
        for other, others in session_keys.items()
        if other != name
        for key in keys & others
    }
    assert shared == set()
