"""Key generation: eligibility, confirmation, one POST per channel, audit, reveal, bulk runs."""

from __future__ import annotations

import re
import threading

import pytest
import requests
import responses
from cryptography.fernet import Fernet

from services import audit
from services.channels.projection import upsert_channel
from services.keys.bulk import eligible_channel_ids, generate_many
from services.keys.generation import KeyNotAllowed, generate_key, record_reveal
from services.keys.key_status import key_status
from services.keys.readiness import unprepared_channel_ids
from services.keys.vault import KeyVault
from services.partner_api import PartnerApiError
from services.store import open_console_db
from tests.support.console import console_db
from tests.support.mocked_hub import BASE
from tests.support.people import person

KEY_URL = re.compile(rf"{BASE}/partners/pa/channels/(\w+)/api_keys")


@pytest.fixture
def vault():
    return KeyVault(Fernet.generate_key().decode())


def _running(db, channel_id: str, **fields) -> None:
    with db.atomic():
        upsert_channel(db, channel_id, {"status": "running", **fields}, source="test")


def _key_answer(request):
    channel = KEY_URL.match(request.url).group(1)
    return 201, {}, f'{{"api_key": "secret-{channel}-0123456789abcdef", "address": "https://waba.test", "id": "k"}}'


def _audit(db) -> list[tuple[str, str]]:
    return [(row["action"], row["outcome"]) for row in db.query("select * from audit order by id")]


def test_key_is_stored_encrypted_and_audited(db, api, vault) -> None:
    _running(db, "aCH")
    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.POST, KEY_URL, callback=_key_answer)
        result = generate_key(db, api, vault, "aCH", actor=person("alice"))
    row = db["api_keys"].get(1)
    assert result.api_key not in str(row)
    assert vault.open(row["key_encrypted"]) == result.api_key
    assert row["key_last4"] == result.last4 == "cdef"
    assert key_status(db, "aCH") == "active"
    assert _audit(db) == [("generate_key", "ok")]
    assert result.api_key not in str(list(db.query("select * from audit")))


def test_an_existing_key_needs_confirmation_and_is_revoked_by_the_new_one(db, api, vault) -> None:
    _running(db, "aCH")
    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.POST, KEY_URL, callback=_key_answer)
        generate_key(db, api, vault, "aCH", actor=person("alice"))
        with pytest.raises(KeyNotAllowed, match="revokes"):
            generate_key(db, api, vault, "aCH", actor=person("alice"))
        assert len(mocked.calls) == 1
        generate_key(db, api, vault, "aCH", actor=person("alice"), replace_existing=True)
    statuses = [row["status"] for row in db.query("select status from api_keys order by id")]
    assert statuses == ["revoked", "active"]
    assert ("revoke_key", "ok") in _audit(db)


def test_direct_paid_needs_the_clients_grant(db, api, vault) -> None:
    _running(db, "aCH")
    with pytest.raises(KeyNotAllowed, match="Direct-Paid"):
        generate_key(db, api, vault, "aCH", actor=person("alice"), direct_paid=True)
    _running(db, "aCH", permission="granted")
    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.POST, KEY_URL, callback=_key_answer)
        generate_key(db, api, vault, "aCH", actor=person("alice"), direct_paid=True)


def test_channels_not_running_get_no_key(db, api, vault) -> None:
    with db.atomic():
        upsert_channel(db, "pCH", {"status": "pending"}, source="test")
    with pytest.raises(KeyNotAllowed, match="running"):
        generate_key(db, api, vault, "pCH", actor=person("alice"))


@pytest.mark.parametrize(
    "ending",
    [
        {"terminated_at": "2026-12-01T10:00:00Z"},
        {"cancellation": "cancelled", "cancellation_at": "2026-12-01T10:00:00Z"},
    ],
)
def test_a_channel_that_ended_gets_no_key_from_any_caller(db, api, vault, ending) -> None:
    _running(db, "eCH", **ending)
    with pytest.raises(KeyNotAllowed, match="takes no key"):
        generate_key(db, api, vault, "eCH", actor=person("alice"))
    assert db["api_keys"].count == 0


def test_a_key_of_a_channel_that_ended_is_not_waiting_to_be_made_ready(db, api, vault) -> None:
    _running(db, "aCH")
    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.POST, KEY_URL, callback=_key_answer)
        generate_key(db, api, vault, "aCH", actor=person("alice"))
    assert unprepared_channel_ids(db) == ["aCH"]
    _running(db, "aCH", terminated_at="2026-12-01T10:00:00Z")
    assert unprepared_channel_ids(db) == []


def test_a_timeout_leaves_the_key_state_unknown_and_sends_one_post(db, api, vault) -> None:
    _running(db, "aCH")
    with responses.RequestsMock() as mocked:
        mocked.post(KEY_URL, body=requests.ReadTimeout("slow"))
        with pytest.raises(PartnerApiError) as raised:
            generate_key(db, api, vault, "aCH", actor=person("alice"))
        assert len(mocked.calls) == 1
    assert raised.value.kind == "timeout"
    assert key_status(db, "aCH") == "unknown"
    assert _audit(db) == [("generate_key", "unknown")]


def test_a_refused_request_is_a_plain_failure(db, api, vault) -> None:
    _running(db, "aCH")
    with responses.RequestsMock() as mocked:
        mocked.post(KEY_URL, status=403)
        with pytest.raises(PartnerApiError):
            generate_key(db, api, vault, "aCH", actor=person("alice"))
    assert key_status(db, "aCH") == "none"
    assert _audit(db) == [("generate_key", "failed")]


def test_two_operators_at_once_make_one_post(db_path, db, api, vault) -> None:
    _running(db, "aCH")
    entered, release = threading.Event(), threading.Event()
    errors: list[Exception] = []

    def slow_answer(request):
        entered.set()
        release.wait(10)
        return _key_answer(request)

    def first_operator():
        with console_db(db_path) as other:
            try:
                generate_key(other, api, vault, "aCH", actor=person("alice"))
            except Exception as error:  # noqa: BLE001 - surfaced by the assertion below
                errors.append(error)

    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.POST, KEY_URL, callback=slow_answer)
        thread = threading.Thread(target=first_operator)
        thread.start()
        assert entered.wait(10)
        with pytest.raises(KeyNotAllowed, match="already being generated"):
            generate_key(db, api, vault, "aCH", actor=person("bob"))
        release.set()
        thread.join(10)
        assert len(mocked.calls) == 1
    assert errors == []
    assert key_status(db, "aCH") == "active"


def test_each_reveal_is_audited_without_the_key(db) -> None:
    record_reveal(db, "aCH", actor=person("alice"), last4="cdef")
    record_reveal(db, "aCH", actor=person("bob"), last4="cdef")
    rows = audit.recent(db)
    assert [(row["operator"], row["action"], row["detail"]) for row in rows] == [
        ("bob", "reveal_key", "key ending cdef"),
        ("alice", "reveal_key", "key ending cdef"),
    ]


def test_bulk_generates_for_eligible_channels_and_explains_failures(db_path, db, api, vault) -> None:
    for index in range(6):
        _running(db, f"ok{index}")
    _running(db, "denied")
    _running(db, "busy")
    with db.atomic():
        upsert_channel(db, "pending", {"status": "pending"}, source="test")
        db["api_keys"].insert(
            {"channel_id": "keyed", "operator": "o", "created_at": "t", "outcome": "ok", "status": "active"}
        )
        upsert_channel(db, "keyed", {"status": "running"}, source="test")
    eligible = eligible_channel_ids(db)
    assert sorted(eligible) == sorted([*(f"ok{index}" for index in range(6)), "denied", "busy"])

    def answer(request):
        channel = KEY_URL.match(request.url).group(1)
        if channel == "denied":
            return 403, {}, '{"meta": {"developer_message": "no permission"}}'
        if channel == "busy":
            return 429, {"Retry-After": "30"}, ""
        return _key_answer(request)

    progress: list[tuple[int, int]] = []
    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.POST, KEY_URL, callback=answer)
        summary = generate_many(
            lambda: open_console_db(db_path),
            api,
            vault,
            eligible,
            actor=person("alice"),
            max_workers=4,
            on_progress=lambda done, total, _outcome: progress.append((done, total)),
        )
        assert len(mocked.calls) == 8
    assert len(summary.succeeded) == 6
    failures = {outcome.channel_id: outcome.kind for outcome in summary.failed}
    assert failures == {"denied": "forbidden", "busy": "rate_limited"}
    assert "retry after 30 s" in next(o.error for o in summary.failed if o.channel_id == "busy")
    assert progress == [(done, 8) for done in range(1, 9)]
    assert eligible_channel_ids(db) == sorted(["denied", "busy"])
    assert db["api_keys"].count_where("outcome = 'ok'") == 7


def test_bulk_on_direct_paid_takes_only_granted_channels(db) -> None:
    _running(db, "grantedCH", permission="granted")
    _running(db, "waitingCH")
    assert eligible_channel_ids(db, direct_paid=True) == ["grantedCH"]
    assert sorted(eligible_channel_ids(db)) == ["grantedCH", "waitingCH"]
