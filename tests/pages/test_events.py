"""The Events page through AppTest: list, filters, search, paging, one event opened, pause, export."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.events.store import save_event
from services.events.webhook import normalise_event
from tests.support.console import console_db
from tests.support.pages import close_session_db, page_app


@pytest.fixture
def app():
    test_app = page_app("events.py")
    yield test_app
    close_session_db(test_app)


def _seed(db_path, count: int) -> None:
    now = datetime.now(UTC)
    with console_db(db_path) as db, db.atomic():
        for index in range(count):
            event_type = "channel_created" if index % 2 else "phone_number_quality_changed"
            body = {
                "id": f"ev{index}",
                "event": event_type,
                "data": {"id": f"ch{index % 3}", "client_id": "clCL", "note": f"marker-{index}"},
            }
            at = (now - timedelta(minutes=count - index)).isoformat(timespec="microseconds")
            save_event(db, normalise_event(body), headers={"user-agent": "hub"}, verdict="ok", received_at=at)


def _texts(app) -> list[str]:
    return [element.value for element in app.text]


def test_empty_page_says_nothing_arrived(db_path, app) -> None:
    app.run()
    assert not app.exception
    assert app.info[0].value == "No webhook has arrived yet."


def test_list_filters_search_and_open_one_event(db_path, app) -> None:
    _seed(db_path, 120)
    app.run()
    assert not app.exception
    assert "120 matching events · page 1, newest first" in _texts(app)
    table = app.dataframe[0].value
    assert len(table) == 50
    assert table["id"].iloc[0] == 120

    app.selectbox(key="events_type").select("channel_created").run()
    assert "60 matching events · page 1, newest first" in _texts(app)

    app.text_input(key="events_channel").input("ch1").run()
    assert set(app.dataframe[0].value["channel_id"]) == {"ch1"}

    app.selectbox(key="events_type").select("All").run()
    app.text_input(key="events_channel").input("").run()
    app.text_input(key="events_search").input("marker-77").run()
    assert "1 matching events · page 1, newest first" in _texts(app)
    assert list(app.dataframe[0].value["id"]) == [78]

    app.selectbox(key="events_open").select(78).run()
    assert not app.exception
    assert app.metric[0].value == "ok"
    assert '"marker-77"' in app.code[0].value
    assert "user-agent" in app.code[1].value


def test_paging_older_newer_and_newest(db_path, app) -> None:
    _seed(db_path, 120)
    app.run()
    app.button[2].click().run()  # Older
    assert "page 2" in " ".join(_texts(app))
    assert app.dataframe[0].value["id"].iloc[0] == 70
    app.button[2].click().run()
    assert app.dataframe[0].value["id"].iloc[-1] == 1
    assert app.button[2].disabled
    app.button[1].click().run()  # Newer
    assert app.dataframe[0].value["id"].iloc[0] == 70
    app.button[0].click().run()  # Newest
    assert app.dataframe[0].value["id"].iloc[0] == 120


def test_time_range_and_pause(db_path, app) -> None:
    _seed(db_path, 120)
    app.run()
    app.selectbox(key="events_range").select("Last hour").run()
    assert "59 matching events · page 1, newest first" in _texts(app)
    app.toggle(key="events_live").set_value(False).run()
    assert not app.exception
    assert app.toggle(key="events_live").value is False
    assert app.get("download_button")
