"""The redirect landing page (AppTest): query params in, stored rows and rendered text out."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from streamlit.testing.v1 import AppTest

from services.channels.projection import upsert_channel
from services.onboarding.links import LinkRequest, hand_out_link
from tests.support.pages import console_app

PAGE = "../pages/landing.py"


@pytest.fixture
def land(sessions: list[AppTest]) -> Callable[..., AppTest]:
    """Open the landing page with these query parameters, as a client's redirect does."""

    def land(**params: str) -> AppTest:
        app = console_app()
        sessions.append(app)
        app.switch_page(PAGE)
        for key, value in params.items():
            app.query_params[key] = value
        app.run()
        assert not app.exception, [e.value for e in app.exception]
        return app

    return land


def rendered_markup(app: AppTest) -> str:
    """Everything rendered through Markdown: untrusted values must never appear here."""
    elements = [*app.markdown, *app.caption, *app.error, *app.warning, *app.success, *app.info, *app.title]
    return "\n".join(element.value for element in elements)


def test_a_redirect_is_stored_shown_and_the_query_cleared(land, db) -> None:
    app = land(client="oaY9LLfUCL", channels="[tlbN64CH, aCH]")
    rows = list(db["redirects"].rows)
    assert len(rows) == 1
    assert rows[0]["raw_query"] == "client=oaY9LLfUCL&channels=[tlbN64CH,%20aCH]"
    assert json.loads(rows[0]["channels"]) == ["tlbN64CH", "aCH"]
    assert [s.value for s in app.success] == ["Onboarding finished. The client's numbers are below."]
    assert "oaY9LLfUCL" in [code.value for code in app.code]
    assert dict(app.query_params) == {}
    steps = app.dataframe[0].value
    assert list(steps["channel"]) == ["tlbN64CH", "aCH"]
    assert set(steps["next"]) == {"waiting for running (now: not reported yet)"}
    assert "no state" in rendered_markup(app)


def test_a_reload_makes_no_second_record(land, db) -> None:
    first = land(client="aCL", channels="[aCH, bCH]")
    second = land(client="aCL", channels="[aCH, bCH]")
    assert db["redirects"].count == 1
    assert [s.value for s in second.success] == [s.value for s in first.success]
    assert db["channels"].count == 2


def test_the_page_stays_on_its_result_after_the_query_is_cleared(land, db) -> None:
    app = land(client="aCL", channels="[]")
    app.run()
    assert [s.value for s in app.success] == ["Onboarding finished. The client's numbers are below."]
    assert "The redirect names no channel." in [text.value for text in app.text]
    assert db["redirects"].count == 1


def test_the_redirect_is_matched_to_its_link_by_state(land, db) -> None:
    link = hand_out_link(
        db, LinkRequest(params={"redirect_url": "https://x.test/landing"}), partner_id="demoPA", operator="ben"
    )
    app = land(client="aCL", channels="[aCH]", state=link.state, popup="1")
    assert "It came back through a link handed out by ben." in rendered_markup(app)
    assert db["io_links"].get(link.state)["used_at"] is not None


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
    upsert_channel(db, "cCH", {"client_id": "aCL", "status": "running"}, source="test")
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
    app = land(client="aCL", channels="[aCH]", revoked="[cCH]")
    assert next(iter(db["api_keys"].rows))["status"] == "unusable"
    assert db["channels"].get("cCH")["revoked"] == 1
    warning = " ".join(w.value for w in app.warning)
    assert "withdrew permission for 1 channel(s)" in warning
    assert "1 stored key(s) of theirs are marked unusable" in warning
    steps = app.dataframe[0].value.set_index("channel")
    assert steps.loc["cCH", "permission"] == "revoked"
    assert steps.loc["cCH", "next"] == "permission withdrawn; its stored key is marked unusable"


def test_next_steps_follow_the_channel_status(land, db) -> None:
    upsert_channel(db, "aCH", {"client_id": "aCL", "status": "running"}, source="test")
    upsert_channel(db, "bCH", {"client_id": "aCL", "status": "ready"}, source="test")
    app = land(client="aCL", channels="[aCH,bCH]")
    steps = app.dataframe[0].value.set_index("channel")
    assert steps.loc["aCH", "next"] == "key can be generated"
    assert steps.loc["bCH", "next"] == "waiting for running (now: ready)"


def test_nothing_landed_yet_shows_earlier_redirects(land, db) -> None:
    empty = land()
    assert empty.info[0].value.startswith("Nothing has landed here yet.")
    assert not empty.dataframe
    land(client="aCL", channels="[aCH]")
    later = land()
    assert list(later.dataframe[0].value["client"]) == ["aCL"]


def test_a_replayed_state_is_a_warning(land, db) -> None:
    link = hand_out_link(
        db, LinkRequest(params={"redirect_url": "https://x.test/landing"}), partner_id="demoPA", operator="ben"
    )
    land(client="aCL", channels="[aCH]", state=link.state)
    replay = land(client="evilCL", channels="[zCH]", state=link.state)
    assert any("already used" in warning.value for warning in replay.warning)
    unknown = land(client="aCL", channels="[aCH]", state="made-up")
    assert any("matches no link" in warning.value for warning in unknown.warning)
