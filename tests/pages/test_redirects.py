"""The Redirects page (AppTest): every id next to the names the console knows for it."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from services.channels.projection import ensure_client, upsert_channel
from services.onboarding.redirect_store import receive_redirect, record_drop
from services.settings import RedirectLimits
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
        "From: local",
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


def _button(app: AppTest, label: str):
    return next(button for button in app.button if button.label == label)


def test_the_held_count_is_true_and_every_held_row_can_be_reached(sessions, db) -> None:
    # The old behaviour: "Waiting for review (50)" while 52 were held, and the oldest never shown.
    for number in range(52):
        receive_redirect(db, f"client=big{number}&channels=[]", limits=RedirectLimits(per_source=100))
    app = open_redirects(sessions)
    assert app.subheader[0].value == "Waiting for review (52)"
    assert "Showing 1–20 of 52, newest first." in [caption.value for caption in app.caption]
    shown = {markdown.value.split("**")[1] for markdown in app.markdown if markdown.value.startswith("**Redirect #")}
    assert shown == {f"Redirect #{number}" for number in range(33, 53)}
    app.number_input[0].set_value(3).run()
    shown = {markdown.value.split("**")[1] for markdown in app.markdown if markdown.value.startswith("**Redirect #")}
    assert shown == {f"Redirect #{number}" for number in range(1, 13)}


def test_an_operator_discards_every_held_redirect_from_one_source_in_one_action(sessions, db) -> None:
    limits = RedirectLimits(per_source=100)
    for number in range(40):
        receive_redirect(db, f"client=big{number}&channels=[]", source="203.0.113.9", limits=limits)
    receive_redirect(db, "client=aCL&channels=[aCH]", source="198.51.100.4", limits=limits)
    record_drop(db, "203.0.113.9", "cap reached: 50 unreviewed redirects from this source")
    app = open_redirects(sessions)
    assert app.subheader[0].value == "Waiting for review (41)"
    assert list(app.selectbox[0].options) == ["every source (41)", "203.0.113.9 (40)", "198.51.100.4 (1)"]
    drops = app.dataframe[0].value
    assert (list(drops["source"]), list(drops["dropped"])) == (["203.0.113.9"], [1])
    app.selectbox[0].set_value("203.0.113.9 (40)").run()
    _button(app, "Discard the 40 unreviewed redirect(s) from 203.0.113.9").click().run()
    assert not app.exception
    assert app.subheader[0].value == "Waiting for review (1)"
    audit = [(row["operator"], row["action"], row["detail"]) for row in db["audit"].rows]
    assert audit == [("demo", "redirect_discard_bulk", "40 unreviewed redirect(s) from 203.0.113.9 discarded")]
    assert [row["verdict"] for row in db["redirects"].rows_where("source = ?", ["198.51.100.4"])] == ["held"]
