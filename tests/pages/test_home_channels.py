"""Where am I, on the Channels page: the work queue's chip lives in the URL, each reason says what to do, a
channel's view links to its client, its events and its page in 360dialog's hub, and a status is not a button."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.channels.projection import upsert_channel
from tests.support.console import console_db
from tests.support.pages import close_session_db, page_app


@pytest.fixture
def app():
    test_app = page_app("channels.py")
    yield test_app
    close_session_db(test_app)


def _seed(db_path) -> None:
    long_ago = (datetime.now(UTC) - timedelta(hours=5)).isoformat(timespec="microseconds")
    with console_db(db_path) as db, db.atomic():
        db["clients"].insert({"id": "cA", "name": "Café Olé"})
        upsert_channel(
            db,
            "aCH",
            {"status": "pending", "phone_number": "+34 600 111 222", "phone_name": "Olé", "client_id": "cA"},
            source="test",
            status_since=long_ago,
        )
        upsert_channel(db, "bCH", {"status": "running", "phone_number": "+34 600 111 333"}, source="test")


def _queue(app):
    return app.dataframe[0].value


def test_the_chip_comes_from_the_url_and_goes_back_into_it(db_path, app) -> None:
    _seed(db_path)
    app.query_params["needs"] = "stuck"
    app.run()
    assert not app.exception
    assert list(_queue(app)["needs"]) == ["stuck"]
    app.get("button_group")[0].set_value("running without a key").run()
    assert list(_queue(app)["needs"]) == ["running without a key"]
    assert app.query_params["needs"] == "running without a key"
    app.get("button_group")[0].set_value(None).run()
    assert len(_queue(app)) == 2
    assert "needs" not in app.query_params


def test_each_reason_says_what_to_do(db_path, app) -> None:
    _seed(db_path)
    app.run()
    queue = _queue(app)
    steps = dict(zip(queue["needs"], queue["what to do"], strict=True))
    assert steps["stuck"] == "ask the client to finish in 360dialog's hub, or open the channel"
    assert steps["running without a key"] == "open the channel and generate its key"


def test_a_channels_view_links_to_its_client_its_events_and_the_hub(db_path, app) -> None:
    _seed(db_path)
    app.query_params["open"] = "aCH"
    app.run()
    assert not app.exception
    links = {button.proto.label: button.proto.url for button in app.get("link_button")}
    assert links["Café Olé on Clients"] == "clients?open=cA"
    assert links["Its events"] == "events?channel=aCH"
    hub = links["In 360dialog's hub"]
    assert hub.startswith("http://")
    assert hub.endswith("/dashboard/app/demoPA/channels/aCH")


def test_every_key_ready_is_a_status_not_a_disabled_button(db_path, app) -> None:
    app.run()
    assert not app.exception
    assert "Every key is ready to use" not in [button.label for button in app.button]
    assert any("Every key is ready to use" in caption.value for caption in app.caption)
