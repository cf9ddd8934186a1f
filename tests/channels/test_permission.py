"""Key permission for Direct-Paid partners: from shared_client_numbers in every plausible shape, and from a 403
on the key request in 360dialog's own words."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
import responses
from cryptography.fernet import Fernet

from services.channels.permission import read_shared_numbers, refresh_permissions, refresh_unsettled_permissions
from services.channels.projection import get_channel, upsert_channel
from services.channels.sync import sync_channels
from services.keys.generation import eligibility_problem, generate_key
from services.keys.vault import KeyVault
from services.partner_api import PartnerApiError
from tests.support.mocked_hub import BASE
from tests.support.people import person
from tests.support.sandbox_hub import start_hub
from tests.support.servers import wait_for

SHARED_URL = f"{BASE}/partners/pa/clients/cliA/shared_client_numbers"


@pytest.mark.parametrize(
    "document",
    [
        {"count": 1, "shared_client_numbers": [{"channel_id": "chA1", "phone_number": "+49 151 1111111"}]},
        {"shared_client_numbers": ["chA1"]},
        {"shared_client_numbers": ["+49 151 1111111"]},
        {"numbers": [{"number": "491511111111"}]},
        {"phone_numbers": [{"display_phone_number": "+49 151 1111111", "id": "chA1"}]},
        [{"id": "chA1"}],
        ["491511111111"],
        {"data": [{"wa_id": 491511111111}]},
    ],
)
def test_every_plausible_shape_names_the_shared_channel(document) -> None:
    shared = read_shared_numbers(document)
    assert shared is not None
    assert shared.covers({"id": "chA1", "phone_number": "+49 151 1111111"})
    assert not shared.covers({"id": "chB2", "phone_number": "+49 151 2222222"})


@pytest.mark.parametrize(
    "document",
    [{}, {"status": "ok"}, {"shared_client_numbers": "all"}, {"shared_client_numbers": [{"colour": "blue"}]}, 7],
)
def test_a_shape_not_recognised_is_unknown_never_denied(document) -> None:
    assert read_shared_numbers(document) is None


def test_an_empty_list_or_entries_marked_unshared_mean_nothing_is_shared() -> None:
    for document in ({"shared_client_numbers": []}, [{"channel_id": "chA1", "shared": False}]):
        shared = read_shared_numbers(document)
        assert shared is not None
        assert not shared.covers({"id": "chA1", "phone_number": None})


def _client_channels(db) -> None:
    with db.atomic():
        upsert_channel(
            db, "chA1", {"client_id": "cliA", "status": "running", "phone_number": "+49 151 1111111"}, source="t"
        )
        upsert_channel(
            db, "chB2", {"client_id": "cliA", "status": "running", "phone_number": "+49 151 2222222"}, source="t"
        )


@responses.activate
def test_refresh_records_each_channels_permission_and_its_reason(db, api) -> None:
    _client_channels(db)
    responses.get(SHARED_URL, json={"shared_client_numbers": [{"phone_number": "491511111111"}]})
    check = refresh_permissions(db, api, "cliA", actor=person("ana"))
    assert (check.known, check.granted, check.not_shared) == (True, ["chA1"], ["chB2"])
    assert get_channel(db, "chA1")["permission"] == "granted"
    second = get_channel(db, "chB2")
    assert (second["permission"], second["permission_detail"]) == (
        "not_shared",
        "not among the client's shared numbers",
    )
    assert "not among the client's shared numbers" in eligibility_problem(second, direct_paid=True)
    assert eligibility_problem(get_channel(db, "chA1"), direct_paid=True) is None


@responses.activate
def test_an_unknown_answer_changes_nothing(db, api) -> None:
    _client_channels(db)
    responses.get(SHARED_URL, json={"result": "fine"})
    check = refresh_permissions(db, api, "cliA", actor=person("ana"))
    assert not check.known
    assert {get_channel(db, c)["permission"] for c in ("chA1", "chB2")} == {"unknown"}
    assert [row["outcome"] for row in db.query("select outcome from audit")] == ["unknown"]


@responses.activate
def test_a_403_on_the_key_request_is_kept_in_360dialogs_words_and_decides_nothing(db, api) -> None:
    _client_channels(db)
    message = "Client has not granted permission for this phone number"
    responses.post(
        f"{BASE}/partners/pa/channels/chA1/api_keys",
        json={"meta": {"success": False, "http_code": 403, "developer_message": message}},
        status=403,
    )
    with pytest.raises(PartnerApiError):
        generate_key(db, api, KeyVault(Fernet.generate_key().decode()), "chA1", actor=person("ana"))
    channel = get_channel(db, "chA1")
    assert channel["permission"] == "unknown"  # only shared_client_numbers says denied or granted
    assert channel["key_refusal"] == message
    assert eligibility_problem(channel) is None  # the next attempt asks 360dialog again


@pytest.mark.processes
def test_permission_from_the_sandbox_hub_after_a_sync(tmp_path, db) -> None:
    """Channels found by sync start unknown; the hub's answer settles them, the withdrawn one included."""
    with ExitStack() as stack:
        hub = start_hub(stack, tmp_path / "hub")
        onboarded = hub.sandbox.onboard("Shared Cafe", ["+49 151 3000001", "+49 151 3000002"])
        first, second = onboarded["channel_ids"]
        hub.sandbox.revoke(second)
        api = hub.api()
        stack.callback(api.close)
        wait_for(lambda: api.list_channels(filters={"status": "running"})["total"] == 2)
        sync_channels(db, api, actor=person("ana"))
        assert {get_channel(db, c)["permission"] for c in (first, second)} == {"unknown"}
        check = refresh_permissions(db, api, onboarded["client_id"], actor=person("ana"))
    assert (check.granted, check.not_shared) == ([first], [second])


@responses.activate
def test_unsettled_clients_are_asked_first_and_a_failing_one_does_not_stop_the_others(db, api) -> None:
    with db.atomic():
        for channel_id, client_id, permission in (
            ("chA1", "cliA", None),
            ("chB1", "cliB", None),
            ("chC1", "cliC", "granted"),  # settled: asked after the others, then daily
        ):
            changes = {"client_id": client_id, "status": "running", "phone_number": f"+49 151 {channel_id[2]}"}
            upsert_channel(db, channel_id, {**changes, "permission": permission}, source="t")
    responses.get(f"{BASE}/partners/pa/clients/cliA/shared_client_numbers", status=503)
    responses.get(f"{BASE}/partners/pa/clients/cliB/shared_client_numbers", json={"shared_client_numbers": ["chB1"]})
    checks = refresh_unsettled_permissions(db, api, actor=person("scheduler"), limit=2)
    assert [check.client_id for check in checks] == ["cliB"]
    assert get_channel(db, "chB1")["permission"] == "granted"
    assert get_channel(db, "chA1")["permission"] == "unknown"
    assert "cliC" not in " ".join(call.request.url for call in responses.calls)
    failed = [row["detail"] for row in db.query("select detail from audit where outcome = 'failed'")]
    assert [detail.split(":")[0] for detail in failed] == ["client cliA"]


@responses.activate
def test_a_question_that_changes_no_channel_is_audited_for_the_client(db, api) -> None:
    _client_channels(db)
    responses.get(SHARED_URL, json={"result": "fine"})
    refresh_permissions(db, api, "cliA", actor=person("ana"))
    rows = [
        (row["action"], row["outcome"], row["channel_id"], row["detail"]) for row in db.query("select * from audit")
    ]
    assert rows == [
        (
            "check_permission",
            "unknown",
            None,
            "client cliA: shared_client_numbers answered in a shape not recognised; nothing changed",
        )
    ]
