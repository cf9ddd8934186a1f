"""The Connect page (AppTest): links per session, every parameter, result without reload. Its widgets are
tested in tests/dashboard."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from services.channels.projection import upsert_channel
from services.onboarding.redirects import receive_redirect
from tests.support.console import live_env
from tests.support.pages import console_app

PAGE = "../pages/connect.py"
OPERATOR_PASSWORD = "a long operator password"


@pytest.fixture(autouse=True)
def operator(demo_mode: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The operator, named in the settings as demo mode does."""
    monkeypatch.setenv("CONSOLE_OPERATOR", "ana")
    return "ana"


def open_connect(sessions: list[AppTest]) -> AppTest:
    app = console_app()
    app.switch_page(PAGE)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    sessions.append(app)
    return app


def shown_url(app: AppTest) -> str:
    return next(code.value for code in app.code if code.value.startswith("http"))


def link_rows(db) -> list[dict]:
    return list(db["io_links"].rows_where(order_by="created_at"))


def test_a_visit_hands_out_one_link_bound_to_the_operator(sessions, db) -> None:
    app = open_connect(sessions)
    rows = link_rows(db)
    assert len(rows) == 1
    url = shown_url(app)
    assert rows[0]["url"] == url
    assert rows[0]["operator"] == "ana"
    assert url.startswith("http://127.0.0.1:8503/dashboard/app/demoPA/permissions?redirect_url=")
    assert parse_qs(urlsplit(url).query)["state"] == [rows[0]["state"]]
    assert [button.url for button in app.get("link_button")] == [url]
    app.run()
    assert len(link_rows(db)) == 1, "a rerun of the same session must not hand out another link"


def test_links_are_never_shared_between_sessions(sessions, db) -> None:
    first, second = open_connect(sessions), open_connect(sessions)
    assert shown_url(first) != shown_url(second)
    states = {row["state"] for row in link_rows(db)}
    assert len(states) == 2


def test_demo_mode_signs_every_link_and_shows_the_time_left(sessions, db) -> None:
    app = open_connect(sessions)
    query = parse_qs(urlsplit(shown_url(app)).query)
    assert len(query["io_signature"][0]) == 128
    assert int(query["io_timestamp"][0]) == link_rows(db)[0]["io_timestamp"]
    captions = " ".join(caption.value for caption in app.caption)
    assert "IO Signature valid for 2" in captions
    assert "status: **open**" in captions


def test_new_link_is_one_click(sessions, db) -> None:
    app = open_connect(sessions)
    before = shown_url(app)
    next(button for button in app.button if button.label == "New link").click().run()
    after = shown_url(app)
    assert after != before
    assert [row["url"] for row in link_rows(db)] == [before, after]


WIDGET_KINDS = {"f_env": "selectbox", "f_plan": "selectbox", "f_lang": "selectbox", "f_version": "radio"}
WIDGET_KINDS |= {"f_next_login": "checkbox"}


def fill_and_submit(app: AppTest, **values: object) -> AppTest:
    for key, value in values.items():
        getattr(app, WIDGET_KINDS.get(key, "text_input"))(key=key).set_value(value)
    submit = next(button for button in app.button if button.label.startswith("Create a new link"))
    submit.click().run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_every_form_field_reaches_the_link_encoded_with_number_first(sessions, db) -> None:
    app = open_connect(sessions)
    fill_and_submit(
        app,
        f_env="staging",
        f_version="v2",
        f_number="+49 151 0000001",
        f_email="ops@example.test",
        f_name="Acme & Söhne",
        f_partner="crm-42",
        f_plan="premium",
        f_lang="de",
        f_next_login=True,
        f_hosting_type="cloud",
        f_flow="f1",
        f_connect_client_user="true",
        f_client_id="oaY9LLfUCL",
        f_preverified="123",
    )
    url = shown_url(app)
    assert url.startswith("https://staging-app.360dialog.com/onboarding/demoPA?number=%2B49%20151%200000001&")
    assert "name=Acme%20%26%20S%C3%B6hne" in url
    query = parse_qs(urlsplit(url).query)
    assert query["plan_selection"] == ["premium"]
    assert query["next"] == ["login"]
    assert query["preverified_phone_number_id"] == ["123"]
    assert query["redirect_url"] == ["http://localhost:8501/landing"]
    newest = link_rows(db)[-1]
    assert (newest["env"], newest["version"]) == ("staging", "v2")
    assert json.loads(newest["params"])["name"] == "Acme & Söhne"
    snippet = next(code.value for code in app.code if "<ConnectButton" in code.value)
    assert 'env={"staging"}' in snippet
    assert 'requestedNumber={"+49 151 0000001"}' in snippet
    assert 'name: "Acme & S\\u00f6hne",' in snippet


def test_a_bad_field_is_named_and_hands_out_nothing(sessions, db) -> None:
    app = open_connect(sessions)
    fill_and_submit(app, f_redirect_url="javascript:alert(1)")
    assert any("redirect\\_url must be an absolute http\\(s\\) URL" in error.value for error in app.error)
    assert len(link_rows(db)) == 1


def test_the_result_shows_up_without_a_reload(sessions, db) -> None:
    app = open_connect(sessions)
    state = link_rows(db)[0]["state"]
    assert not app.success
    for channel_id in ("aCH", "bCH"):
        upsert_channel(db, channel_id, {"client_id": "aCL"}, source="webhook")
    receive_redirect(db, f"client=aCL&channels=[aCH,bCH]&state={state}")
    app.run()
    assert [s.value for s in app.success] == [
        "The client came back through this link; the redirect was applied (its state matched a link handed out here)."
    ]
    assert "Client: aCL" in [text.value for text in app.text]
    steps = app.dataframe[0].value
    assert list(steps["channel"]) == ["aCH", "bCH"]
    history = app.dataframe[-1].value
    assert list(history["status"]) == ["redirected"]
    assert list(history["client"]) == ["aCL"]


def test_history_lists_who_when_and_status(sessions, db) -> None:
    open_connect(sessions)
    open_connect(sessions)
    app = sessions[-1]
    history = app.dataframe[-1].value
    assert list(history["status"]) == ["open", "open"]
    assert list(history["operator"]) == ["ana", "ana"]
    assert all("redirect_url=http://localhost:8501/landing" in text for text in history["parameters"])


def test_live_mode_offers_no_sandbox_and_signs_only_when_asked(sessions, data_dir, monkeypatch) -> None:
    env = live_env(data_dir, OPERATOR_PASSWORD)
    for key, value in {**env, "D360_PARTNER_ID": "liveP1PA", "D360_IO_SIGNATURE": "false"}.items():
        monkeypatch.setenv(key, value)
    st.cache_resource.clear()
    app = console_app().run()
    sessions.append(app)
    # Outside demo mode the console asks who is there before any page runs.
    app.text_input[0].input("ana")
    app.text_input[1].input(OPERATOR_PASSWORD)
    app.button[0].click().run()
    app.switch_page(PAGE).run()
    assert not app.exception, [e.value for e in app.exception]
    assert "sandbox" not in app.selectbox(key="f_env").options
    assert app.selectbox(key="f_env").value == "prod"
    url = shown_url(app)
    assert url.startswith("https://hub.360dialog.com/dashboard/app/liveP1PA/permissions?redirect_url=")
    assert "io_signature" not in url
    assert not any("IO Signature" in caption.value for caption in app.caption)
