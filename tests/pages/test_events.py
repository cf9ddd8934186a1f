"""The Events page through AppTest: list, filters, search, paging, one event opened, pause, export; the filters
and the open event in the URL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.events.webhook import normalise_event
from tests.support.console import console_db
from tests.support.events import save_event
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

    app.selectbox(key="type").select("channel_created").run()
    assert "60 matching events · page 1, newest first" in _texts(app)

    app.text_input(key="events_channel").input("ch1").run()
    assert set(app.dataframe[0].value["open"]) == {"channels?open=ch1"}

    app.selectbox(key="type").select("All").run()
    app.text_input(key="events_channel").input("").run()
    app.text_input(key="events_q").input("marker-77").run()
    assert "1 matching events · page 1, newest first" in _texts(app)
    assert list(app.dataframe[0].value["id"]) == [78]

    app.number_input(key="open").set_value(78).run()
    assert not app.exception
    assert any("signature: ok" in text for text in _texts(app))
    assert app.metric[0].label == "Received"
    assert app.metric[0].value.endswith("ago")
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


def _seed_bulk(db_path, count: int, *, old_word: str) -> None:
    """`count` events over the last 60 days in one statement (as fast as the receiver's listing writes them);
    only the oldest holds `old_word`."""
    with console_db(db_path) as db, db.atomic():
        db.execute(
            """
            with recursive n(i) as (select 1 union all select i + 1 from n where i < ?)
            insert into events (dedupe_key, event_type, kind, channel_id, raw_body, signature_verdict, received_at)
            select 'k' || i, 'channel_created', 'channel_created', 'ch' || (i % 40),
                   json_object('id', 'ev' || i, 'event', 'channel_created',
                               'data', json_object('id', 'ch' || (i % 40), 'note', iif(i = 1, ?, 'filler'))),
                   'valid',
                   strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now', '-60 days', printf('+%d seconds', i * 5184000 / ?))
            from n
            """,
            [count, old_word, count],
        )


def test_an_old_event_is_found_among_many_with_all_time_selected(db_path, app) -> None:
    _seed_bulk(db_path, 30_000, old_word="quokka")
    app.run()
    assert "500 matching events · page 1, newest first" in _texts(app)  # the last 24 hours of 60 days
    app.selectbox(key="events_range").select("All time")
    app.text_input(key="events_q").input("quokka").run()
    assert not app.exception
    assert "1 matching events · page 1, newest first" in _texts(app)
    assert list(app.dataframe[0].value["id"]) == [1]
    assert app.dataframe[0].value["received"].iloc[0] == "2 months ago"
    # The default range, the last 24 hours, holds only the newest events: the search says so by finding none.
    app.selectbox(key="events_range").select("Last 24 hours").run()
    assert app.info[0].value == "No webhook matches."


@pytest.mark.parametrize("typed", ["3163439217", "+31 6 3439217", "+3163439217"])
def test_a_phone_number_is_found_by_its_digits_whatever_the_spelling(db_path, app, typed: str) -> None:
    now = datetime.now(UTC)
    with console_db(db_path) as db, db.atomic():
        for index, (event, number) in enumerate(
            [
                ("account_violation", "+31 6 3439217"),
                ("channel_created", "+3163439217"),
                ("account_restriction", "3163439217"),
                ("account_violation", "+31 6 3439218"),
            ]
        ):
            body = {"id": f"p{index}", "event": event, "data": {"phone_number": number}}
            at = (now - timedelta(minutes=10 - index)).isoformat()
            save_event(db, normalise_event(body), headers={}, verdict="valid", received_at=at)
    app.query_params["events_q"] = typed
    app.run()
    assert not app.exception
    assert list(app.dataframe[0].value["id"]) == [3, 2, 1]


def test_filters_and_the_open_event_round_trip_through_the_url(db_path, app) -> None:
    _seed(db_path, 120)
    app.run()
    # Each filter is bound to the URL parameter named by its key: the browser writes a change into the URL.
    widgets = [app.selectbox(key=key) for key in ("type", "events_range", "verdict")]
    widgets += [app.text_input(key=key) for key in ("events_client", "events_channel", "events_q")]
    widgets.append(app.number_input(key="open"))
    assert [widget.proto.query_param_key for widget in widgets] == [
        "type",
        "events_range",
        "verdict",
        "events_client",
        "events_channel",
        "events_q",
        "open",
    ]
    # A colleague opens a link with every filter: the same filters, the same rows, the same event open.
    link = {
        "type": "channel_created",
        "events_range": "Last 7 days",
        "verdict": "ok",
        "events_channel": "ch2",
        "events_q": "marker-77",
        "open": "78",
    }
    pasted = page_app("events.py")
    try:
        pasted.query_params.update(link)
        pasted.run()
        assert not pasted.exception
        assert pasted.selectbox(key="type").value == "channel_created"
        assert pasted.selectbox(key="events_range").value == "Last 7 days"
        assert pasted.selectbox(key="verdict").value == "ok"
        assert pasted.text_input(key="events_channel").value == "ch2"
        assert pasted.text_input(key="events_q").value == "marker-77"
        assert pasted.number_input(key="open").value == 78
        assert list(pasted.dataframe[0].value["id"]) == [78]
        assert '"marker-77"' in pasted.code[0].value
        assert pasted.query_params == link
        # A reload (the same link again) keeps them; closing the event takes it out of the URL, the filters stay.
        pasted.run()
        assert pasted.query_params == link
        assert list(pasted.dataframe[0].value["id"]) == [78]
        next(button for button in pasted.button if button.label == "Close event").click().run()
        assert pasted.query_params == {key: value for key, value in link.items() if key != "open"}
        assert not pasted.code
    finally:
        close_session_db(pasted)


def test_closing_the_event_and_default_filters_leave_the_url(db_path, app) -> None:
    _seed(db_path, 3)
    app.query_params.update({"open": "2", "events_range": "Last 24 hours"})
    app.run()
    assert app.number_input(key="open").value == 2
    assert "events_range" not in app.query_params, "a default value is not kept in the URL"
    next(button for button in app.button if button.label == "Close event").click().run()
    assert app.number_input(key="open").value is None
    assert "open" not in app.query_params


def test_a_link_to_an_event_that_is_not_stored_says_so(db_path, app) -> None:
    _seed(db_path, 3)
    app.query_params["open"] = "999"
    app.run()
    assert not app.exception
    assert app.error[0].value == "No event #999 is stored."


@pytest.mark.parametrize("typed", ["a\x00b", "marker\x00-77", '"NEAR(', "body:marker", "\x1b[31m", "x" * 5_000])
def test_a_hostile_search_in_the_url_is_searched_never_a_crash(db_path, app, caplog, typed: str) -> None:
    _seed(db_path, 3)
    app.query_params["events_q"] = typed
    app.run()
    assert not app.exception, [element.value for element in app.exception]
    assert any("matching events" in text for text in _texts(app))
    app.run()  # the live refresh: the same again, nothing logged
    assert not app.exception
    assert not [record for record in caplog.records if record.levelname in ("ERROR", "CRITICAL")]


def test_a_nul_in_the_search_is_dropped(db_path, app) -> None:
    _seed(db_path, 120)
    app.query_params["events_q"] = "marker\x00-77"
    app.run()
    assert not app.exception
    assert list(app.dataframe[0].value["id"]) == [78]


def test_a_search_the_index_cannot_answer_is_a_message_and_the_page_stays(db_path, app) -> None:
    _seed(db_path, 3)
    with console_db(db_path) as db:
        db.execute("drop table events_fts")
    app.query_params["events_q"] = "marker"
    app.run()
    assert not app.exception
    assert [element.value for element in app.warning] == [
        "The search could not run (OperationalError from the full-text index). "
        "Try other words, or clear the search: the other filters work without it."
    ]
    app.text_input(key="events_q").input("").run()
    assert not app.exception
    assert not app.warning
    assert "3 matching events · page 1, newest first" in _texts(app)


def test_a_short_prefix_is_a_whole_word_and_the_page_says_so(db_path, app) -> None:
    _seed(db_path, 3)
    app.query_params["events_q"] = "c*"
    app.run()
    assert not app.exception
    assert "3 letters or digits" in app.caption[0].value
    assert "0 matching events · page 1, newest first" in _texts(app)
    app.text_input(key="events_q").input("mar*").run()
    assert not app.caption
    assert "3 matching events · page 1, newest first" in _texts(app)


def test_a_prefix_count_stops_at_its_cap(db_path, app) -> None:
    _seed_bulk(db_path, 1_200, old_word="quokka")
    app.query_params.update({"events_q": "fil*", "events_range": "All time"})
    app.run()
    assert not app.exception
    assert "1,000+ matching events · page 1, newest first" in _texts(app)
    app.text_input(key="events_q").input("filler").run()
    assert "1,199 matching events · page 1, newest first" in _texts(app)
