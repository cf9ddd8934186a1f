"""A redirect is a claim: applied only when its state or 360dialog vouches for that very change (contract
section 2). Ownership is not consent; an empty list confirms nothing; a state vouches for one client's new
channels; the landing asks 360dialog nothing."""

from __future__ import annotations

import json

import pytest
import requests
import responses

from services.channels.projection import ensure_client, get_channel, upsert_channel
from services.onboarding.links import LinkRequest, get_link, hand_out_link
from services.onboarding.redirect_decision import (
    APPLIED_BY_OPERATOR,
    APPLIED_BY_STATE,
    APPLIED_CONFIRMED,
    DISCARDED,
    HELD,
    PENDING,
    REFUSED,
    apply_after_review,
    confirm_waiting_redirects,
    discard,
)
from services.onboarding.redirect_params import MAX_QUERY_LENGTH
from services.onboarding.redirect_store import receive_redirect
from services.read_models.redirects import held_count, recent_redirects, redirect_view
from tests.support.people import person


def _channels_url(api) -> str:
    return f"{api.base_url}/partners/{api.partner_id}/channels"


def _shared_url(api, client_id: str) -> str:
    return f"{api.base_url}/partners/{api.partner_id}/clients/{client_id}/shared_client_numbers"


def _lists(api, client_id: str, *channel_ids: str, listed_under: str | None = None, status: int = 200) -> None:
    """The Partner API lists these channels when asked for `client_id`'s, each under `listed_under` (the client
    itself unless told): an API that ignores the filter lists another client's channels."""
    channels = [
        {
            "id": channel_id,
            "client_id": listed_under or client_id,
            "status": "running",
            "setup_info": {"phone_number": f"+4915112340{index}"},
        }
        for index, channel_id in enumerate(channel_ids)
    ]
    body = {"count": len(channels), "total": len(channels), "partner_channels": channels}
    responses.get(_channels_url(api), json=body, status=status)


def _shares(api, client_id: str, *channel_ids: str) -> None:
    """shared_client_numbers: the client shares these channels with the partner."""
    numbers = [{"channel_id": channel_id} for channel_id in channel_ids]
    responses.get(_shared_url(api, client_id), json={"count": len(numbers), "shared_client_numbers": numbers})


def _link(db) -> str:
    return hand_out_link(db, LinkRequest(), partner_id="pa", actor=person("ana")).state


def _key(db, channel_id: str) -> None:
    db["api_keys"].insert(
        {"channel_id": channel_id, "operator": "ana", "status": "active", "outcome": "ok", "created_at": "2026"}
    )


def _snapshot(db) -> dict[str, list[dict]]:
    """What a redirect may change: channels, keys, clients and the audit log (which alerts read)."""
    return {table: [dict(row) for row in db[table].rows] for table in ("channels", "api_keys", "clients", "audit")}


def _confirm(db, api, *, direct_paid: bool = False) -> list:
    return confirm_waiting_redirects(db, api, direct_paid=direct_paid, budget=20)


# -- the attack cases ---------------------------------------------------------------------------------


@pytest.mark.parametrize("direct_paid", [False, True])
@responses.activate
def test_an_anonymous_revocation_of_an_existing_channel_changes_nothing(db, api, direct_paid) -> None:
    # The old behaviour: 360dialog listed the channel under the client, so the revocation was applied_confirmed,
    # the key marked unusable and the "Permission revoked" alert fired. Ownership is not consent.
    upsert_channel(db, "chA", {"client_id": "cliX", "status": "running"}, source="webhook")
    _key(db, "chA")
    before = _snapshot(db)
    stored = receive_redirect(db, "client=cliX&channels=[]&revoked=[chA]", direct_paid=direct_paid)
    assert len(responses.calls) == 0  # the landing asks 360dialog nothing
    _lists(api, "cliX", "chA")
    _shares(api, "cliX", "chA")  # still shared: 360dialog does not confirm the revocation
    _confirm(db, api, direct_paid=direct_paid)
    assert redirect_view(db, stored.id).verdict == HELD
    assert _snapshot(db) == before
    assert get_channel(db, "chA")["revoked"] == 0


@responses.activate
def test_a_direct_paid_revocation_applies_once_shared_client_numbers_no_longer_lists_it(db, api) -> None:
    upsert_channel(db, "chA", {"client_id": "cliX", "status": "running"}, source="webhook")
    upsert_channel(db, "chB", {"client_id": "cliX", "status": "running"}, source="webhook")
    _key(db, "chA")
    stored = receive_redirect(db, "client=cliX&channels=[chB]&revoked=[chA]", direct_paid=True)
    assert stored.verdict == PENDING
    _lists(api, "cliX", "chA", "chB")
    _shares(api, "cliX", "chB")
    [decision] = _confirm(db, api, direct_paid=True)
    assert (decision.verdict, decision.keys_marked_unusable) == (APPLIED_CONFIRMED, 1)
    assert (get_channel(db, "chA")["revoked"], get_channel(db, "chB")["permission"]) == (1, "granted")


@pytest.mark.parametrize("direct_paid", [False, True])
@responses.activate
def test_a_grant_through_an_unknown_state_changes_nothing(db, api, direct_paid) -> None:
    # The old behaviour: 360dialog listed the channel under the client, so the grant passed the Direct-Paid gate.
    upsert_channel(db, "chA", {"client_id": "cliX", "status": "running", "permission": "not_shared"}, source="test")
    before = _snapshot(db)
    stored = receive_redirect(db, "client=cliX&channels=[chA]&state=madeUp", direct_paid=direct_paid)
    assert stored.state_match == "unknown state"
    _lists(api, "cliX", "chA")
    _shares(api, "cliX")  # nothing shared
    _confirm(db, api, direct_paid=direct_paid)
    assert redirect_view(db, stored.id).verdict == HELD
    assert _snapshot(db) == before


@responses.activate
def test_a_handed_out_state_does_not_vouch_for_another_clients_channels(db, api) -> None:
    # The old behaviour: a matched state applied changes to channels the console knew, with no 360dialog call.
    upsert_channel(db, "chA", {"client_id": "cliX", "status": "running"}, source="webhook")
    _key(db, "chA")
    before = _snapshot(db)
    state = _link(db)
    stored = receive_redirect(db, f"client=cliX&channels=[]&revoked=[chA]&state={state}")
    assert (stored.state_match, stored.verdict) == ("matched", HELD)
    assert "had a client before the link was handed out" in redirect_view(db, stored.id).verdict_reason
    assert _snapshot(db) == before
    assert len(responses.calls) == 0


def test_a_state_vouches_for_the_channels_of_its_own_onboarding(db) -> None:
    # The genuine flow: the link is handed out, then this onboarding's webhooks bring the client and its channel.
    state = _link(db)
    ensure_client(db, "cliNew")
    upsert_channel(db, "chNew", {"client_id": "cliNew", "status": "running"}, source="webhook")
    stored = receive_redirect(db, f"client=cliNew&channels=[chNew]&state={state}")
    assert stored.verdict == APPLIED_BY_STATE
    assert get_channel(db, "chNew")["permission"] == "granted"


def test_a_state_vouches_for_the_first_client_only(db) -> None:
    upsert_channel(db, "newA", {}, source="webhook")
    upsert_channel(db, "newB", {}, source="webhook")
    state = _link(db)
    first = receive_redirect(db, f"client=cliX&channels=[newA]&state={state}")
    second = receive_redirect(db, f"client=cliY&channels=[newB]&state={state}")
    assert (first.verdict, second.verdict, second.state_match) == (APPLIED_BY_STATE, HELD, "already used")
    assert get_link(db, state)["client_id"] == "cliX"
    assert get_channel(db, "newB")["client_id"] is None


@responses.activate
def test_forty_empty_list_redirects_create_no_client(db, api) -> None:
    # The old behaviour: an empty list counted as confirmed, and each redirect created a client.
    for number in range(40):
        stored = receive_redirect(db, f"client=big{number}&channels=[]")
        assert stored.verdict == HELD
    _confirm(db, api)
    assert len(responses.calls) == 0
    assert db["clients"].count == 0
    assert held_count(db) == 40
    assert "names no channel" in redirect_view(db, 1).verdict_reason


@pytest.mark.parametrize("direct_paid", [False, True])
@responses.activate
def test_a_channel_360dialog_lists_under_another_client_is_not_confirmed(db, api, direct_paid) -> None:
    # An answer that ignores the client filter: the channel is listed, but as another client's.
    state = _link(db)
    stored = receive_redirect(db, f"client=cliX&channels=[chNew]&state={state}", direct_paid=direct_paid)
    assert stored.verdict == PENDING
    _lists(api, "cliX", "chNew", listed_under="cliOther")
    _shares(api, "cliX", "chNew")
    [decision] = _confirm(db, api, direct_paid=direct_paid)
    assert decision.verdict == HELD
    assert "under another client" in decision.reason
    assert (db["channels"].count, db["clients"].count) == (0, 0)


# -- what a state and an operator may do ----------------------------------------------------------------------


def test_a_matched_state_applies_to_a_new_known_channel_without_asking_360dialog(db, api) -> None:
    upsert_channel(db, "chA1", {}, source="webhook")
    state = _link(db)
    with responses.RequestsMock():  # no call expected: any request would fail the test
        stored = receive_redirect(db, f"client=cliX&channels=[chA1]&state={state}")
    assert stored.verdict == APPLIED_BY_STATE
    assert (get_channel(db, "chA1")["permission"], get_channel(db, "chA1")["client_id"]) == ("granted", "cliX")
    assert get_link(db, state)["redirect_id"] == stored.id


@responses.activate
def test_a_matched_state_with_an_unknown_channel_brings_it_in_once_the_scheduler_sees_it_listed(db, api) -> None:
    state = _link(db)
    stored = receive_redirect(db, f"client=cliX&channels=[chNew1]&state={state}")
    assert (stored.verdict, len(responses.calls)) == (PENDING, 0)
    _lists(api, "cliX", "chNew1")
    [decision] = _confirm(db, api)
    assert decision.verdict == APPLIED_BY_STATE
    assert get_channel(db, "chNew1")["client_id"] == "cliX"
    assert json.loads(responses.calls[0].request.params["filters"]) == {"client_id": "cliX"}


@responses.activate
def test_ids_360dialog_does_not_list_for_the_client_create_nothing(db, api) -> None:
    state = _link(db)
    receive_redirect(db, f"client=cliX&channels=[chA1,chGhost]&state={state}")
    _lists(api, "cliX", "chA1")
    [decision] = _confirm(db, api)
    assert decision.verdict == HELD
    assert "chGhost" in decision.reason
    assert db["channels"].count == 0


@pytest.mark.parametrize(("failure", "kind"), [(requests.ConnectTimeout(), "unreachable"), (None, "server_error")])
@responses.activate
def test_a_partner_api_failure_leaves_the_redirect_pending_for_the_next_run(db, api, failure, kind) -> None:
    if failure is not None:
        responses.get(_channels_url(api), body=failure)
    else:
        for _ in range(4):
            responses.get(_channels_url(api), json={"meta": {"developer_message": "boom"}}, status=500)
    stored = receive_redirect(db, "client=cliX&channels=[chA1]", direct_paid=True)
    [decision] = _confirm(db, api, direct_paid=True)
    assert decision.verdict == PENDING
    assert kind in redirect_view(db, stored.id).verdict_reason
    assert db["redirects"].get(stored.id)["checked_at"] is not None
    assert db["channels"].count == 0


@responses.activate
def test_the_scheduler_asks_about_at_most_its_budget_least_recently_checked_first(db, api) -> None:
    for number in range(5):
        receive_redirect(db, f"client=cli{number}&channels=[ch{number}]", direct_paid=True)
    for number in range(5):
        _lists(api, f"cli{number}")
    first = confirm_waiting_redirects(db, api, direct_paid=True, budget=3)
    second = confirm_waiting_redirects(db, api, direct_paid=True, budget=3)
    assert (len(first), len(second)) == (3, 2)
    assert len(responses.calls) == 5


def test_an_operator_sees_a_held_redirect_and_no_call_was_made(db) -> None:
    upsert_channel(db, "chA1", {"client_id": "cliX"}, source="webhook")
    stored = receive_redirect(db, "client=cliX&channels=[chA1]")
    assert stored.verdict == HELD
    assert get_channel(db, "chA1")["permission"] == "unknown"
    assert held_count(db) == 1


def test_the_same_query_again_is_not_decided_twice(db) -> None:
    upsert_channel(db, "chA1", {}, source="webhook")
    state = _link(db)
    first = receive_redirect(db, f"client=cliX&channels=[chA1]&state={state}")
    again = receive_redirect(db, f"client=cliX&channels=[chA1]&state={state}")
    assert (again.id, again.is_new, again.verdict) == (first.id, False, APPLIED_BY_STATE)
    assert db["redirects"].count == 1


def test_an_oversized_query_is_stored_capped_and_refused(db) -> None:
    stored = receive_redirect(db, {"client": "cliX", "channels": "[chA1]", "pad": "x" * 100_000})
    row = db["redirects"].get(stored.id)
    assert stored.verdict == REFUSED
    assert len(row["raw_query"]) == MAX_QUERY_LENGTH + 1
    assert "too long" in row["error"]


@responses.activate
def test_an_operator_applies_a_held_redirect_once_360dialog_lists_its_channels(db, api) -> None:
    upsert_channel(db, "chA1", {"client_id": "cliX"}, source="webhook")
    stored = receive_redirect(db, "client=cliX&channels=[chA1]")
    _lists(api, "cliX", "chA1")
    decision = apply_after_review(db, api, stored.id, actor=person("ana"))
    assert decision.verdict == APPLIED_BY_OPERATOR
    view = redirect_view(db, stored.id)
    assert (view.verdict, view.decided_by) == (APPLIED_BY_OPERATOR, "ana")
    assert get_channel(db, "chA1")["permission"] == "granted"
    audit = list(db["audit"].rows_where("action = 'redirect_apply'"))
    assert [(row["operator"], row["outcome"]) for row in audit] == [("ana", "ok")]


@responses.activate
def test_an_operator_cannot_apply_what_360dialog_contradicts(db, api) -> None:
    upsert_channel(db, "chA1", {"client_id": "cliX"}, source="webhook")
    stored = receive_redirect(db, "client=cliX&channels=[]&revoked=[chA1]", direct_paid=True)
    _lists(api, "cliX", "chA1")
    _shares(api, "cliX", "chA1")
    decision = apply_after_review(db, api, stored.id, actor=person("ana"), direct_paid=True)
    assert decision.verdict == HELD
    assert get_channel(db, "chA1")["revoked"] == 0
    assert [row["outcome"] for row in db["audit"].rows_where("action = 'redirect_apply'")] == ["refused"]
    assert recent_redirects(db, waiting_for_review=True)[0]["id"] == stored.id


@responses.activate
def test_an_operator_cannot_apply_a_channel_360dialog_does_not_list(db, api) -> None:
    stored = receive_redirect(db, "client=cliX&channels=[chA1]")
    _lists(api, "cliX")
    assert apply_after_review(db, api, stored.id, actor=person("ana")).verdict == HELD
    assert db["channels"].count == 0


def test_an_operator_discards_a_held_redirect(db) -> None:
    stored = receive_redirect(db, "client=cliX&channels=[chA1]")
    assert discard(db, stored.id, actor=person("ana")).verdict == DISCARDED
    assert held_count(db) == 0
    assert redirect_view(db, stored.id).decided_by == "ana"
    with pytest.raises(ValueError, match="not waiting for review"):
        discard(db, stored.id, actor=person("ana"))


def test_a_redirect_that_can_never_apply_does_not_use_up_the_link(db) -> None:
    upsert_channel(db, "chOther", {"client_id": "cliOther"}, source="webhook")
    upsert_channel(db, "chNew", {}, source="webhook")
    state = _link(db)
    receive_redirect(db, f"client=cliEvil&channels=[chOther]&state={state}")
    receive_redirect(db, f"client=cliEvil2&channels=[]&state={state}")
    assert get_link(db, state)["client_id"] is None
    assert receive_redirect(db, f"client=cliX&channels=[chNew]&state={state}").verdict == APPLIED_BY_STATE


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        ({"shared_client_numbers": [{"channel_id": "chA", "shared": False}]}, APPLIED_CONFIRMED),
        ({"shared_client_numbers": []}, APPLIED_CONFIRMED),
        ({"something": "else"}, HELD),  # a shape not recognised confirms nothing
        ({"shared_client_numbers": [{"channel_id": "chA"}]}, HELD),  # still shared
    ],
)
@responses.activate
def test_a_direct_paid_revocation_is_confirmed_only_by_what_shared_client_numbers_says(
    db, api, answer, verdict
) -> None:
    upsert_channel(db, "chA", {"client_id": "cliX", "status": "running"}, source="webhook")
    receive_redirect(db, "client=cliX&channels=[]&revoked=[chA]", direct_paid=True)
    _lists(api, "cliX", "chA")
    responses.get(_shared_url(api, "cliX"), json=answer)
    [decision] = _confirm(db, api, direct_paid=True)
    assert decision.verdict == verdict
    assert get_channel(db, "chA")["revoked"] == (1 if verdict == APPLIED_CONFIRMED else 0)
