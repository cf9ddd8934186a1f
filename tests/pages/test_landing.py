"""The redirect landing page (AppTest): query params in, stored rows and rendered text out."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from streamlit.testing.v1 import AppTest

from services.channels.projection import ensure_client, upsert_channel
from services.onboarding.links import LinkRequest, hand_out_link
from services.read_models.redirects import dropped_redirects, held_count
from tests.support.console import use_live
from tests.support.counting_partner_api import CountingPartnerApi
from tests.support.pages import console_app
from tests.support.people import person
from tests.support.servers import free_port, serving

PAGE = "../pages/landing.py"


@pytest.fixture
def land(sessions: list[AppTest]) -> Callable[..., AppTest]:
    """Open the landing page with these query parameters, as a client's redirect does; in demo mode, go on to
    the operator's view (one button away from the client's page) unless `as_client`."""

    def land(*, as_client: bool = False, **params: str) -> AppTest:
        app = console_app()
        sessions.append(app)
        app.switch_page(PAGE)
        for key, value in params.items():
            app.query_params[key] = value
        app.run()
        assert not app.exception, [e.value for e in app.exception]
        operator_view = [button for button in app.button if button.label == "Operator view"]
        if operator_view and not as_client:
            operator_view[0].click().run()
            assert not app.exception, [e.value for e in app.exception]
        return app

    return land


def link_by(db, operator: str = "ben") -> str:
    """A link handed out here: its state vouches for the redirect that comes back with it."""
    request = LinkRequest(params={"redirect_url": "https://x.test/landing"})
    return hand_out_link(db, request, partner_id="demoPA", actor=person(operator)).state


def known(db, *channel_ids: str, **fields: str) -> None:
    """Channels the console already knows from webhooks: a redirect never creates one."""
    for channel_id in channel_ids:
        upsert_channel(db, channel_id, fields, source="webhook")


APPLIED = "Onboarding finished and the redirect was applied (its state matched a link handed out here)."


def rendered_markup(app: AppTest) -> str:
    """Everything rendered through Markdown: untrusted values must never appear here."""
    elements = [*app.markdown, *app.caption, *app.error, *app.warning, *app.success, *app.info, *app.title]
    return "\n".join(element.value for element in elements)


def test_a_redirect_is_stored_shown_and_the_query_cleared(land, db) -> None:
    known(db, "tlbN64CH", "aCH")
    state = link_by(db)
    app = land(client="oaY9LLfUCL", channels="[tlbN64CH, aCH]", state=state)
    rows = list(db["redirects"].rows)
    assert len(rows) == 1
    assert rows[0]["raw_query"] == f"client=oaY9LLfUCL&channels=[tlbN64CH,%20aCH]&state={state}"
    assert json.loads(rows[0]["channels"]) == ["tlbN64CH", "aCH"]
    assert [s.value for s in app.success] == [APPLIED]
    assert "oaY9LLfUCL" in [code.value for code in app.code]
    assert dict(app.query_params) == {}
    steps = app.dataframe[0].value
    assert list(steps["channel id"]) == ["tlbN64CH", "aCH"]
    assert set(steps["next"]) == {"waiting for running (now: not reported yet)"}
    assert "handed out by ben" in rendered_markup(app)


def test_a_redirect_nobody_vouches_for_is_held_and_changes_nothing(land, db) -> None:
    # The old behaviour: any crafted query moved and created channels. Here the Partner API (the sandbox hub,
    # not running in this test) cannot be asked, so nothing confirms the claim.
    known(db, "aCH", client_id="goodCL")
    app = land(client="evilCL", channels="[aCH, newCH]")
    assert db["channels"].get("aCH")["client_id"] == "goodCL"
    assert db["channels"].count == 1
    warning = " ".join(w.value for w in app.warning)
    assert "held for review: nothing was changed" in warning
    assert not app.success


def test_a_reload_makes_no_second_record(land, db) -> None:
    known(db, "aCH", "bCH")
    state = link_by(db)
    first = land(client="aCL", channels="[aCH, bCH]", state=state)
    second = land(client="aCL", channels="[aCH, bCH]", state=state)
    assert db["redirects"].count == 1
    assert [s.value for s in second.success] == [s.value for s in first.success] == [APPLIED]
    assert db["channels"].count == 2


def test_the_page_stays_on_its_result_after_the_query_is_cleared(land, db) -> None:
    app = land(client="aCL", channels="[]", state=link_by(db))
    app.run()
    assert "it names no channel, so it confirms nothing" in " ".join(w.value for w in app.warning)
    assert "The redirect names no channel." in [text.value for text in app.text]
    assert db["redirects"].count == 1


def test_the_redirect_is_matched_to_its_link_by_state(land, db) -> None:
    known(db, "aCH")
    state = link_by(db)
    app = land(client="aCL", channels="[aCH]", state=state, popup="1")
    assert "It came back through a link handed out by ben." in rendered_markup(app)
    assert db["io_links"].get(state)["used_at"] is not None


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"client": "aCL", "channels": "[aCH;bCH]"}, "channels holds an id with characters no id uses: 'aCH;bCH'"),
        ({"client": "aCL"}, "channels is missing"),
        ({"channels": "[aCH]"}, "client is missing"),
        ({"client": "**bold** [x](javascript:alert(1))", "channels": "[]"}, "client holds an id"),
    ],
)
def test_a_bad_redirect_is_kept_named_and_applies_nothing(land, db, params: dict, reason: str) -> None:
    app = land(**params)
    row = next(iter(db["redirects"].rows))
    assert reason in row["error"]
    assert row["client_id"] is None
    assert db["channels"].count == 0
    assert [e.value for e in app.error] == [
        "This redirect cannot be used. It is stored as it came; nothing was applied."
    ]
    codes = [code.value for code in app.code]
    assert any(reason in code for code in codes)
    assert row["raw_query"] in codes
    for value in params.values():
        assert value not in rendered_markup(app)


def test_revoked_channels_and_their_keys_are_reported(land, db) -> None:
    # No client has the channel yet, so the link handed out for this onboarding vouches for the revocation.
    upsert_channel(db, "cCH", {"status": "running"}, source="test")
    with db.atomic():
        db["api_keys"].insert(
            {
                "channel_id": "cCH",
                "operator": "ana",
                "created_at": datetime.now(UTC).isoformat(),
                "outcome": "ok",
                "status": "active",
            }
        )
    known(db, "aCH")
    app = land(client="aCL", channels="[aCH]", revoked="[cCH]", state=link_by(db))
    assert next(iter(db["api_keys"].rows))["status"] == "unusable"
    assert db["channels"].get("cCH")["revoked"] == 1
    warning = " ".join(w.value for w in app.warning)
    assert "withdrew permission for 1 channel(s)" in warning
    assert "1 stored key(s) of theirs are marked unusable" in warning
    steps = app.dataframe[0].value.set_index("channel id")
    assert steps.loc["cCH", "permission"] == "revoked"
    assert steps.loc["cCH", "next"] == "permission withdrawn; its stored key is marked unusable"


def test_next_steps_follow_the_channel_status(land, db) -> None:
    upsert_channel(db, "aCH", {"client_id": "aCL", "status": "running"}, source="test")
    upsert_channel(db, "bCH", {"client_id": "aCL", "status": "ready"}, source="test")
    app = land(client="aCL", channels="[aCH,bCH]", state=link_by(db))
    steps = app.dataframe[0].value.set_index("channel id")
    assert steps.loc["aCH", "next"] == "key can be generated"
    assert steps.loc["bCH", "next"] == "waiting for running (now: ready)"


def test_the_operator_sees_numbers_names_and_a_link_to_each_channel(land, db) -> None:
    # The old behaviour: ids only, and no way to the channel but the unfiltered Channels page.
    ensure_client(db, "aCL", name="Cafe Olé")
    known(db, "aCH", client_id="aCL", status="running", phone_number="+34 600 111 222")
    upsert_channel(db, "aCH", {"phone_name": "Cafe Olé Centro"}, source="partner_api")
    known(db, "bCH", client_id="aCL")
    app = land(client="aCL", channels="[aCH, bCH]", state=link_by(db))
    assert "Client: Cafe Olé" in [text.value for text in app.text]
    steps = app.dataframe[0].value
    assert list(steps["number"]) == ["+34 600 111 222", "not known yet"]
    assert list(steps["display name"]) == ["Cafe Olé Centro", ""]
    assert list(steps["status"]) == ["🟢 running", "not reported yet"]
    links = {link.proto.query_string: link.proto for link in app.get("page_link") if link.proto.query_string}
    assert set(links) == {"open=aCH", "open=bCH"}
    assert links["open=aCH"].page.endswith("channels")
    assert links["open=aCH"].label == "\\+34 600 111 222 \\(Cafe Olé Centro\\) · running"
    assert links["open=bCH"].label == "Cafe Olé \\(bCH\\) · not reported yet"


def test_nothing_landed_yet_shows_earlier_redirects(land, db) -> None:
    empty = land()
    assert empty.info[0].value.startswith("Nothing has landed here yet.")
    assert not empty.dataframe
    land(client="aCL", channels="[aCH]")
    later = land()
    assert list(later.dataframe[0].value["client"]) == ["aCL"]
    # Not "nothing has landed" above a redirect that did.
    assert later.info[0].value.startswith("This visit brought no redirect.")


def test_a_replayed_state_is_a_warning(land, db) -> None:
    known(db, "aCH")
    state = link_by(db)
    land(client="aCL", channels="[aCH]", state=state)
    replay = land(client="evilCL", channels="[zCH]", state=state)
    assert any("already used" in warning.value for warning in replay.warning)
    unknown = land(client="aCL", channels="[aCH]", state="made-up")
    assert any("matches no link" in warning.value for warning in unknown.warning)


# -- a client's browser, with no operator session (live mode) ----------------------------------------------


PASSWORD = "correct horse battery staple"


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch, data_dir) -> dict[str, str]:
    env = use_live(monkeypatch, data_dir, PASSWORD)
    monkeypatch.setenv("CONSOLE_PARTNER_NAME", "Acme Messaging")
    monkeypatch.setenv("CONSOLE_LANDING_CONTINUE_URL", "https://acme.example/thanks")
    return env


def test_a_visitor_who_has_not_signed_in_sees_only_the_neutral_page(live, land, db) -> None:
    # The old behaviour: the client saw the operators' sign-in and the redirect was never stored.
    known(db, "aCH", phone_number="+34 600 111 222")
    ensure_client(db, "aCL", name="Cafe Olé")
    state = link_by(db)
    app = land(client="aCL", channels="[aCH]", state=state)
    assert [title.value for title in app.title] == ["Onboarding complete"]
    shown = rendered_markup(app) + " ".join(button.proto.label for button in app.get("link_button"))
    assert "Acme Messaging" in shown
    assert app.get("link_button")[0].proto.url == "https://acme.example/thanks"
    for internal in ("aCL", "aCH", state, "Sign in", "Redirect", "Channels", "Cafe", "600 111 222"):
        assert internal not in shown
    assert not app.dataframe
    assert not app.text
    assert not app.get("page_link")
    assert not app.code
    assert not app.sidebar.children
    row = next(iter(db["redirects"].rows))
    assert (row["client_id"], row["verdict"]) == ("aCL", "applied_state")
    assert db["channels"].get("aCH")["permission"] == "granted"


CANCELS = [
    {"error": "access_denied"},
    {"error": "access_denied", "error_reason": "user_denied", "error_description": "Permissions error"},
    {"error": "access_denied", "error_code": "200", "state": "someState"},
    {"error_reason": "user_denied"},
    # A cancel wins over lists that came with it: any error means the onboarding did not complete.
    {"error": "access_denied", "client": "aCL", "channels": "[aCH]"},
]
UNREADABLE_QUERIES = [
    {"client": "aCL", "channels": "[aCH;drop]"},
    {"channels": "[aCH]"},
    {"client": "aCL", "channels": "[aCH", "state": "x"},
    {},
]
CLIENT_PAGES = [
    *[(query, "Onboarding cancelled", "cancelled before it finished") for query in CANCELS],
    ({"client": "aCL", "channels": "[]"}, "No number was shared", "without sharing"),
    ({"client": "aCL", "channels": "[]", "revoked": "[aCH]"}, "No number was shared", "without sharing"),
    *[(query, "We could not read this link", "did not receive what it expected") for query in UNREADABLE_QUERIES],
    ({"client": "aCL", "channels": "[aCH]"}, "Onboarding complete", "is on its way to Acme Messaging"),
]


def assert_no_operator_view(app: AppTest) -> None:
    shown = rendered_markup(app)
    for internal in ("Onboarding result", "Redirect", "aCL", "aCH", "held", "applied", "Sign in"):
        assert internal not in shown
    assert not [button for button in app.button if button.label == "Operator view"]
    assert not app.dataframe
    assert not app.code
    assert not app.error
    assert not app.warning
    assert not app.sidebar.children


@pytest.mark.parametrize(("query", "title", "words"), CLIENT_PAGES)
def test_a_visitor_is_told_what_the_redirect_said_and_nothing_more(live, land, db, query, title, words) -> None:
    # The old behaviour: "Onboarding complete ... on its way" whatever came back (a cancel, an empty grant, a
    # forged URL).
    app = land(**query)
    assert [element.value for element in app.title] == [title]
    assert words in rendered_markup(app)
    assert "Acme Messaging" in rendered_markup(app)
    assert_no_operator_view(app)
    assert db["redirects"].count == (1 if query else 0)


def test_a_cancel_is_stored_with_why_it_applies_nothing(live, land, db) -> None:
    known(db, "aCH")
    land(error="access_denied", error_reason="user_denied", client="aCL", channels="[aCH]")
    row = next(iter(db["redirects"].rows))
    assert row["raw_query"] == "error=access_denied&error_reason=user_denied&client=aCL&channels=[aCH]"
    assert row["verdict"] == "refused"
    assert row["error"] == "the client did not finish onboarding: 360dialog sent error='access_denied'"
    assert db["channels"].get("aCH")["permission"] != "granted"


def test_the_client_page_speaks_the_partners_words(live, monkeypatch, land) -> None:
    monkeypatch.setenv("CONSOLE_LANDING_TEXT_CANCELLED", "No problem: {partner} will call you {tomorrow}.")
    app = land(error="access_denied")
    assert [element.value for element in app.title] == ["Onboarding cancelled"]
    (words,) = [md.value for md in app.markdown if "No problem" in md.value]
    assert "Acme Messaging will call you \\{tomorrow\\}" in words
    assert "{partner}" not in words


def test_in_demo_mode_the_browser_sees_the_clients_page_and_the_operator_view_one_button_away(land, db) -> None:
    # The old behaviour: in demo mode the client's browser got the operator's view straight away.
    known(db, "aCH")
    app = land(as_client=True, error="access_denied")
    assert [element.value for element in app.title] == ["Onboarding cancelled"]
    assert not app.code
    assert not app.dataframe
    next(button for button in app.button if button.label == "Operator view").click().run()
    assert [element.value for element in app.title] == ["Onboarding result"]
    assert "The client's page said: Onboarding cancelled." in rendered_markup(app)
    assert "error=access_denied" in [code.value for code in app.code]
    next(button for button in app.button if button.label == "What the client sees").click().run()
    assert [element.value for element in app.title] == ["Onboarding cancelled"]


def test_a_visitor_reaches_no_other_page(live, sessions) -> None:
    for page in ("../pages/channels.py", "../pages/redirects.py", "../pages/events.py"):
        app = console_app()
        sessions.append(app)
        app.switch_page(page).run()
        assert [title.value for title in app.title] == ["Sign in"], page
        assert not app.dataframe


def test_a_signed_in_operator_sees_the_full_result(live, sessions, db) -> None:
    known(db, "aCH")
    state = link_by(db)
    app = console_app()
    sessions.append(app)
    app.run()
    app.text_input[0].input("ana")
    app.text_input[1].input(PASSWORD)
    app.button[0].click().run()
    app.switch_page(PAGE)
    for key, value in {"client": "aCL", "channels": "[aCH]", "state": state}.items():
        app.query_params[key] = value
    app.run()
    assert not app.exception
    assert "Onboarding result" in [title.value for title in app.title]
    assert [s.value for s in app.success] == [APPLIED]


# -- what a stranger's redirects may do -----------------------------------------------------------------------


@pytest.fixture
def partner_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingPartnerApi]:
    """A Partner API on loopback that lists cliX's channels (and shares them all), counting every call."""
    fake = CountingPartnerApi({"chA": "cliX", "chB": "cliX"})
    port = free_port()
    with serving(fake.app(), port) as url:
        monkeypatch.setenv("D360_API_BASE_URL", f"{url}/api/v2")
        yield fake


def snapshot(db) -> dict[str, list[dict]]:
    """What a redirect may change: channels, keys, clients, and the audit log that alerts and people read."""
    return {table: [dict(row) for row in db[table].rows] for table in ("channels", "api_keys", "clients", "audit")}


@pytest.mark.processes
def test_a_strangers_revocation_grant_and_empty_lists_change_nothing_and_ask_nothing(
    land, db, partner_api: CountingPartnerApi
) -> None:
    # The old behaviour: the landing asked the Partner API, which lists both channels under cliX; the revocation
    # was applied (key unusable, "Permission revoked" alert), the grant set chB granted, each empty list made a
    # client.
    upsert_channel(db, "chA", {"client_id": "cliX", "status": "running"}, source="webhook")
    upsert_channel(db, "chB", {"client_id": "cliX", "status": "running", "permission": "not_shared"}, source="test")
    with db.atomic():
        db["api_keys"].insert(
            {"channel_id": "chA", "operator": "ana", "created_at": "2026-01-01", "outcome": "ok", "status": "active"}
        )
    before = snapshot(db)
    land(client="cliX", channels="[]", revoked="[chA]")
    land(client="cliX", channels="[chB]", state="someoneElsesState")
    for number in range(10):
        land(client=f"big{number}", channels="[]")
    assert snapshot(db) == before
    assert partner_api.calls == []
    assert held_count(db) == 12


@pytest.mark.processes
def test_one_session_rerunning_the_landing_stores_only_its_share(land, db, partner_api: CountingPartnerApi) -> None:
    # The old behaviour: every rerun over the websocket stored a redirect and asked the Partner API.
    app = land(client="big0", channels="[]")
    for number in range(1, 9):
        for key, value in {"client": f"big{number}", "channels": "[]"}.items():
            app.query_params[key] = value
        app.run()
        assert [title.value for title in app.title] in (["Onboarding result"], ["Onboarding complete"])
    assert db["redirects"].count == 5
    assert [row["dropped"] for row in dropped_redirects(db)] == [4]
    assert partner_api.calls == []
    assert any("was not stored: a limit on unreviewed redirects" in warning.value for warning in app.warning)
