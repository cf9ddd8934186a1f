"""The Redirects page (AppTest): every id next to the names the console knows for it."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from services.channels.projection import ensure_client, upsert_channel
from services.onboarding.redirects import receive_redirect
from tests.support.pages import console_app

PAGE = "../pages/redirects.py"


def open_redirects(sessions: list[AppTest]) -> AppTest:
    app = console_app()
    sessions.append(app)
    app.switch_page(PAGE).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_held_and_listed_redirects_name_their_client_and_numbers(sessions, db) -> None:
    # The old behaviour: the list of every redirect showed ids only.
    ensure_client(db, "aCL", name="Cafe Olé")
    upsert_channel(db, "aCH", {"client_id": "aCL", "phone_number": "+34 600 111 222"}, source="webhook")
    upsert_channel(db, "aCH", {"phone_name": "Cafe Olé Centro"}, source="partner_api")
    upsert_channel(db, "oldCH", {"client_id": "aCL", "phone_number": "+34 600 333 444"}, source="webhook")
    # Nothing vouches for it (no state, no Partner API here): it waits for an operator.
    receive_redirect(db, "client=aCL&channels=[aCH,newCH]&revoked=[oldCH]")
    app = open_redirects(sessions)
    assert app.subheader[0].value == "Waiting for review (1)"
    (text,) = [text.value for text in app.text if text.value.startswith("Client:")]
    assert text.splitlines() == [
        "Client: Cafe Olé (aCL)",
        "Grants: aCH (+34 600 111 222, Cafe Olé Centro), newCH",
        "Revokes: oldCH (+34 600 333 444)",
    ]
    history = app.dataframe[0].value
    assert list(history["client"]) == ["Cafe Olé (aCL)"]
    assert list(history["channels"]) == ["aCH (+34 600 111 222, Cafe Olé Centro), newCH"]
    assert list(history["revoked"]) == ["oldCH (+34 600 333 444)"]


def test_an_unreadable_redirect_is_listed_without_names(sessions, db) -> None:
    receive_redirect(db, "client=aCL&channels=[aCH;drop]")
    app = open_redirects(sessions)
    history = app.dataframe[0].value
    assert list(history["client"]) == [""]
    assert list(history["verdict"]) == ["refused (it cannot be read)"]
