"""The home page through AppTest: the day's picture (channels by stage, what needs attention now with what to do,
firing alerts, the last sync, webhook and key-health round), each with a link into its page; and the
navigation opening on it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.channels.projection import upsert_channel
from tests.support.console import console_db
from tests.support.pages import close_session_db, console_app


@pytest.fixture
def app():
    """The whole console: the home page is its first page, and its links need the navigation's pages."""
    test_app = console_app()
    yield test_app
    close_session_db(test_app)


def _ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat(timespec="microseconds")


def _seed_the_day(db_path) -> None:
    with console_db(db_path) as db, db.atomic():
        db["clients"].insert({"id": "cA", "name": "Café Olé"})
        upsert_channel(
            db,
            "aCH",
            {"status": "pending", "phone_number": "+34 600 111 222", "phone_name": "Olé", "client_id": "cA"},
            source="test",
            status_since=_ago(hours=5),
        )
        upsert_channel(db, "bCH", {"status": "running", "phone_number": "+34 600 111 333"}, source="test")
        db["alerts"].insert(
            {"rule": "quality_drop", "subject": "channel/bCH", "channel_id": "bCH", "state": "firing",
             "detail": "GREEN to RED", "fired_at": _ago(minutes=6)}
        )  # fmt: skip
        db["sync_runs"].insert(
            {"trigger": "scheduler", "operator": "scheduler", "started_at": _ago(minutes=12),
             "finished_at": _ago(minutes=12), "outcome": "ok"}
        )  # fmt: skip
        db["events"].insert(
            {"dedupe_key": "e1", "event_type": "channel_created", "kind": "partner", "channel_id": "aCH",
             "raw_body": "{}", "received_at": _ago(minutes=3)}
        )  # fmt: skip
        db["key_health_rounds"].insert(
            {"started_at": _ago(minutes=20), "finished_at": _ago(minutes=20), "checked": 79, "stopped": 1,
             "could_not_check": 0, "still_due": 0}
        )  # fmt: skip


def _texts(app) -> list[str]:
    return [element.value for element in app.text]


def _links(app) -> list[tuple[str, str]]:
    # Labels are escaped markdown: compared as they read on screen.
    return [(link.proto.label.replace("\\", ""), link.proto.page) for link in app.get("page_link")]


def test_the_day_in_one_picture_with_a_link_into_each_page(db_path, app) -> None:
    _seed_the_day(db_path)
    app.run()
    assert not app.exception
    assert [title.value for title in app.title] == ["Today"]
    assert {metric.label: metric.value for metric in app.metric}["pending"] == "1"
    assert {metric.label: metric.value for metric in app.metric}["running"] == "1"
    texts = _texts(app)
    assert "Quality dropped or low · +34 600 111 333 · since 6 min ago" in texts
    assert any(text.startswith("Last sync from the Partner API: 12 min ago (") and "by the scheduler: ok" in text
               for text in texts)  # fmt: skip
    assert any(text.startswith("Last webhook received: 3 min ago (") for text in texts)
    assert any(text.startswith("Key health, last round 20 min ago") and "79 keys checked, 1 stopped" in text
               for text in texts)  # fmt: skip
    links = _links(app)
    labels = [label for label, _ in links]
    # The top of the work queue, each row saying what to do, each opening its channel.
    assert "+34 600 111 222 (Olé) · stuck" in labels
    captions = [caption.value.replace("\\", "") for caption in app.caption]
    assert "What to do: ask the client to finish in 360dialog's hub, or open the channel" in captions
    pages = {page.rsplit("/", 1)[-1] for _, page in links}
    assert {"channels", "alerts", "events", "receiver"} <= pages
    chip = next(link for link in app.get("page_link") if link.proto.label.startswith("stuck \\("))
    assert chip.proto.query_string == "needs=stuck"


def test_a_quiet_day_says_so_in_words(db_path, app) -> None:
    app.run()
    assert not app.exception
    texts = _texts(app)
    assert "Nothing needs attention: every channel is where it should be." in texts
    assert "No alert is firing." in texts
    assert "Last sync from the Partner API: no sync yet" in texts
    assert "Last webhook received: none yet" in texts
    assert all("None" not in text for text in texts)


def test_the_console_opens_on_the_home_page(db_path, sessions) -> None:
    app = console_app()
    sessions.append(app)
    app.run()
    assert not app.exception
    assert [title.value for title in app.title] == ["Today"]
