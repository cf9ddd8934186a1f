"""The Clients page (AppTest): every client with its numbers, search, pages, and one client in its own view
(/clients?open=<id>) with each number linked to its channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from services.channels.projection import ensure_client, upsert_channel
from services.onboarding.links import LinkRequest, hand_out_link
from services.onboarding.redirect_store import receive_redirect
from tests.support.pages import console_app
from tests.support.people import person

PAGE = "../pages/clients.py"


@pytest.fixture
def app(sessions: list[AppTest]) -> AppTest:
    app = console_app()
    sessions.append(app)
    app.switch_page(PAGE)
    return app


def run(app: AppTest) -> AppTest:
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def seed(db) -> None:
    ensure_client(db, "cafeCL", name="Cafe Olé")
    ensure_client(db, "barCL")
    with db.atomic():
        db["clients"].update("cafeCL", {"first_seen_at": "2026-11-02T10:00:00.000000+00:00"})
        upsert_channel(
            db, "c0CH", {"client_id": "cafeCL", "status": "running", "phone_number": "+34 600 111 222"}, source="test"
        )
        upsert_channel(db, "c0CH", {"phone_name": "Cafe Olé Centro"}, source="test")
        upsert_channel(
            db, "c1CH", {"client_id": "cafeCL", "status": "pending", "phone_number": "+34 600 333 444"}, source="test"
        )
        upsert_channel(
            db, "b0CH", {"client_id": "barCL", "status": "submitted", "phone_number": "+31 6 3439217"}, source="test"
        )


def table(app: AppTest):
    return app.dataframe[0].value


def test_no_client_yet(app) -> None:
    run(app)
    assert app.title[0].value == "Clients"
    assert "No client yet" in app.info[0].value


def test_clients_with_their_numbers_and_counts_per_status(app, db) -> None:
    seed(db)
    run(app)
    frame = table(app)
    assert frame.columns.tolist()[:3] == ["business", "numbers", "channels"]
    assert list(frame["client id"]) == ["barCL", "cafeCL"]  # newest first
    cafe = frame[frame["client id"] == "cafeCL"].iloc[0]
    assert (cafe["business"], cafe["numbers"], cafe["channels"]) == ("Cafe Olé", "+34 600 111 222, +34 600 333 444", 2)
    assert (cafe["running"], cafe["pending"], cafe["submitted"], cafe["other"]) == (1, 1, 0, 0)
    assert cafe["first seen"].endswith("ago")
    bar = frame[frame["client id"] == "barCL"].iloc[0]
    assert (bar["business"], bar["submitted"]) == ("name not known yet", 1)
    assert app.caption[-1].value == "2 clients"


@pytest.mark.parametrize("typed", ["cafe", "cafeCL", "+34600333444", "600 333 444", "Centro"])
def test_search_by_name_id_or_a_number_in_any_spelling(app, db, typed) -> None:
    seed(db)
    run(app)
    app.text_input(key="clients_q").input(typed)
    run(app)
    assert list(table(app)["client id"]) == ["cafeCL"]
    assert app.caption[-1].value == "1 client"


def test_a_search_with_no_match_says_so_and_clears(app, db) -> None:
    seed(db)
    run(app)
    app.text_input(key="clients_q").input("nobody")
    run(app)
    assert app.info[0].value == "No client matches this search."
    assert not app.dataframe
    next(button for button in app.button if button.label == "Clear the search").click()
    run(app)
    assert len(table(app)) == 2


def test_many_clients_come_a_page_at_a_time(app, db) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with db.atomic():
        db["clients"].insert_all(
            {"id": f"{index:03d}CL", "first_seen_at": (start + timedelta(minutes=index)).isoformat()}
            for index in range(120)
        )
    run(app)
    assert len(table(app)) == 50
    assert app.caption[-1].value == "120 clients · page 1 of 3"
    assert table(app)["client id"].iloc[0] == "119CL"


def open_client(app: AppTest, client_id: str) -> AppTest:
    """As a pasted link /clients?open=<id> opens it."""
    app.query_params["open"] = client_id
    return run(app)


def page_links(app: AppTest) -> dict[str, tuple[str, str]]:
    """query -> (label, page) of each link to another page."""
    return {link.proto.query_string: (link.proto.label, link.proto.page) for link in app.get("page_link")}


def test_a_deep_link_opens_the_client_with_its_numbers_redirects_and_timeline(app, db) -> None:
    seed(db)
    link = hand_out_link(db, LinkRequest(), partner_id="demoPA", actor=person("ana"))
    receive_redirect(db, f"client=cafeCL&channels=[c0CH,c1CH]&state={link.state}")
    open_client(app, "cafeCL")
    texts = [text.value for text in app.text]
    assert "2 channels: running 1 · pending 1" in texts  # the later stage first
    assert [tab.label for tab in app.tabs] == ["Numbers (2)", "Redirects (1)", "Timeline"]
    links = page_links(app)
    assert links["open=c0CH"][0] == "\\+34 600 111 222 \\(Cafe Olé Centro\\) · 🟢 running · no key"
    assert links["open=c0CH"][1].endswith("channels")
    # A number without a display name of its own is not named again after the business.
    assert links["open=c1CH"][0] == "\\+34 600 333 444 · ⚪ pending · no key"
    assert "open=b0CH" not in links
    redirects, timeline = app.dataframe[-2].value, app.dataframe[-1].value
    assert list(redirects["channels"]) == ["c0CH (+34 600 111 222, Cafe Olé Centro), c1CH (+34 600 333 444)"]
    assert "redirect (not applied) claims: permission granted" in set(timeline["what"])
    assert "onboarding link handed out" in set(timeline["what"])
    assert app.session_state["client_open"] == "cafeCL"


def test_an_unknown_client_says_so(app, db) -> None:
    open_client(app, "noneCL")
    assert any("not known here" in info.value for info in app.info)


def test_choosing_a_row_opens_that_client(app, db) -> None:
    seed(db)
    run(app)
    app.session_state["clients_table_0"] = {"selection": {"rows": [1], "columns": []}}
    run(app)
    assert app.session_state["client_open"] == "cafeCL"
    assert app.query_params["open"] == "cafeCL"
    assert "open=c0CH" in page_links(app)


def test_a_link_to_another_client_opens_that_one(app, db) -> None:
    seed(db)
    open_client(app, "cafeCL")
    assert app.session_state["client_open"] == "cafeCL"
    open_client(app, "barCL")  # pasted later, with the first client still remembered by the session
    assert app.session_state["client_open"] == "barCL"
