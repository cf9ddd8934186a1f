"""A redirect is a claim: applied only when its state or the Partner API vouches for it (contract section 2)."""

from __future__ import annotations

import json

import pytest
import requests
import responses

from services.channels.projection import get_channel, upsert_channel
from services.onboarding.links import LinkRequest, get_link, hand_out_link
from services.onboarding.redirect import MAX_QUERY_LENGTH
from services.onboarding.redirect_trust import (
    APPLIED_BY_OPERATOR,
    APPLIED_BY_STATE,
    APPLIED_CONFIRMED,
    DISCARDED,
    HELD,
    REFUSED,
    apply_after_review,
    discard,
)
from services.onboarding.redirects import held_count, receive_redirect, recent_redirects, redirect_view


def _channels_url(api) -> str:
    return f"{api.base_url}/partners/{api.partner_id}/channels"


def _lists(api, client_id: str, *channel_ids: str, status: int = 200) -> None:
    """The Partner API lists these channels for `client_id` (any filter asked)."""
    channels = [
        {"id": channel_id, "client_id": client_id, "status": "running", "setup_info": {"phone_number": "+491511234"}}
        for channel_id in channel_ids
    ]
    body = {"count": len(channels), "total": len(channels), "partner_channels": channels}
    responses.get(_channels_url(api), json=body, status=status)


def _link(db) -> str:
    return hand_out_link(db, LinkRequest(), partner_id="pa", operator="ana").state


def _key(db, channel_id: str) -> None:
    db["api_keys"].insert(
        {"channel_id": channel_id, "operator": "ana", "status": "active", "outcome": "ok", "created_at": "2026"}
    )


def test_a_matched_state_applies_to_known_channels_without_asking_360dialog(db, api) -> None:
    upsert_channel(db, "chA1", {"client_id": "cliX"}, source="webhook")
    state = _link(db)
    with responses.RequestsMock():  # no call expected: any request would fail the test
        stored = receive_redirect(db, f"client=cliX&channels=[chA1]&state={state}", api)
    assert stored.verdict == APPLIED_BY_STATE
    assert get_channel(db, "chA1")["permission"] == "granted"
    assert get_link(db, state)["redirect_id"] == stored.id


@responses.activate
def test_a_matched_state_with_an_unknown_channel_brings_it_in_only_once_360dialog_lists_it(db, api) -> None:
    state = _link(db)
    _lists(api, "cliX", "chNew1")
    stored = receive_redirect(db, f"client=cliX&channels=[chNew1]&state={state}", api)
    assert stored.verdict == APPLIED_BY_STATE
    assert get_channel(db, "chNew1")["client_id"] == "cliX"
    assert json.loads(responses.calls[0].request.params["filters"]) == {"client_id": "cliX"}


@responses.activate
def test_without_state_the_partner_api_must_confirm_every_id(db, api) -> None:
    _lists(api, "cliX", "chA1", "chA2")
    stored = receive_redirect(db, "client=cliX&channels=[chA1]&revoked=[chA2]", api)
    assert stored.verdict == APPLIED_CONFIRMED
    assert get_channel(db, "chA1")["permission"] == "granted"
    assert get_channel(db, "chA2")["revoked"] == 1


@responses.activate
def test_a_forged_redirect_is_held_and_changes_nothing(db, api) -> None:
    # The old behaviour: chA moved to evilCL, was revoked and its key marked unusable; chB moved too.
    upsert_channel(db, "chA", {"client_id": "goodCL", "status": "running"}, source="webhook")
    upsert_channel(db, "chB", {"client_id": "goodCL", "status": "running"}, source="webhook")
    _key(db, "chA")
    before = [dict(row) for row in db["channels"].rows]
    stored = receive_redirect(db, "client=evilCL&channels=[chB]&revoked=[chA]&state=madeup", api)
    assert stored.verdict == HELD
    assert [dict(row) for row in db["channels"].rows] == before
    assert db["api_keys"].get(1)["status"] == "active"
    assert "another client" in redirect_view(db, stored.id).verdict_reason
    assert len(responses.calls) == 0  # refused before asking: a redirect never moves a channel


@responses.activate
def test_ids_360dialog_does_not_list_for_the_client_create_nothing(db, api) -> None:
    _lists(api, "cliX", "chA1")
    stored = receive_redirect(db, "client=cliX&channels=[chA1,chGhost]", api)
    assert stored.verdict == HELD
    assert "chGhost" in redirect_view(db, stored.id).verdict_reason
    assert db["channels"].count == 0


@pytest.mark.parametrize(
    ("failure", "kind"),
    [(requests.ConnectTimeout(), "unreachable"), (None, "server_error")],
)
@responses.activate
def test_a_partner_api_failure_holds_the_redirect(db, api, failure, kind) -> None:
    if failure is not None:
        responses.get(_channels_url(api), body=failure)
    else:
        for _ in range(4):
            responses.get(_channels_url(api), json={"meta": {"developer_message": "boom"}}, status=500)
    stored = receive_redirect(db, "client=cliX&channels=[chA1]", api)
    assert stored.verdict == HELD
    assert kind in redirect_view(db, stored.id).verdict_reason
    assert db["channels"].count == 0


def test_without_a_partner_api_an_unvouched_redirect_is_held(db) -> None:
    upsert_channel(db, "chA1", {"client_id": "cliX"}, source="webhook")
    stored = receive_redirect(db, "client=cliX&channels=[chA1]")
    assert stored.verdict == HELD
    assert get_channel(db, "chA1")["permission"] == "unknown"
    assert held_count(db) == 1


@pytest.mark.parametrize("state_kind", ["used", "unknown"])
@responses.activate
def test_a_reused_or_unknown_state_vouches_for_nothing(db, api, state_kind) -> None:
    upsert_channel(db, "chA1", {"client_id": "cliX"}, source="webhook")
    state = _link(db)
    if state_kind == "used":
        receive_redirect(db, f"client=cliX&channels=[]&state={state}", api)
    else:
        state = "neverHandedOut"
    _lists(api, "cliY")
    stored = receive_redirect(db, f"client=cliX&channels=[chA1]&state={state}&again=1", api)
    assert stored.verdict == HELD


def test_the_same_query_again_is_not_decided_twice(db, api) -> None:
    upsert_channel(db, "chA1", {"client_id": "cliX"}, source="webhook")
    state = _link(db)
    first = receive_redirect(db, f"client=cliX&channels=[chA1]&state={state}", api)
    again = receive_redirect(db, f"client=cliX&channels=[chA1]&state={state}", api)
    assert (again.id, again.is_new, again.verdict) == (first.id, False, APPLIED_BY_STATE)
    assert db["redirects"].count == 1


def test_an_oversized_query_is_stored_capped_and_refused(db) -> None:
    stored = receive_redirect(db, {"client": "cliX", "channels": "[chA1]", "pad": "x" * 100_000})
    row = db["redirects"].get(stored.id)
    assert stored.verdict == REFUSED
    assert len(row["raw_query"]) == MAX_QUERY_LENGTH + 1
    assert "too long" in row["error"]


@responses.activate
def test_an_operator_applies_a_held_redirect_once_360dialog_confirms_it(db, api) -> None:
    stored = receive_redirect(db, "client=cliX&channels=[chA1]")  # no API at landing: held
    _lists(api, "cliX", "chA1")
    decision = apply_after_review(db, api, stored.id, operator="ana")
    assert decision.verdict == APPLIED_BY_OPERATOR
    view = redirect_view(db, stored.id)
    assert (view.verdict, view.decided_by) == (APPLIED_BY_OPERATOR, "ana")
    assert get_channel(db, "chA1")["permission"] == "granted"
    audit = list(db["audit"].rows_where("action = 'redirect_apply'"))
    assert [(row["operator"], row["outcome"]) for row in audit] == [("ana", "ok")]


@responses.activate
def test_an_operator_cannot_apply_what_360dialog_does_not_confirm(db, api) -> None:
    stored = receive_redirect(db, "client=cliX&channels=[chA1]")
    _lists(api, "cliX")
    decision = apply_after_review(db, api, stored.id, operator="ana")
    assert decision.verdict == HELD
    assert db["channels"].count == 0
    assert [row["outcome"] for row in db["audit"].rows_where("action = 'redirect_apply'")] == ["refused"]
    assert recent_redirects(db, waiting_for_review=True)[0]["id"] == stored.id


def test_an_operator_discards_a_held_redirect(db) -> None:
    stored = receive_redirect(db, "client=cliX&channels=[chA1]")
    assert discard(db, stored.id, operator="ana").verdict == DISCARDED
    assert held_count(db) == 0
    assert redirect_view(db, stored.id).decided_by == "ana"
    with pytest.raises(ValueError, match="not waiting for review"):
        discard(db, stored.id, operator="ana")
