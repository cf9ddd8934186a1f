"""The Connect page (AppTest): links on demand, one per client, every parameter, the result in place of the
hand-out without a reload. Its widgets are tested in tests/dashboard."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import streamlit as st
from starlette.applications import Starlette
from starlette.testclient import TestClient
from streamlit.testing.v1 import AppTest

from dashboard.link_route import link_routes
from services.channels.projection import ensure_client, upsert_channel
from services.onboarding.redirect_store import receive_redirect
from services.sandbox.signing import io_signature_valid
from services.settings import load_settings
from tests.support.console import add_team, console_db, live_env
from tests.support.pages import console_app, new_link

PAGE = "../pages/connect.py"
OPERATOR_PASSWORD = "a long operator password"


@pytest.fixture(autouse=True)
def operator(demo_mode: Path) -> str:
    """The operator, as demo mode has it: the demo admin."""
    return "demo"


def open_connect(sessions: list[AppTest]) -> AppTest:
    app = console_app()
    app.switch_page(PAGE)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    sessions.append(app)
    return app


def shown_url(app: AppTest) -> str:
    return next(code.value for code in app.code if code.value.startswith("http"))


def click(url: str) -> tuple[int, str]:
    """A client's click on a handed-out console link, through the console's own route: status and Location."""
    path = urlsplit(url).path
    with TestClient(Starlette(routes=link_routes()), follow_redirects=False) as client:
        answer = client.get(path)
    return answer.status_code, answer.headers.get("location", "")


def link_rows(db) -> list[dict]:
    return list(db["io_links"].rows_where(order_by="created_at"))


def link_rows_of(data_dir: Path) -> list[dict]:
    with console_db(data_dir / "console.db") as db:
        return link_rows(db)


def new_link_button(app: AppTest):
    (button,) = [button for button in app.button if button.label == "New link"]
    return button


def page_links(app: AppTest) -> list[tuple[str, str, str]]:
    """(label, page, query) of each page link shown."""
    return [(link.proto.label, link.proto.page, link.proto.query_string) for link in app.get("page_link")]


def test_loading_the_page_makes_no_link(sessions, db) -> None:
    # The old behaviour: every page load handed out a link, so most links in the history were never used.
    app = open_connect(sessions)
    assert link_rows(db) == []
    assert "No link yet." in app.info[0].value
    assert new_link_button(app).proto.type == "primary"
    assert not app.get("link_button")
    assert not [code for code in app.code if code.value.startswith("http")]
    app.run()
    assert link_rows(db) == []
    open_connect(sessions)
    assert link_rows(db) == []


def test_new_link_hands_out_one_link_bound_to_the_operator(sessions, db) -> None:
    app = new_link(open_connect(sessions))
    rows = link_rows(db)
    assert len(rows) == 1
    url = shown_url(app)
    assert rows[0]["url"] == url
    assert rows[0]["operator"] == "demo"
    assert url == f"http://localhost:8501/connect/{rows[0]['token']}"
    status, hub = click(url)
    assert status == 303
    assert hub.startswith("http://127.0.0.1:8503/dashboard/app/demoPA/permissions?redirect_url=")
    assert parse_qs(urlsplit(hub).query)["state"] == [rows[0]["state"]]
    assert [button.url for button in app.get("link_button")] == [url]
    assert new_link_button(app).proto.type == "secondary"
    app.run()
    assert len(link_rows(db)) == 1, "a rerun of the same session must not hand out another link"


def test_links_are_never_shared_between_sessions(sessions, db) -> None:
    first, second = new_link(open_connect(sessions)), new_link(open_connect(sessions))
    assert shown_url(first) != shown_url(second)
    states = {row["state"] for row in link_rows(db)}
    assert len(states) == 2


def test_demo_mode_hands_out_a_console_link_signed_afresh_at_each_click(sessions, db) -> None:
    # The old behaviour: the hub link was signed when handed out, so it died with its first use or after 24 hours.
    app = new_link(open_connect(sessions))
    url = shown_url(app)
    assert "io_signature" not in url
    settings = load_settings()
    for _ in range(2):
        status, hub = click(url)
        assert status == 303
        query = parse_qs(urlsplit(hub).query)
        timestamp, signature = int(query["io_timestamp"][0]), query["io_signature"][0]
        assert io_signature_valid("demoPA", timestamp, signature, settings.platform_secret, "hex")
    app.run()
    captions = " ".join(caption.value for caption in app.caption)
    assert "works for 13 days 23 h more" in captions
    assert "signed afresh at each click" in captions
    assert "clicked 2 time(s)" in captions
    assert "status: **open**" in captions
    history = app.dataframe[-1].value
    assert list(history["clicks"]) == [2]
    assert history["last click"][0] != ""
    snippet = next(code.value for code in app.code if "<a href=" in code.value)
    assert f'<a href="{url}"' in snippet


def test_new_link_is_one_click(sessions, db) -> None:
    app = new_link(open_connect(sessions))
    before = shown_url(app)
    after = shown_url(new_link(app))
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
    status, url = click(shown_url(app))
    assert status == 303
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
    assert query["io_signature"]


def test_a_bad_field_is_named_and_hands_out_nothing(sessions, db) -> None:
    app = open_connect(sessions)
    fill_and_submit(app, f_redirect_url="javascript:alert(1)")
    assert any("redirect\\_url must be an absolute http\\(s\\) URL" in error.value for error in app.error)
    assert link_rows(db) == []


def come_back(db, state: str) -> None:
    """The client onboards two numbers through the link; the console knows them from webhooks."""
    ensure_client(db, "aCL", name="Cafe Olé")
    upsert_channel(
        db, "aCH", {"client_id": "aCL", "status": "running", "phone_number": "+34 600 111 222"}, source="webhook"
    )
    upsert_channel(db, "aCH", {"phone_name": "Cafe Olé Centro"}, source="partner_api")
    upsert_channel(db, "bCH", {"client_id": "aCL"}, source="webhook")
    receive_redirect(db, f"client=aCL&channels=[aCH,bCH]&state={state}")


def test_the_result_replaces_the_hand_out_without_a_reload(sessions, db) -> None:
    app = new_link(open_connect(sessions))
    state = link_rows(db)[0]["state"]
    assert not app.success
    assert app.get("link_button")
    assert app.get("iframe")
    assert app.get("image")
    come_back(db, state)
    app.run()
    assert [s.value for s in app.success] == [
        "The client came back through this link; the redirect was applied (its state matched a link handed out here)."
    ]
    # The hand-out is gone: no popup, no link to open, no URL, no QR code, no snippet.
    assert not app.get("link_button")
    assert not app.get("iframe")
    assert not app.get("image")
    assert not [code for code in app.code if code.value.startswith("http") or "<ConnectButton" in code.value]
    assert "Hand it out" not in [header.value for header in app.subheader]
    # The client by its business name, its numbers by number, display name and status, each opening its channel.
    assert "Client: Cafe Olé (aCL)" in [text.value for text in app.text]
    steps = app.dataframe[0].value
    assert list(steps["channel id"]) == ["aCH", "bCH"]
    assert list(steps["number"]) == ["+34 600 111 222", "not known yet"]
    assert list(steps["display name"]) == ["Cafe Olé Centro", ""]
    assert list(steps["status"]) == ["🟢 running", "not reported yet"]
    links = [(page.rsplit("/", 1)[-1], query) for _, page, query in page_links(app)]
    assert ("channels", "open=aCH") in links
    assert ("channels", "open=bCH") in links
    assert ("clients", "open=aCL") in links
    labels = " ".join(label for label, _, _ in page_links(app))
    assert "\\+34 600 111 222 \\(Cafe Olé Centro\\) · running" in labels
    assert "Cafe Olé \\(bCH\\) · not reported yet" in labels
    # "New link" is the main action now; pressing it hands out the next client's link.
    assert new_link_button(app).proto.type == "primary"
    history = app.dataframe[-1].value
    assert list(history["status"]) == ["redirected"]
    assert list(history["client"]) == ["aCL"]
    new_link(app)
    assert len(link_rows(db)) == 2
    assert app.get("link_button")
    assert not app.success


def test_an_expired_link_gives_way_to_a_new_one(sessions, db) -> None:
    app = new_link(open_connect(sessions))
    with db.atomic():
        db["io_links"].update(link_rows(db)[0]["state"], {"expires_at": "2020-01-15T00:00:00+00:00"})
    app.run()
    assert any("This link has expired" in warning.value for warning in app.warning)
    assert not app.get("link_button")
    assert new_link_button(app).proto.type == "primary"


def test_history_lists_who_when_status_and_names_where_known(sessions, db) -> None:
    first = new_link(open_connect(sessions))
    come_back(db, link_rows(db)[0]["state"])
    fill_and_submit(open_connect(sessions), f_name="Bar Tapas", f_number="+34 600 999 000")
    history = first.run().dataframe[-1].value
    assert list(history["status"]) == ["open", "redirected"]
    assert list(history["operator"]) == ["demo", "demo"]
    assert list(history["business"]) == ["Bar Tapas", "Cafe Olé"]
    assert list(history["numbers"]) == ["+34 600 999 000", "+34 600 111 222 (Cafe Olé Centro), channel bCH"]
    assert all("redirect_url=http://localhost:8501/landing" in text for text in history["parameters"])


def open_live_connect(sessions, data_dir, monkeypatch, **settings: str) -> AppTest:
    """The Connect page in live mode, signed in as an operator, with these settings."""
    env = live_env(data_dir, OPERATOR_PASSWORD)
    add_team(data_dir, OPERATOR_PASSWORD)
    for key, value in {**env, "D360_PARTNER_ID": "liveP1PA", "D360_IO_SIGNATURE": "false", **settings}.items():
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
    return app


def test_live_mode_offers_no_sandbox_and_signs_only_when_asked(sessions, data_dir, monkeypatch) -> None:
    app = new_link(open_live_connect(sessions, data_dir, monkeypatch))
    # No choice of hub in live mode: the settings name it, and the page says which.
    assert not [box for box in app.selectbox if box.key == "f_env"]
    assert any(
        "Links go to `https://hub.360dialog.com/dashboard/app/liveP1PA/permissions` (production hub)" in caption.value
        for caption in app.caption
    )
    url = shown_url(app)
    assert url.startswith("https://hub.360dialog.com/dashboard/app/liveP1PA/permissions?redirect_url=")
    assert "io_signature" not in url
    assert not any("IO Signature" in caption.value for caption in app.caption)


def test_live_links_go_to_the_hub_the_settings_name(sessions, data_dir, monkeypatch) -> None:
    # The old behaviour: D360_HUB_URL was read and ignored; links went to production (or a hub picked on the page).
    app = open_live_connect(sessions, data_dir, monkeypatch, D360_HUB_URL="https://test-hub.example.net/dashboard/app")
    assert any(
        "Links go to `https://test-hub.example.net/dashboard/app/liveP1PA/permissions`" in c.value for c in app.caption
    )
    new_link(app)
    assert shown_url(app).startswith("https://test-hub.example.net/dashboard/app/liveP1PA/permissions?")
    assert link_rows_of(data_dir)[-1]["hub_url"] == "https://test-hub.example.net/dashboard/app"


def test_live_links_go_to_a_named_hub(sessions, data_dir, monkeypatch) -> None:
    app = new_link(open_live_connect(sessions, data_dir, monkeypatch, D360_HUB_ENV="staging"))
    assert shown_url(app).startswith("https://admin.hub-staging.360dialog.io/dashboard/app/liveP1PA/permissions?")


def test_a_signed_live_link_is_signed_for_the_hub_the_settings_name(sessions, data_dir, monkeypatch) -> None:
    app = open_live_connect(
        sessions,
        data_dir,
        monkeypatch,
        D360_HUB_URL="https://test-hub.example.net/dashboard/app",
        D360_IO_SIGNATURE="true",
        D360_PLATFORM_SECRET="a-platform-secret-long-enough-for-the-checks-0123456789",
    )
    new_link(app)
    status, target = click(shown_url(app))
    assert status == 303
    assert target.startswith("https://test-hub.example.net/dashboard/app/liveP1PA/permissions?")
    assert "io_signature=" in target


def test_a_link_from_the_history_can_be_reopened_copied_and_closed(sessions, db) -> None:
    # The old behaviour: once the page was left, a link handed out could not be shown again nor closed.
    first = fill_and_submit(open_connect(sessions), f_name="Bar Tapas", f_number="+34 600 999 000")
    url = shown_url(first)
    (row,) = link_rows(db)
    later = open_connect(sessions)  # another visit to the page: no link on it
    assert not [code for code in later.code if code.value.startswith("http")]
    later.selectbox(key="reopen_state").set_value(row["state"])
    next(button for button in later.button if button.label == "Reopen").click().run()
    assert not later.exception, [e.value for e in later.exception]
    assert shown_url(later) == url  # st.code: shown again with its copy button
    next(button for button in later.button if button.label == "Close this link").click().run()
    assert any("This link is closed" in warning.value for warning in later.warning)
    assert not later.get("link_button")
    closed = link_rows(db)[0]
    assert (closed["closed_by"], bool(closed["closed_at"])) == ("demo", True)
    assert list(later.dataframe[-1].value["status"]) == ["closed"]
    status, location = click(url)
    assert (status, location) == (410, "")
    (audited,) = db["audit"].rows_where("action = 'close_link'")
    assert audited["outcome"] == "ok"
    # A redirect that comes back with a closed link's state vouches for nothing.
    stored = receive_redirect(db, f"client=aCL&channels=[aCH]&state={row['state']}")
    assert stored.state_match == "closed link"
    assert stored.verdict != "applied_state"


def test_an_unused_link_expires_after_its_lifetime_and_says_when(sessions, db) -> None:
    app = new_link(open_connect(sessions))
    (row,) = link_rows(db)
    history = app.dataframe[-1].value
    expires = datetime.fromisoformat(row["expires_at"]).strftime("%Y-%m-%d %H:%M UTC")
    assert list(history["expires"]) == [expires]
    assert list(history["status"]) == ["open"]
    with db.atomic():
        db["io_links"].update(row["state"], {"expires_at": "2020-01-15T00:00:00+00:00"})
    assert list(app.run().dataframe[-1].value["status"]) == ["expired"]
    status, _ = click(row["url"])
    assert status == 410


def test_the_form_starts_empty_for_each_new_client(sessions, db) -> None:
    # The old behaviour: the last client's name and e-mail stayed in "Link parameters", and "New link" carried
    # them (and the number) into the next client's link.
    app = fill_and_submit(
        open_connect(sessions),
        f_name="Bar Tapas",
        f_email="bar@tapas.test",
        f_number="+34 600 999 000",
        f_partner="crm-7",
        f_lang="de",
    )
    for key in ("f_name", "f_email", "f_number", "f_partner"):
        assert app.text_input(key=key).value == "", key
    assert app.text_input(key="f_redirect_url").value == "http://localhost:8501/landing"
    assert app.selectbox(key="f_lang").value == "de"
    new_link(app)
    first, second = link_rows(db)
    assert json.loads(first["params"])["name"] == "Bar Tapas"
    assert json.loads(second["params"]) == {"redirect_url": "http://localhost:8501/landing", "lang": "de"}
