"""The audit page through AppTest: every operator action, filtered by operator, action, channel and time (also
from the URL), paged, each row linking to its channel, exported as CSV; reached through the navigation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.console import console_db
from tests.support.pages import close_session_db, console_app, page_app


@pytest.fixture
def app():
    test_app = page_app("audit.py")
    yield test_app
    close_session_db(test_app)


def _seed(db_path, rows: list[tuple[timedelta, str, str, str | None, str]]) -> None:
    now = datetime.now(UTC)  # when the test runs, not when the suite was collected minutes before
    with console_db(db_path) as db, db.atomic():
        db["audit"].insert_all(
            [
                {
                    "at": (now - ago).isoformat(timespec="microseconds"),
                    "operator": operator,
                    "action": action,
                    "channel_id": channel_id,
                    "outcome": outcome,
                    "detail": "",
                }
                for ago, operator, action, channel_id, outcome in rows
            ]
        )


ROWS = [
    (timedelta(days=3), "ann", "generate_key", "aCH", "ok"),
    (timedelta(hours=5), "ben", "reveal_key", "aCH", "ok"),
    (timedelta(minutes=30), "(not signed in)", "login", None, "refused"),
    (timedelta(minutes=3), "ann", "sync_channels", None, "ok"),
    (timedelta(minutes=1), "ann", "export_keys", None, "ok"),
]


def _column(app, name: str) -> list:
    return list(app.dataframe[0].value[name])


def test_nothing_done_yet(db_path, app) -> None:
    app.run()
    assert not app.exception
    assert app.info[0].value == "Nothing has been done yet."


def test_filters_narrow_the_entries_and_each_row_links_to_its_channel(db_path, app) -> None:
    _seed(db_path, ROWS)
    app.run()
    assert not app.exception
    assert "5 entries · page 1 of 1, newest first" in [text.value for text in app.text]
    assert _column(app, "what") == [
        "new keys downloaded",
        "channels synced from the Partner API",
        "sign-in: refused",
        "key shown to an operator",
        "key generated",
    ]
    assert _column(app, "when") == ["1 min ago", "3 min ago", "30 min ago", "5 h ago", "3 days ago"]
    assert _column(app, "open")[-2:] == ["channels?open=aCH", "channels?open=aCH"]
    assert app.get("download_button")

    app.selectbox(key="who").select("ann").run()
    assert _column(app, "what") == ["new keys downloaded", "channels synced from the Partner API", "key generated"]
    app.selectbox(key="action").select("generate_key").run()
    assert _column(app, "when") == ["3 days ago"]
    app.selectbox(key="who").select("All")
    app.selectbox(key="action").select("All")
    app.text_input(key="channel").input("aCH").run()
    assert _column(app, "operator") == ["ben", "ann"]
    app.selectbox(key="range").select("Last 24 hours").run()
    assert _column(app, "operator") == ["ben"]
    app.text_input(key="channel").input("").run()
    app.selectbox(key="range").select("Last hour").run()
    assert _column(app, "what") == ["new keys downloaded", "channels synced from the Partner API", "sign-in: refused"]
    app.selectbox(key="action").select("reveal_key").run()
    assert app.info[0].value == "No entry matches."


def test_filters_come_from_the_url(db_path, app) -> None:
    _seed(db_path, ROWS)
    app.query_params.update({"who": "ann", "action": "key generation", "channel": "aCH"})
    app.run()
    assert not app.exception
    assert app.selectbox(key="who").value == "ann"
    assert app.selectbox(key="action").value == "generate_key"
    assert _column(app, "when") == ["3 days ago"]
    # An operator who acted long ago (not among the names offered) is still a filter from a link.
    app = page_app("audit.py")
    try:
        app.query_params["who"] = "zoe"
        app.run()
        assert app.selectbox(key="who").value == "zoe"
        assert app.info[0].value == "No entry matches."
    finally:
        close_session_db(app)


def test_entries_are_paged(db_path, app) -> None:
    _seed(db_path, [(timedelta(minutes=index), "ann", "reveal_key", f"c{index}CH", "ok") for index in range(120)])
    app.run()
    assert "120 entries · page 1 of 3, newest first" in [text.value for text in app.text]
    assert _column(app, "open")[0] == "channels?open=c0CH"
    app.get("pagination")[0].select(3).run()
    assert "120 entries · page 3 of 3, newest first" in [text.value for text in app.text]
    assert _column(app, "open") == [f"channels?open=c{index}CH" for index in range(100, 120)]


def test_the_navigation_reaches_the_audit_page(db_path, sessions) -> None:
    _seed(db_path, ROWS[:1])
    app = console_app()
    sessions.append(app)
    app.run().switch_page("../pages/audit.py").run()
    assert not app.exception
    assert [title.value for title in app.title] == ["Audit"]
    assert _column(app, "operator") == ["ann"]
