"""One search on Events, Channels and Clients (AppTest, the whole console): a number typed with 00 or in national
form and a name typed without its accents find the number on each page, and moving to another page carries no
page's search along."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from streamlit.testing.v1 import AppTest

from services.channels.projection import ensure_client, upsert_channel
from services.events.store import save_events
from services.events.webhook import normalise_event
from tests.support.console import console_db
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
    assert _column(app, "channel") == ["oleCH", "oleCH"]


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
