"""Permission that can come back (contract section 7): a 403 on a key request is 360dialog refusing that
request, in its words, and the next attempt asks again; only shared_client_numbers says granted or not shared;
the scheduler asks again with backoff while a client is unsettled and daily once granted; every change is
audited on the channel and alerted once."""

from __future__ import annotations

import json
import sqlite3
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

import pytest
import responses
from cryptography.fernet import Fernet
from sqlite_utils import Database

from services.alerts.rules import find_permission_changes
from services.channels.permission import (
    FIRST_WAIT,
    LONGEST_WAIT,
    SETTLED_WAIT,
    due_clients,
    refresh_due_permissions,
    refresh_permissions,
)
from services.channels.projection import get_channel, upsert_channel
from services.channels.sync import sync_channels
from services.keys.generation import KeyNotAllowed, generate_key
from services.keys.vault import KeyVault
from services.migrations import console_migrations
from services.partner_api import PartnerApiError
from services.read_models.channel_timeline import channel_timeline
from services.read_models.work_queue import needs_attention, refused_by_360dialog
from services.settings import AlertSettings
from tests.support import FIXTURES
from tests.support.mocked_hub import BASE
from tests.support.people import person
from tests.support.sandbox_hub import start_hub
from tests.support.servers import wait_for

REFUSALS = json.loads((FIXTURES / "360dialog" / "error_answers.json").read_text())["partner_api_key_refusals"]
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def vault() -> KeyVault:
    return KeyVault(Fernet.generate_key().decode())


def _granted_channel(db, channel_id: str = "chP1", client_id: str = "cliP") -> None:
    with db.atomic():
        upsert_channel(
            db,
            channel_id,
            {"client_id": client_id, "status": "running", "phone_number": "+49 151 5550001", "permission": "granted"},
            source="t",
        )


@responses.activate
@pytest.mark.parametrize("recorded", REFUSALS, ids=lambda recorded: recorded["name"])
def test_a_403_is_a_refusal_in_360dialogs_words_and_the_next_attempt_asks_again(db, api, vault, recorded) -> None:
    _granted_channel(db)
    url = f"{BASE}/partners/pa/channels/chP1/api_keys"
    if recorded["body"] is None:
        responses.post(url, status=recorded["status"])
    else:
        responses.post(url, json=recorded["body"], status=recorded["status"])
    with pytest.raises(PartnerApiError) as raised:
        generate_key(db, api, vault, "chP1", actor=person("ana"), direct_paid=True)
    assert raised.value.message.startswith("Refused by 360dialog (403)")
    channel = get_channel(db, "chP1")
    assert (channel["permission"], channel["key_refusal"]) == ("granted", recorded["expect"])
    [item] = refused_by_360dialog(db)
    assert (item.reason, item.detail) == ("refused by 360dialog", f"{recorded['expect']} · try again")
    assert item in needs_attention(db, stuck_after_minutes=60)

    made = {"id": "k1", "address": "https://waba-v2.360dialog.io", "api_key": "K" * 28}
    responses.replace(responses.POST, url, json=made, status=201)
    generate_key(db, api, vault, "chP1", actor=person("ana"), direct_paid=True)  # not refused locally
    assert get_channel(db, "chP1")["key_refusal"] is None
    assert refused_by_360dialog(db) == []


@pytest.mark.processes
def test_a_403_then_the_client_granting_in_its_hub_lets_the_next_key_through(tmp_path, db, api, vault) -> None:
    """Against the sandbox hub over HTTP, as a Direct-Paid partner: the client withdraws in its hub (no event),
    the key request is refused, the client grants again in its hub, the next request makes the key."""
    with ExitStack() as stack:
        hub = start_hub(stack, tmp_path / "hub", SANDBOX_DIRECT_PAID="true")
        onboarded = hub.sandbox.onboard("Granting Cafe", ["+49 151 6660001"])
        [channel_id], client_id = onboarded["channel_ids"], onboarded["client_id"]
        partner = hub.api()
        stack.callback(partner.close)
        running = {"id": channel_id, "status": "running"}
        wait_for(lambda: partner.list_channels(filters=running)["total"] == 1)
        sync_channels(db, partner, actor=person("ana"))
        refresh_permissions(db, partner, client_id, actor=person("ana"))
        assert get_channel(db, channel_id)["permission"] == "granted"

        hub.sandbox.revoke(channel_id)  # in its hub: the redirect never reaches the console
        with pytest.raises(PartnerApiError):
            generate_key(db, partner, vault, channel_id, actor=person("ana"), direct_paid=True)
        assert get_channel(db, channel_id)["key_refusal"].startswith("The client has not granted permission")

        hub.sandbox.grant(channel_id)
        key = generate_key(db, partner, vault, channel_id, actor=person("ana"), direct_paid=True)
    assert key.channel_id == channel_id
    assert get_channel(db, channel_id)["key_refusal"] is None


def test_a_channel_shared_clients_never_listed_stays_refused_locally(db, api, vault) -> None:
    """Direct-Paid: what shared_client_numbers says still decides; a refusal does not open a key by itself."""
    _granted_channel(db)
    with db.atomic():
        upsert_channel(db, "chP1", {"permission": "not_shared"}, source="t")
    with pytest.raises(KeyNotAllowed, match="has not granted key permission"):
        generate_key(db, api, vault, "chP1", actor=person("ana"), direct_paid=True)


def _shared(client_id: str, *channel_ids: str) -> None:
    responses.replace(
        responses.GET,
        f"{BASE}/partners/pa/clients/{client_id}/shared_client_numbers",
        json={"shared_client_numbers": list(channel_ids)},
    )


def _asked(now: datetime, db, api) -> list[str]:
    return [check.client_id for check in refresh_due_permissions(db, api, actor=person("scheduler"), now=now)]


@responses.activate
def test_the_scheduler_asks_again_with_backoff_and_daily_once_granted(db, api) -> None:
    _granted_channel(db)
    with db.atomic():
        upsert_channel(db, "chP1", {"permission": None}, source="t")
    responses.get(f"{BASE}/partners/pa/clients/cliP/shared_client_numbers", json={"shared_client_numbers": []})

    assert _asked(START, db, api) == ["cliP"]
    assert get_channel(db, "chP1")["permission"] == "not_shared"
    assert _asked(START + FIRST_WAIT - timedelta(seconds=1), db, api) == []
    now = START + FIRST_WAIT
    assert _asked(now, db, api) == ["cliP"]
    waits = [FIRST_WAIT * 2, FIRST_WAIT * 4]
    for wait in waits:
        assert _asked(now + wait - timedelta(seconds=1), db, api) == []
        now += wait
        assert _asked(now, db, api) == ["cliP"]
    for _ in range(10):
        now += LONGEST_WAIT
        assert _asked(now, db, api) == ["cliP"]  # the wait never grows past a day
    assert db["permission_rechecks"].get("cliP")["wait_minutes"] == LONGEST_WAIT.total_seconds() / 60

    _shared("cliP", "chP1")  # the client grants in its hub
    now += LONGEST_WAIT
    assert _asked(now, db, api) == ["cliP"]
    assert get_channel(db, "chP1")["permission"] == "granted"
    assert _asked(now + SETTLED_WAIT - timedelta(seconds=1), db, api) == []
    assert _asked(now + SETTLED_WAIT, db, api) == ["cliP"]


@responses.activate
def test_a_failing_question_backs_off_and_the_others_are_asked(db, api) -> None:
    _granted_channel(db, "chP1", "cliP")
    _granted_channel(db, "chQ1", "cliQ")
    responses.get(f"{BASE}/partners/pa/clients/cliP/shared_client_numbers", status=503)
    responses.get(f"{BASE}/partners/pa/clients/cliQ/shared_client_numbers", json={"shared_client_numbers": ["chQ1"]})
    assert _asked(START, db, api) == ["cliQ"]
    assert due_clients(db, START + FIRST_WAIT, 10) == ["cliP"]
    assert db["permission_rechecks"].get("cliP")["outcome"] == "failed"


@responses.activate
def test_each_change_is_on_the_timeline_and_alerted_once(db, api) -> None:
    _granted_channel(db)
    now = datetime.now(UTC)
    responses.get(f"{BASE}/partners/pa/clients/cliP/shared_client_numbers", json={"shared_client_numbers": []})
    refresh_due_permissions(db, api, actor=person("scheduler"), now=now)
    [finding] = find_permission_changes(db, AlertSettings(), now).findings
    assert (finding.subject, finding.channel_id) == ("chP1/not_shared", "chP1")
    assert "granted -> not_shared" in finding.detail

    _shared("cliP", "chP1")
    refresh_due_permissions(db, api, actor=person("scheduler"), now=now + LONGEST_WAIT)
    [finding] = find_permission_changes(db, AlertSettings(), now + LONGEST_WAIT).findings
    assert finding.subject == "chP1/granted"
    assert "not_shared -> granted" in finding.detail
    details = [entry.detail for entry in channel_timeline(db, "chP1") if "->" in (entry.detail or "")]
    assert any("granted -> not_shared" in detail for detail in details)
    assert any("not_shared -> granted" in detail for detail in details)
    assert find_permission_changes(db, AlertSettings(), now + timedelta(days=8)).findings == []


def test_channels_an_older_version_marked_denied_after_a_403_are_unknown_with_the_refusal_kept(tmp_path) -> None:
    old = Database(sqlite3.connect(str(tmp_path / "old.db")))
    try:
        console_migrations.apply(old, stop_before="m028_key_refusals_and_permission_rechecks")
        with old.atomic():
            old["channels"].insert_all(
                [
                    {"id": "dCH", "status": "running", "permission": "denied", "permission_detail": "Channel is not in "
                     "running state", "updated_at": "2026-11-01T10:00:00+00:00"},
                    {"id": "gCH", "status": "running", "permission": "granted", "permission_detail": "listed"},
                ]
            )  # fmt: skip
        console_migrations.apply(old)
        denied, granted = (old["channels"].get(channel_id) for channel_id in ("dCH", "gCH"))
    finally:
        old.close()
    assert (denied["permission"], denied["key_refusal"]) == ("unknown", "Channel is not in running state")
    assert denied["key_refused_at"] == "2026-11-01T10:00:00+00:00"
    assert (granted["permission"], granted["key_refusal"]) == ("granted", None)
