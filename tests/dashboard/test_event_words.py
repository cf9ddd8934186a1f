"""The Events page names whose each event is: the channel by its number, the business by its name, a link to
the channel, and never a literal `None` (an event with no channel or status shows an empty cell)."""

from __future__ import annotations

import pytest

from services.channels.projection import upsert_channel
from services.events.webhook import normalise_event
from services.store import utc_now
from tests.support.console import console_db
from tests.support.events import save_event
from tests.support.pages import close_session_db, page_app


@pytest.fixture(autouse=True)
def demo_mode(demo):
    """The page runs in demo mode with its data in the test's folder (as tests/pages/ do)."""
    return demo


@pytest.fixture
def app():
    test_app = page_app("events.py")
    yield test_app
    close_session_db(test_app)


def test_each_event_names_its_number_and_business_with_a_link(db_path, app) -> None:
    with console_db(db_path) as db, db.atomic():
        db["clients"].insert({"id": "clCL", "name": "Café Olé"})
        upsert_channel(db, "aCH", {"phone_number": "+34 600 111 222", "phone_name": "Olé", "client_id": "clCL"},
                       source="test")  # fmt: skip
        for body in (
            {"id": "e1", "event": "channel_created", "data": {"id": "aCH", "client_id": "clCL"}},
            {"id": "e2", "event": "client_created", "data": {"client_id": "otherCL"}},
            {"id": "e3", "event": "partner_note", "data": {}},
        ):
            save_event(db, normalise_event(body), headers={}, verdict="ok", received_at=utc_now())
    app.run()
    assert not app.exception
    table = app.dataframe[0].value.set_index("event type")
    assert (table.loc["channel_created", "channel"], table.loc["channel_created", "business"]) == (
        "+34 600 111 222 (Olé)",
        "Café Olé",
    )
    assert table.loc["channel_created", "open"] == "channels?open=aCH"
    assert table.loc["client_created", "business"] == "client otherCL"
    assert (table.loc["partner_note", "channel"], table.loc["partner_note", "business"]) == ("", "")
    assert "None" not in app.dataframe[0].value.astype(str).to_string()
