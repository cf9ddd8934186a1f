"""The sandbox hub's outbox: retries with backoff, out-of-order deliveries, revocations, stuck channels."""

from __future__ import annotations

import json

import pytest
from sqlite_utils import Database

from services.onboarding.redirect_params import parse_redirect
from services.sandbox import outbox, state


def test_retry_delay_backs_off_and_is_capped() -> None:
    delays = [outbox.retry_delay(attempt) for attempt in range(1, 10)]
    assert delays[:3] == [2.0, 4.0, 8.0]
    assert delays == sorted(delays)
    assert max(delays) == 60.0


def test_mark_failed_pushes_the_delivery_back(sandbox_db: Database) -> None:
    outbox_id = outbox.enqueue_event(sandbox_db, "channel_created", {"id": "aCH"}, due_in=0)
    delivery = outbox.due_deliveries(sandbox_db)[0]
    outbox.mark_failed(sandbox_db, delivery, "receiver answered 500")
    assert outbox.due_deliveries(sandbox_db) == []
    row = sandbox_db["outbox"].get(outbox_id)
    assert (row["attempts"], row["last_error"]) == (1, "receiver answered 500")


def test_out_of_order_holds_back_and_reverses(sandbox_db: Database) -> None:
    first = outbox.enqueue_event(sandbox_db, "channel_created", {"id": "aCH"}, due_in=0)
    second = outbox.enqueue_event(sandbox_db, "channel_status_running", {"id": "aCH"}, due_in=0)
    assert outbox.due_deliveries(sandbox_db, out_of_order=True, hold=60) == []
    assert [row["id"] for row in outbox.due_deliveries(sandbox_db, out_of_order=True)] == [second, first]
    assert [row["id"] for row in outbox.due_deliveries(sandbox_db)] == [first, second]


def test_revocation_returns_the_redirect_query(sandbox_db: Database) -> None:
    client_id, (kept, withdrawn) = outbox.create_client_with_channels(
        sandbox_db, name="Two", numbers=["+49 1", "+49 2"], partner_payload=None, running_after=0
    )
    query = outbox.revoke_permission(sandbox_db, withdrawn)
    redirect = parse_redirect(query)
    assert (redirect.client, redirect.channels, redirect.revoked) == (client_id, (kept,), (withdrawn,))
    with pytest.raises(state.NotFound):
        outbox.revoke_permission(sandbox_db, "missingCH")


def test_never_running_schedules_no_running_transition(sandbox_db: Database) -> None:
    outbox.create_client_with_channels(
        sandbox_db, name="Stuck", numbers=["+49 3"], partner_payload=None, running_after=0, never_running=True
    )
    assert [row["event"] for row in sandbox_db["outbox"].rows] == ["client_created", "channel_created"]


def test_an_onboarding_is_told_step_by_step_over_the_running_delay(sandbox_db: Database) -> None:
    _, [channel_id] = outbox.create_client_with_channels(
        sandbox_db, name="Steps", numbers=["+49 151 4"], partner_payload=None, running_after=30
    )
    rows = list(sandbox_db["outbox"].rows_where(order_by="id"))
    assert [row["event"] for row in rows] == [
        "client_created",
        "channel_created",
        "channel_submitted",
        "channel_live",
        "channel_running",
    ]
    assert [row["channel_id"] for row in rows] == [None, *[channel_id] * 4]
    assert [row["apply_status"] for row in rows] == [None, None, "submitted", "ready", "running"]
    delays = [row["due_at"] - rows[0]["due_at"] for row in rows]
    assert [round(delay) for delay in delays] == [0, 0, 10, 20, 30]
    assert outbox.due_deliveries(sandbox_db) == rows[:2]


def test_the_hubs_channel_never_steps_back_when_webhooks_fall_due_out_of_order(sandbox_db: Database) -> None:
    _, [channel_id] = outbox.create_client_with_channels(
        sandbox_db, name="Backwards", numbers=["+49 151 5"], partner_payload=None, running_after=0
    )
    for delivery in outbox.due_deliveries(sandbox_db, out_of_order=True):
        outbox.apply_delivery_status(sandbox_db, delivery)
    assert sandbox_db["channels"].get(channel_id)["status"] == "running"


def test_account_and_template_triggers_name_the_number_and_the_waba(sandbox_db: Database) -> None:
    client_id, [channel_id] = outbox.create_client_with_channels(
        sandbox_db, name="Flagged", numbers=["+49 151 600 700"], partner_payload=None, running_after=0
    )
    restriction = outbox.account_alert(sandbox_db, channel_id, "account_restriction")
    assert restriction["phone_number"] == "49151600700"
    template = outbox.template_status_change(sandbox_db, channel_id, "rejected")
    assert template["waba_id"] == client_id + "WA"
    bodies = {row["event"]: json.loads(row["body"]) for row in sandbox_db["outbox"].rows}
    assert bodies["account_restriction"]["data"] == {"phone_number": "49151600700", "violation_type": "SCAM"}
    assert bodies["waba_template_status_changed"]["data"] == {
        "id": client_id + "WA",
        "template": {"name": "order_update", "language": "en", "status": "rejected"},
    }
    with pytest.raises(state.NotFound):
        outbox.template_status_change(sandbox_db, "missingCH", "approved")
